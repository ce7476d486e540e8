"""Data-parallel learners (``num_learners > 1``): the few collective operations HybridSAC needs.

RLlib starts one torch process group (gloo on CPU, NCCL on GPU) over its Learner actors. HybridSAC
does not wrap its module in DDP - its losses call the module's parts directly - and instead
averages each optimizer step's gradients itself, with one flat all-reduce per step. Every
learner then applies the same averaged gradient to the same weights, so weights, targets (Polyak
of identical weights) and temperature stay identical on all learners without any further sync.

All of HybridSAC's collectives run in a process group of its own over the same learners, made
with ``learner_collective_timeout_s`` (``use_timeout``): RLlib's group waits 30 minutes (gloo's
default), so a learner that died mid-step would leave the others hanging that long. Here a
collective that does not complete in time raises ``LearnerCollectiveError`` on the learners still
alive, and ``Algorithm.train()`` fails with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

_TIMEOUT_S: float = 300.0
_GROUP = None  # HybridSAC's own process group, made at the first collective


class LearnerCollectiveError(RuntimeError):
    """A collective between learners failed or timed out: another learner died or stalled."""


def use_timeout(timeout_s: float) -> None:
    """Bounds every later HybridSAC collective of this process by ``timeout_s`` seconds."""
    global _TIMEOUT_S, _GROUP
    _TIMEOUT_S, _GROUP = float(timeout_s), None


def _group():
    global _GROUP
    if _GROUP is None:  # every learner reaches its first collective on the same code path
        _GROUP = dist.new_group(timeout=timedelta(seconds=_TIMEOUT_S))
    return _GROUP


def _collective(what: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except RuntimeError as error:  # gloo: timed out, or a peer's connection closed
        raise LearnerCollectiveError(
            f"learner {rank()} of {world_size()}: the {what} failed (the peers did not all take part "
            f"within learner_collective_timeout_s={_TIMEOUT_S:g} s, or one's connection closed): another "
            f"learner died or stalled ({error})."
        ) from error


def world_size() -> int:
    """Learners in the process group; 1 when there is none (a single learner)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This learner's rank in the process group; 0 when there is none."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def broadcast_from_first_(tensors: Iterable[torch.Tensor]) -> None:
    """Overwrites ``tensors`` in place with rank 0's values (identical weights at the start)."""
    for tensor in tensors:
        _collective("broadcast of the initial weights", lambda t=tensor: dist.broadcast(t.data, src=0, group=_group()))


def average_gradients_(params: list[torch.nn.Parameter]) -> None:
    """Replaces each parameter's gradient by its mean over all learners, in one all-reduce.

    A parameter without a gradient counts as a zero gradient, so every learner reduces the same
    layout. A NaN / inf gradient on one learner makes the average non-finite on all of them,
    so all skip that optimizer step together (see ``update.SACUpdater._step``).
    """
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    _collective("all-reduce of the gradients", lambda: dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=_group()))
    flat.div_(world_size())
    torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]), grads)])


def shared_seed() -> int:
    """A random integer drawn on rank 0 and given to every learner (for draws all must agree on)."""
    seed = torch.randint(0, 2**62, (1,), dtype=torch.int64)
    _collective("broadcast of the shared seed", lambda: dist.broadcast(seed, src=0, group=_group()))
    return int(seed.item())


def split_rng_streams(learner_rank: int) -> None:
    """Gives this learner's torch / numpy / Python RNGs a stream of their own, derived from the
    current (possibly identical, e.g. seeded or restored) state and the rank: each learner then
    draws its own replay batches and policy noise, reproducibly."""
    base = int(torch.randint(0, 2**31 - 1, (1,)).item())
    seed = base * 1_000_003 + learner_rank
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
