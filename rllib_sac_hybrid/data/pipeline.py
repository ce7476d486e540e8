"""The batch pipeline: how each gradient step's batch is made from the replays, written once.

    sample rows -> gather (n-step) -> mix online and demonstration rows -> DrQ shift -> reward scale

The learner's online rounds and behaviour-cloning pretraining (demonstration rows only) both
draw their batches from ``batch_stream``. What the module itself does to a batch
(observation normalisation, a frozen backbone's features) follows in ``SACUpdater``, through
``module.prepare_batch``, because it needs the module's state.
"""

from __future__ import annotations

from collections.abc import Callable

from rllib_sac_hybrid.data.augment import shift_images
from rllib_sac_hybrid.data.batch import Batch, concat_batches
from rllib_sac_hybrid.data.replay import TensorReplayBuffer


def scale_rewards(batch: Batch, scale: float) -> Batch:
    """The batch with its rewards (and discrete penalties) multiplied by ``scale``."""
    penalty = batch.discrete_penalty * scale if batch.discrete_penalty is not None else None
    return batch._replace(reward=batch.reward * scale, discrete_penalty=penalty)


def batch_stream(
    num_batches: int,
    sources: list[tuple[TensorReplayBuffer, int]],
    image_pads: dict[str | None, int] | None = None,
    reward_scale: float | None = None,
) -> Callable[[], Batch]:
    """A function that returns the next of ``num_batches`` fresh batches on each call.

    Args:
        num_batches: batches the caller will draw (all their row indices are drawn at once).
        sources: (replay, rows per batch) pairs, concatenated in this order; sources with no
            rows are skipped (the online replay first, then the demonstration replay, whose
            rows ``bc_weight``'s term finds last).
        image_pads: image key -> DrQ random-shift padding (empty or None: no shift).
        reward_scale: every reward and discrete penalty multiplied by this (None: unscaled);
            fixed for the stream.
    """
    draws = [(replay, iter(replay.sample_indices(num_batches, rows))) for replay, rows in sources if rows > 0]
    if not draws:
        raise ValueError(f"batch_stream needs a source with rows > 0; sources={[rows for _, rows in sources]}.")
    pads = {key: pad for key, pad in (image_pads or {}).items() if pad}

    def next_batch() -> Batch:
        parts = [replay.gather(next(rows)) for replay, rows in draws]
        batch = parts[0]
        for part in parts[1:]:
            batch = concat_batches(batch, part)
        if pads:
            batch = shift_images(batch, pads)
        if reward_scale is not None:
            batch = scale_rewards(batch, reward_scale)
        return batch

    return next_batch
