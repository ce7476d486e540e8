"""Observation and action spaces: what HybridSAC supports and how actions map to flat tensors.

The learner only ever sees a *flat* continuous action in [-1, 1]^A (the actor's tanh range).
``ActionLayout`` converts between that and the env's own action format; the RLModule uses it
to emit env actions, the algorithm uses it to turn stored env actions back into flat ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

SUPPORTED_OBSERVATION_SPACES = "a Box, or a Dict (possibly nested) whose leaves are Boxes"
SUPPORTED_ACTION_SPACES = "a bounded float Box (finite low and high)"


def observation_dims(space: gym.Space) -> dict[str | None, int]:
    """Flat size per observation key: ``{None: n}`` for a Box, ``{"a/b": n, ...}`` for a Dict.

    Raises:
        ValueError: for any other space, naming the supported ones.
    """
    if isinstance(space, gym.spaces.Box):
        return {None: int(np.prod(space.shape, dtype=np.int64))}
    if isinstance(space, gym.spaces.Dict) and len(space.spaces) > 0:
        dims: dict[str | None, int] = {}
        for key, sub in space.spaces.items():
            for sub_key, dim in observation_dims(sub).items():
                dims[key if sub_key is None else f"{key}/{sub_key}"] = dim
        return dims
    raise ValueError(
        f"observation_space: {space} is not supported by HybridSAC; supported: {SUPPORTED_OBSERVATION_SPACES}."
    )


def flatten_observation(obs, space: gym.Space):
    """Nested dict observation -> ``{"a/b": array}`` matching ``observation_dims``; Box unchanged."""
    if isinstance(space, gym.spaces.Box):
        return obs
    flat = {}
    for key, sub in space.spaces.items():
        value = flatten_observation(obs[key], sub)
        if isinstance(value, dict):
            flat.update({f"{key}/{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


@dataclass(frozen=True)
class ActionLayout:
    """How the env's action space maps onto the flat continuous action the actor produces.

    Attributes:
        space: the env's action space.
        continuous_dim: number of continuous components A.
        low, high: the Box bounds, flat (A,).
    """

    space: gym.Space
    continuous_dim: int
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def from_space(cls, space: gym.Space) -> ActionLayout:
        """Raises ValueError naming the supported spaces when ``space`` is not one of them."""
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(
                f"action_space: {space} is not supported by HybridSAC; supported: {SUPPORTED_ACTION_SPACES}."
            )
        if not np.issubdtype(space.dtype, np.floating):
            raise ValueError(
                f"action_space: Box dtype {space.dtype} is not supported; supported: {SUPPORTED_ACTION_SPACES}."
            )
        low = space.low.astype(np.float64).reshape(-1)
        high = space.high.astype(np.float64).reshape(-1)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))) or np.any(high <= low):
            raise ValueError(
                f"action_space: Box bounds must be finite with high > low (got low={space.low}, "
                f"high={space.high}); supported: {SUPPORTED_ACTION_SPACES}."
            )
        return cls(space=space, continuous_dim=low.size, low=low, high=high)

    def to_env(self, flat: torch.Tensor) -> torch.Tensor:
        """Flat actor actions (B, A) in [-1, 1] -> env actions (B, *shape) within the bounds."""
        low = torch.as_tensor(self.low, dtype=flat.dtype, device=flat.device)
        high = torch.as_tensor(self.high, dtype=flat.dtype, device=flat.device)
        env = low + (flat + 1.0) * 0.5 * (high - low)
        return env.clamp(low, high).reshape(flat.shape[0], *self.space.shape).to(_torch_dtype(self.space.dtype))

    def to_flat(self, env_actions: np.ndarray) -> np.ndarray:
        """Env actions (B, *shape) -> flat (B, A) float32 in [-1, 1] (inverse of ``to_env``)."""
        a = np.asarray(env_actions, dtype=np.float64).reshape(len(env_actions), -1)
        flat = 2.0 * (a - self.low) / (self.high - self.low) - 1.0
        return np.clip(flat, -1.0, 1.0).astype(np.float32)


def _torch_dtype(np_dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=np_dtype)).dtype
