"""The batch every loss reads (``Batch``), the encodings one critic step reuses (``Latents``),
and row operations on batches."""

from __future__ import annotations

from typing import NamedTuple

import torch

Observation = torch.Tensor | dict[str, torch.Tensor]


class Batch(NamedTuple):
    """A batch of B transitions; observations are a tensor or a dict keyed like the encoder."""

    obs: Observation  # (B, obs_dim) or {key: (B, dim)}
    action: torch.Tensor  # (B, A) flat continuous action in [-1, 1]; A = 0 for discrete-only actions
    reward: torch.Tensor  # (B,)
    next_obs: Observation
    done: torch.Tensor  # (B,) 1.0 only on termination; time-limit truncation bootstraps
    discrete_action: torch.Tensor | None = None  # (B, P) int64 indices, when the action has P discrete parts
    discrete_penalty: torch.Tensor | None = None  # (B, P) added to each part's discrete-critic reward
    # (B,) gamma^k of each row's bootstrap, k <= n the steps its n-step return spans; None: gamma (1-step).
    discount: torch.Tensor | None = None


class Latents(NamedTuple):
    """Every encoding one critic step needs, computed once per batch (``module.encode_batch``)."""

    obs: torch.Tensor  # (B, D) online encoder, with grad: the critic losses train it
    next_obs: torch.Tensor  # (B, D) online encoder, no grad
    next_actor: torch.Tensor  # (B, D') the actor's view of next_obs, no grad
    target_next_obs: torch.Tensor  # (B, D) target encoder, no grad


def concat_batches(first: Batch, second: Batch) -> Batch:
    """One batch of the rows of both (e.g. online rows, then demonstration rows)."""
    return Batch(*(_cat(a, b) for a, b in zip(first, second)))


def last_rows(batch: Batch, n: int) -> Batch:
    """The batch's last ``n`` rows (``concat_batches`` puts the demonstration rows last)."""
    return _tail(batch, n)


def _tail(x, n: int):
    """The last n rows of a tensor, or of every tensor in a dict or a NamedTuple of them (the
    ``Batch`` itself, and a frozen camera's ``BackboneFeatures``, which ``prepare_batch`` puts
    where the images were)."""
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: _tail(v, n) for k, v in x.items()}
    if isinstance(x, tuple):
        return type(x)(*(_tail(v, n) for v in x))
    return x[-n:]


def _cat(a, b):
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: torch.cat([a[k], b[k]]) for k in a}
    return torch.cat([a, b])
