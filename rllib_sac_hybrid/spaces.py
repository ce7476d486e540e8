"""Observation and action spaces: what HybridSAC supports and how actions map to tensors.

An action has a continuous part a_c (the actor's, in [-1, 1]^A inside the losses) and an
optional discrete part a_d (an index in [0, K), e.g. a gripper's close / stay / open).
``ActionLayout`` maps between the env's own action format and the pair (a_c, a_d):

- ``Box``: continuous only;
- ``Tuple(Box, Discrete)`` (either order) and a ``Dict`` with one Box and one Discrete entry;
- LeRobot / gym-hil's flat layout: a ``Box`` whose last component is a discrete index
  (opt-in with ``discrete_action_in_last_dim=True``), e.g. Box([-1,-1,-1,0], [1,1,1,2]).

The replay stores a_c in the env's own units (so a stored action round-trips exactly) and
a_d as an integer index; the learner rescales a_c to [-1, 1] when it gathers a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

SUPPORTED_OBSERVATION_SPACES = "a Box, or a Dict (possibly nested) whose leaves are Boxes"
SUPPORTED_ACTION_SPACES = (
    "a bounded float Box; Tuple(Box, Discrete); a Dict with one Box and one Discrete entry; or "
    "a bounded float Box whose last component is a discrete index (discrete_action_in_last_dim=True)"
)

BOX, TUPLE, DICT, BOX_LAST_DISCRETE = "box", "tuple", "dict", "box_last_discrete"


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


def image_shapes(space: gym.Space) -> dict[str | None, tuple[int, int, int]]:
    """The observation keys that are camera images - uint8 Boxes of shape (H, W, C) - and their
    shapes, keyed like ``observation_dims``."""
    if isinstance(space, gym.spaces.Box):
        is_image = space.dtype == np.uint8 and len(space.shape) == 3
        return {None: tuple(int(d) for d in space.shape)} if is_image else {}
    shapes: dict[str | None, tuple[int, int, int]] = {}
    if isinstance(space, gym.spaces.Dict):
        for key, sub in space.spaces.items():
            for sub_key, shape in image_shapes(sub).items():
                shapes[key if sub_key is None else f"{key}/{sub_key}"] = shape
    return shapes


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
    """How the env's action space splits into a continuous part and an optional discrete part.

    Attributes:
        space: the env's action space.
        kind: one of "box", "tuple", "dict", "box_last_discrete".
        continuous_dim: A, number of continuous components.
        num_discrete: K, number of discrete choices (0 when there is no discrete part).
        low, high: bounds of the continuous part, flat (A,).
        box_key, discrete_key: where the parts sit in a Tuple (index) or Dict (key).
        discrete_offset: env value of index 0 (``Discrete.start``, or the flat Box's last low).
    """

    space: gym.Space
    kind: str
    continuous_dim: int
    num_discrete: int
    low: np.ndarray
    high: np.ndarray
    box_key: Any = None
    discrete_key: Any = None
    discrete_offset: int = 0

    @property
    def has_discrete(self) -> bool:
        return self.num_discrete > 0

    @classmethod
    def from_space(cls, space: gym.Space, discrete_action_in_last_dim: bool = False) -> ActionLayout:
        """Raises ValueError naming the supported spaces when ``space`` is not one of them."""
        if isinstance(space, gym.spaces.Box):
            low, high = _check_box(space, "action_space")
            if not discrete_action_in_last_dim:
                return cls(space, BOX, low.size, 0, low, high)
            if len(space.shape) != 1 or space.shape[0] < 2:
                raise _unsupported(space, "discrete_action_in_last_dim needs a 1-D Box with at least 2 components")
            first, last = low[-1], high[-1]
            if first != round(first) or last != round(last):
                raise _unsupported(space, f"the last component's bounds [{first}, {last}] must be integers")
            return cls(space, BOX_LAST_DISCRETE, low.size - 1, int(last - first) + 1, low[:-1], high[:-1],
                       discrete_offset=int(first))  # fmt: skip
        if isinstance(space, (gym.spaces.Tuple, gym.spaces.Dict)):
            entries = (
                list(enumerate(space.spaces)) if isinstance(space, gym.spaces.Tuple) else list(space.spaces.items())
            )
            boxes = [k for k, s in entries if isinstance(s, gym.spaces.Box)]
            discretes = [k for k, s in entries if isinstance(s, gym.spaces.Discrete)]
            if len(entries) != 2 or len(boxes) != 1 or len(discretes) != 1:
                raise _unsupported(space, "it must hold exactly one Box and one Discrete")
            box, discrete = space[boxes[0]], space[discretes[0]]
            low, high = _check_box(box, "action_space")
            kind = TUPLE if isinstance(space, gym.spaces.Tuple) else DICT
            return cls(space, kind, low.size, int(discrete.n), low, high, boxes[0], discretes[0], int(discrete.start))
        raise _unsupported(space)

    # ---- module side: (a_c in [-1, 1], a_d index) -> env actions ------------------------------
    def to_env(self, continuous: torch.Tensor, discrete: torch.Tensor | None = None):
        """Actor actions (B, A) in [-1, 1] and discrete indices (B,) -> batched env actions.

        Returns a tensor for Box layouts, a tuple / dict of tensors for Tuple / Dict spaces.
        """
        low = torch.as_tensor(self.low, dtype=continuous.dtype, device=continuous.device)
        high = torch.as_tensor(self.high, dtype=continuous.dtype, device=continuous.device)
        box = (low + (continuous + 1.0) * 0.5 * (high - low)).clamp(low, high)
        if self.kind == BOX:
            return box.reshape(continuous.shape[0], *self.space.shape).to(_torch_dtype(self.space.dtype))
        if discrete is None:
            raise ValueError("This action space has a discrete part: pass the discrete indices.")
        if self.kind == BOX_LAST_DISCRETE:
            value = (discrete + self.discrete_offset).to(box.dtype).unsqueeze(-1)
            return torch.cat([box, value], dim=-1).to(_torch_dtype(self.space.dtype))
        box_space = self.space[self.box_key]
        box = box.reshape(continuous.shape[0], *box_space.shape).to(_torch_dtype(box_space.dtype))
        value = discrete.long() + self.discrete_offset
        if self.kind == TUPLE:
            parts = [None, None]
            parts[self.box_key], parts[self.discrete_key] = box, value
            return tuple(parts)
        return {self.box_key: box, self.discrete_key: value}

    # ---- storage side: env actions <-> (a_c in env units, a_d index) --------------------------
    def split(self, env_actions) -> tuple[np.ndarray, np.ndarray | None]:
        """Batched env actions -> continuous part (n, A) float32 in env units, indices (n,) int64."""
        if self.kind == BOX:
            a = np.asarray(env_actions, dtype=np.float32)
            return a.reshape(len(a), -1), None
        if self.kind == BOX_LAST_DISCRETE:
            a = np.asarray(env_actions, dtype=np.float32).reshape(len(env_actions), -1)
            index = np.rint(a[:, -1]).astype(np.int64) - self.discrete_offset
            return a[:, :-1].copy(), np.clip(index, 0, self.num_discrete - 1)
        box = np.asarray(env_actions[self.box_key], dtype=np.float32)
        index = np.asarray(env_actions[self.discrete_key], dtype=np.int64).reshape(-1) - self.discrete_offset
        return box.reshape(len(box), -1), index

    def split_one(self, env_action) -> tuple[np.ndarray, int | None]:
        """One (unbatched) env action -> continuous part (A,) in env units, index (or None)."""
        if self.kind in (BOX, BOX_LAST_DISCRETE):
            batch = np.asarray(env_action)[None]
        elif self.kind == TUPLE:
            batch = tuple(np.asarray(part)[None] for part in env_action)
        else:
            batch = {key: np.asarray(part)[None] for key, part in env_action.items()}
        continuous, discrete = self.split(batch)
        return continuous[0], None if discrete is None else int(discrete[0])

    def join(self, continuous: np.ndarray, discrete: np.ndarray | None = None):
        """Inverse of ``split``: stored parts -> batched env actions (numpy)."""
        if self.kind == BOX:
            return continuous.reshape(len(continuous), *self.space.shape).astype(self.space.dtype)
        if self.kind == BOX_LAST_DISCRETE:
            value = (discrete + self.discrete_offset).astype(continuous.dtype)[:, None]
            return np.concatenate([continuous, value], axis=1).astype(self.space.dtype)
        box_space = self.space[self.box_key]
        box = continuous.reshape(len(continuous), *box_space.shape).astype(box_space.dtype)
        value = (discrete + self.discrete_offset).astype(np.int64)
        if self.kind == TUPLE:
            parts = [None, None]
            parts[self.box_key], parts[self.discrete_key] = box, value
            return tuple(parts)
        return {self.box_key: box, self.discrete_key: value}

    def bounds(self, dtype: torch.dtype = torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The continuous bounds as tensors (A,); callers on a hot path make them once."""
        return (
            torch.as_tensor(self.low, dtype=dtype, device=device),
            torch.as_tensor(self.high, dtype=dtype, device=device),
        )

    def normalize(
        self, continuous: torch.Tensor, bounds: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Continuous part in env units (B, A) -> the actor's range [-1, 1].

        Args:
            bounds: ``self.bounds(...)`` made beforehand; made here when None.
        """
        low, high = bounds if bounds is not None else self.bounds(continuous.dtype, continuous.device)
        return (2.0 * (continuous - low) / (high - low) - 1.0).clamp(-1.0, 1.0)


def _check_box(space: gym.spaces.Box, field: str) -> tuple[np.ndarray, np.ndarray]:
    if not np.issubdtype(space.dtype, np.floating):
        raise _unsupported(space, f"Box dtype {space.dtype} is not a float type", field)
    low = space.low.astype(np.float64).reshape(-1)
    high = space.high.astype(np.float64).reshape(-1)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))) or np.any(high <= low):
        raise _unsupported(space, "Box bounds must be finite with high > low", field)
    return low, high


def _unsupported(space: gym.Space, why: str = "", field: str = "action_space") -> ValueError:
    reason = f" ({why})" if why else ""
    return ValueError(f"{field}: {space} is not supported by HybridSAC{reason}; supported: {SUPPORTED_ACTION_SPACES}.")


def _torch_dtype(np_dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=np_dtype)).dtype
