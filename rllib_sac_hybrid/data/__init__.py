"""Data on its way to the losses: transitions from episodes, the replay buffers, demonstrations,
and the batch pipeline (mixing, augmentation, reward scale) that makes each step's batch."""

from rllib_sac_hybrid.data.augment import DRQ_SHIFT_FRACTION, random_shift, shift_images, shift_pad_for
from rllib_sac_hybrid.data.batch import Batch, Latents, Observation, concat_batches, last_rows
from rllib_sac_hybrid.data.pipeline import batch_stream, scale_rewards
from rllib_sac_hybrid.data.replay import TensorReplayBuffer
from rllib_sac_hybrid.data.transitions import (
    CHECKED_FIELDS,
    CHUNK_KEYS,
    INTERVENTION_KEY,
    TELEOP_ACTION_KEY,
    concat_transitions,
    drop_transitions,
    episodes_to_transitions,
    non_finite_rows,
)

__all__ = [
    "CHECKED_FIELDS",
    "CHUNK_KEYS",
    "DRQ_SHIFT_FRACTION",
    "INTERVENTION_KEY",
    "TELEOP_ACTION_KEY",
    "Batch",
    "Latents",
    "Observation",
    "TensorReplayBuffer",
    "batch_stream",
    "concat_batches",
    "concat_transitions",
    "drop_transitions",
    "episodes_to_transitions",
    "last_rows",
    "non_finite_rows",
    "random_shift",
    "scale_rewards",
    "shift_images",
    "shift_pad_for",
]
