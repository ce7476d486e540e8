"""Data-parallel learners (``num_learners > 1``): the few collective operations HybridSAC needs.

RLlib starts one torch process group (gloo on CPU, NCCL on GPU) over its Learner actors. HybridSAC
does not wrap its module in DDP - its losses call the module's parts directly - and instead
averages each optimizer step's gradients itself, with one flat all-reduce per step. Every
learner then applies the same averaged gradient to the same weights, so weights, targets (Polyak
of identical weights) and temperature stay identical on all learners without any further sync.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import numpy as np
import torch
import torch.distributed as dist


def world_size() -> int:
    """Learners in the process group; 1 when there is none (a single learner)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This learner's rank in the process group; 0 when there is none."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def broadcast_from_first_(tensors: Iterable[torch.Tensor]) -> None:
    """Overwrites ``tensors`` in place with rank 0's values (identical weights at the start)."""
    for tensor in tensors:
        dist.broadcast(tensor.data, src=0)


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
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(world_size())
    torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]), grads)])


def shared_seed() -> int:
    """A random integer drawn on rank 0 and given to every learner (for draws all must agree on)."""
    seed = torch.randint(0, 2**62, (1,), dtype=torch.int64)
    dist.broadcast(seed, src=0)
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
