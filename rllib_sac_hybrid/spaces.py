"""Observation and action spaces: what HybridSAC supports and how actions map to tensors.

An action has a continuous part a_c (the actor's, in [-1, 1]^A inside the losses; A may be 0)
and P >= 0 discrete parts a_d = (a_1, ..., a_P), each an index in [0, K_p) (a gripper's close /
stay / open, a second gripper, a tool changer's mode). ``ActionLayout`` maps between the env's
own action format and the pair (a_c, a_d):

- ``Box``: continuous only;
- ``Discrete``, ``MultiDiscrete`` and ``MultiBinary`` (1-D): discrete only, one part per entry;
- a ``Tuple`` or ``Dict`` of at most one Box and any number of Discrete / MultiDiscrete /
  MultiBinary entries, in any order;
- LeRobot / gym-hil's flat layout: a ``Box`` whose last component is a discrete index
  (opt-in with ``discrete_action_in_last_dim=True``), e.g. Box([-1,-1,-1,0], [1,1,1,2]).

The replay stores a_c in the env's own units (so a stored action round-trips exactly) and a_d as
int64 indices (n, P); the learner rescales a_c to [-1, 1] when it gathers a batch. Each part's
index 0 is the env's lowest value (``Discrete.start``, ``MultiDiscrete.start``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

SUPPORTED_OBSERVATION_SPACES = "a Box, or a Dict (possibly nested) whose leaves are Boxes"
SUPPORTED_ACTION_SPACES = (
    "a bounded float Box; Discrete; a 1-D MultiDiscrete or MultiBinary; a flat Tuple or Dict of at most one "
    "bounded float Box and any number of Discrete / 1-D MultiDiscrete / MultiBinary entries (e.g. Tuple(Box, "
    "Discrete), Tuple(Box, Discrete, Discrete)); or a bounded float Box whose last component is a discrete index "
    "(discrete_action_in_last_dim=True)"
)

BOX, TUPLE, DICT, BOX_LAST_DISCRETE = "box", "tuple", "dict", "box_last_discrete"
DISCRETE, MULTI_DISCRETE, MULTI_BINARY = "discrete", "multi_discrete", "multi_binary"
DISCRETE_KINDS = (DISCRETE, MULTI_DISCRETE, MULTI_BINARY)  # an entry that holds discrete parts
# The most joint choices a discrete-only space may have: its actor and critics output one value
# per joint choice (categorical SAC over the product of the parts).
MAX_JOINT_CHOICES = 4096


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
class Entry:
    """One entry of a Tuple / Dict action space: where it sits, what it is, which parts it holds."""

    key: Any  # the Tuple index or Dict key
    kind: str  # BOX or one of DISCRETE_KINDS
    first_part: int = 0  # its first discrete part's index in a_d
    num_parts: int = 0


@dataclass(frozen=True)
class ActionLayout:
    """How the env's action space splits into a continuous part and P discrete parts.

    Attributes:
        space: the env's action space.
        kind: one of "box", "box_last_discrete", "discrete", "multi_discrete", "multi_binary",
            "tuple", "dict".
        continuous_dim: A, number of continuous components (0: discrete only).
        discrete_sizes: K_p, the number of choices of each discrete part (empty: no discrete part).
        low, high: bounds of the continuous part, flat (A,).
        discrete_offsets: env value of each part's index 0 (``start``, or the flat Box's last low).
        entries: a Tuple / Dict space's entries, in the space's order.
        box_key: where the Box sits in a Tuple (index) or Dict (key), None without one.
    """

    space: gym.Space
    kind: str
    continuous_dim: int
    discrete_sizes: tuple[int, ...]
    low: np.ndarray
    high: np.ndarray
    discrete_offsets: tuple[int, ...] = ()
    entries: tuple[Entry, ...] = ()
    box_key: Any = None

    @property
    def has_discrete(self) -> bool:
        return len(self.discrete_sizes) > 0

    @property
    def has_continuous(self) -> bool:
        return self.continuous_dim > 0

    @property
    def discrete_only(self) -> bool:
        """No continuous part: SAC's actor and critics act on the joint discrete choice."""
        return self.has_discrete and not self.has_continuous

    @property
    def num_parts(self) -> int:
        return len(self.discrete_sizes)

    @property
    def num_joint_choices(self) -> int:
        """prod_p K_p: the number of joint discrete choices (1 without a discrete part)."""
        return math.prod(self.discrete_sizes)

    @classmethod
    def from_space(cls, space: gym.Space, discrete_action_in_last_dim: bool = False) -> ActionLayout:
        """Raises ValueError naming the supported spaces when ``space`` is not one of them."""
        if isinstance(space, gym.spaces.Box):
            low, high = _check_box(space, "action_space")
            if not discrete_action_in_last_dim:
                return cls(space, BOX, low.size, (), low, high)
            if len(space.shape) != 1 or space.shape[0] < 2:
                raise _unsupported(space, "discrete_action_in_last_dim needs a 1-D Box with at least 2 components")
            first, last = low[-1], high[-1]
            if first != round(first) or last != round(last):
                raise _unsupported(space, f"the last component's bounds [{first}, {last}] must be integers")
            return cls(space, BOX_LAST_DISCRETE, low.size - 1, (int(last - first) + 1,), low[:-1], high[:-1],
                       discrete_offsets=(int(first),))  # fmt: skip
        if discrete_action_in_last_dim:
            raise ValueError(
                f"discrete_action_in_last_dim=True reads a Box action's last component as the discrete index, but "
                f"action_space is {space}; allowed: False for this space."
            )
        if _discrete_kind(space) is not None:
            sizes, offsets = _discrete_parts(space, "action_space")
            return _checked_joint(cls(space, _discrete_kind(space), 0, sizes, _EMPTY, _EMPTY, offsets))
        if isinstance(space, (gym.spaces.Tuple, gym.spaces.Dict)):
            return cls._from_composite(space)
        raise _unsupported(space)

    @classmethod
    def _from_composite(cls, space: gym.spaces.Tuple | gym.spaces.Dict) -> ActionLayout:
        items = list(enumerate(space.spaces)) if isinstance(space, gym.spaces.Tuple) else list(space.spaces.items())
        if not items:
            raise _unsupported(space, "it is empty")
        entries, sizes, offsets = [], [], []
        box_key, low, high = None, _EMPTY, _EMPTY
        for key, sub in items:
            if isinstance(sub, gym.spaces.Box):
                if box_key is not None:
                    raise _unsupported(space, f"entries {box_key!r} and {key!r} are both Boxes; join them into one Box")
                low, high = _check_box(sub, f"action_space[{key!r}]")
                box_key = key
                entries.append(Entry(key, BOX))
            elif _discrete_kind(sub) is not None:
                part_sizes, part_offsets = _discrete_parts(sub, f"action_space[{key!r}]")
                entries.append(Entry(key, _discrete_kind(sub), len(sizes), len(part_sizes)))
                sizes += list(part_sizes)
                offsets += list(part_offsets)
            else:
                nested = isinstance(sub, (gym.spaces.Tuple, gym.spaces.Dict))
                why = f"entry {key!r} is a {type(sub).__name__}" + (
                    ": a nested Tuple / Dict is not supported; flatten it into one level" if nested else ""
                )
                raise _unsupported(space, why)
        kind = TUPLE if isinstance(space, gym.spaces.Tuple) else DICT
        layout = cls(space, kind, low.size, tuple(sizes), low, high, tuple(offsets), tuple(entries), box_key)
        return _checked_joint(layout) if layout.discrete_only else layout

    # ---- joint index of a discrete-only action ------------------------------------------------
    def joint_index(self, discrete: torch.Tensor) -> torch.Tensor:
        """Per-part indices (B, P) -> the joint choice (B,) in [0, prod K_p), part 0 the slowest."""
        index = discrete[..., 0]
        for p in range(1, self.num_parts):
            index = index * self.discrete_sizes[p] + discrete[..., p]
        return index

    def from_joint(self, index: torch.Tensor) -> torch.Tensor:
        """The joint choice (B,) -> per-part indices (B, P); inverse of ``joint_index``."""
        parts = []
        for size in reversed(self.discrete_sizes):
            parts.append(index % size)
            index = torch.div(index, size, rounding_mode="floor")
        return torch.stack(parts[::-1], dim=-1)

    # ---- module side: (a_c in [-1, 1], a_d indices) -> env actions ----------------------------
    def to_env(self, continuous: torch.Tensor, discrete: torch.Tensor | None = None):
        """Actor actions (B, A) in [-1, 1] and discrete indices (B, P) -> batched env actions.

        Returns a tensor for Box / Discrete / MultiDiscrete / MultiBinary layouts, a tuple / dict
        of tensors for Tuple / Dict spaces.
        """
        batch = continuous.shape[0]
        box = None
        if self.has_continuous:
            low = torch.as_tensor(self.low, dtype=continuous.dtype, device=continuous.device)
            high = torch.as_tensor(self.high, dtype=continuous.dtype, device=continuous.device)
            box = (low + (continuous + 1.0) * 0.5 * (high - low)).clamp(low, high)
        if self.kind == BOX:
            return box.reshape(batch, *self.space.shape).to(_torch_dtype(self.space.dtype))
        if discrete is None:
            raise ValueError("This action space has a discrete part: pass the discrete indices.")
        discrete = discrete.reshape(batch, self.num_parts)
        if self.kind == BOX_LAST_DISCRETE:
            value = (discrete[:, :1] + self.discrete_offsets[0]).to(box.dtype)
            return torch.cat([box, value], dim=-1).to(_torch_dtype(self.space.dtype))
        if self.kind in DISCRETE_KINDS:
            return self._discrete_entry_to_env(self.space, self.kind, discrete, 0)
        parts = {}
        for entry in self.entries:
            sub = self.space[entry.key]
            if entry.kind == BOX:
                parts[entry.key] = box.reshape(batch, *sub.shape).to(_torch_dtype(sub.dtype))
            else:
                parts[entry.key] = self._discrete_entry_to_env(sub, entry.kind, discrete, entry.first_part)
        return tuple(parts[i] for i in range(len(self.entries))) if self.kind == TUPLE else parts

    def _discrete_entry_to_env(self, sub: gym.Space, kind: str, discrete: torch.Tensor, first: int) -> torch.Tensor:
        if kind == DISCRETE:
            return discrete[:, first].long() + self.discrete_offsets[first]
        count = len(_discrete_parts(sub, "")[0])
        offsets = torch.tensor(self.discrete_offsets[first : first + count], dtype=torch.long, device=discrete.device)
        return (discrete[:, first : first + count].long() + offsets).to(_torch_dtype(sub.dtype))

    # ---- storage side: env actions <-> (a_c in env units, a_d indices) ------------------------
    def split(self, env_actions) -> tuple[np.ndarray, np.ndarray | None]:
        """Batched env actions -> continuous part (n, A) float32 in env units, indices (n, P) int64
        (None without a discrete part)."""
        if self.kind == BOX:
            a = np.asarray(env_actions, dtype=np.float32)
            return a.reshape(len(a), -1), None
        if self.kind == BOX_LAST_DISCRETE:
            a = np.asarray(env_actions, dtype=np.float32).reshape(len(env_actions), -1)
            index = np.rint(a[:, -1:]).astype(np.int64) - self.discrete_offsets[0]
            return a[:, :-1].copy(), np.clip(index, 0, self.discrete_sizes[0] - 1)
        if self.kind in DISCRETE_KINDS:
            values = np.asarray(env_actions, dtype=np.int64).reshape(len(env_actions), -1)
            return np.zeros((len(values), 0), np.float32), values - np.asarray(self.discrete_offsets, np.int64)
        n = len(env_actions[self.entries[0].key])
        box = np.zeros((n, 0), np.float32)
        discrete = np.zeros((n, self.num_parts), np.int64)
        for entry in self.entries:
            value = np.asarray(env_actions[entry.key])
            if entry.kind == BOX:
                box = value.astype(np.float32).reshape(n, -1)
            else:
                parts = slice(entry.first_part, entry.first_part + entry.num_parts)
                discrete[:, parts] = value.astype(np.int64).reshape(n, -1)
        return box, discrete - np.asarray(self.discrete_offsets, np.int64)

    def split_one(self, env_action) -> tuple[np.ndarray, np.ndarray | None]:
        """One (unbatched) env action -> continuous part (A,) in env units, indices (P,) (or None)."""
        if self.kind in (BOX, BOX_LAST_DISCRETE, *DISCRETE_KINDS):
            batch = np.asarray(env_action)[None]
        elif self.kind == TUPLE:
            batch = tuple(np.asarray(part)[None] for part in env_action)
        else:
            batch = {key: np.asarray(part)[None] for key, part in env_action.items()}
        continuous, discrete = self.split(batch)
        return continuous[0], None if discrete is None else discrete[0]

    def join(self, continuous: np.ndarray, discrete: np.ndarray | None = None):
        """Inverse of ``split``: stored parts -> batched env actions (numpy)."""
        n = len(continuous) if discrete is None else len(discrete)
        if self.kind == BOX:
            return continuous.reshape(n, *self.space.shape).astype(self.space.dtype)
        values = np.asarray(discrete, np.int64).reshape(n, -1) + np.asarray(self.discrete_offsets, np.int64)
        if self.kind == BOX_LAST_DISCRETE:
            return np.concatenate([continuous, values.astype(continuous.dtype)], axis=1).astype(self.space.dtype)
        if self.kind in DISCRETE_KINDS:
            return _discrete_values(self.space, self.kind, values)
        parts = {}
        for entry in self.entries:
            sub = self.space[entry.key]
            if entry.kind == BOX:
                parts[entry.key] = continuous.reshape(n, *sub.shape).astype(sub.dtype)
            else:
                own = values[:, entry.first_part : entry.first_part + entry.num_parts]
                parts[entry.key] = _discrete_values(sub, entry.kind, own)
        return tuple(parts[i] for i in range(len(self.entries))) if self.kind == TUPLE else parts

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


_EMPTY = np.zeros(0, dtype=np.float64)


def _discrete_kind(space: gym.Space) -> str | None:
    if isinstance(space, gym.spaces.Discrete):
        return DISCRETE
    if isinstance(space, gym.spaces.MultiDiscrete):
        return MULTI_DISCRETE
    if isinstance(space, gym.spaces.MultiBinary):
        return MULTI_BINARY
    return None


def _discrete_parts(space: gym.Space, field: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(K_p, offset_p) of each part of a Discrete / MultiDiscrete / MultiBinary space."""
    if isinstance(space, gym.spaces.Discrete):
        sizes, offsets = (int(space.n),), (int(space.start),)
    elif isinstance(space, gym.spaces.MultiDiscrete):
        if space.nvec.ndim != 1:
            raise _unsupported(space, f"a MultiDiscrete of shape {space.nvec.shape} must be 1-D", field)
        sizes, offsets = tuple(int(n) for n in space.nvec), tuple(int(s) for s in space.start)
    else:
        if len(space.shape) != 1:
            raise _unsupported(space, f"a MultiBinary of shape {space.shape} must be 1-D", field)
        sizes, offsets = (2,) * int(space.shape[0]), (0,) * int(space.shape[0])
    if not sizes or any(n < 2 for n in sizes):
        raise _unsupported(space, "every discrete part needs at least 2 choices", field)
    return sizes, offsets


def _discrete_values(space: gym.Space, kind: str, values: np.ndarray) -> np.ndarray:
    """Env values (n, parts) int64 -> the entry's batched actions in its own dtype and shape."""
    if kind == DISCRETE:
        return values[:, 0].astype(np.int64)
    return values.astype(space.dtype)


def _checked_joint(layout: ActionLayout) -> ActionLayout:
    if layout.num_joint_choices > MAX_JOINT_CHOICES:
        raise _unsupported(
            layout.space,
            f"a discrete-only action space is learned over its joint choices, here {layout.num_joint_choices} "
            f"> {MAX_JOINT_CHOICES}; add a continuous Box or use fewer choices",
        )
    return layout


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
