"""Tensor replay: a preallocated ring buffer of transitions living next to the learner.

RLlib's episode replay buffers keep per-step Python episode objects and cost tens of
milliseconds per sample; here a sample is one ``randint`` plus one ``index_select`` per field.
Episodes coming from the EnvRunners are turned into flat transition arrays once, on arrival
(``episodes_to_transitions``), and appended in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch

from rllib_sac_hybrid.spaces import ActionLayout, flatten_observation, observation_dims

Observation = torch.Tensor | dict[str, torch.Tensor]


class Batch(NamedTuple):
    """A batch of B transitions; observations are a tensor or a dict keyed like the encoder."""

    obs: Observation  # (B, obs_dim) or {key: (B, dim)}
    action: torch.Tensor  # (B, A) flat continuous action in [-1, 1]
    reward: torch.Tensor  # (B,)
    next_obs: Observation
    done: torch.Tensor  # (B,) 1.0 only on termination; time-limit truncation bootstraps
    discrete_action: torch.Tensor | None = None  # (B,) int64 index, when the action has a discrete part
    discrete_penalty: torch.Tensor | None = None  # (B,) added to the discrete critic's reward


def episodes_to_transitions(
    episodes: Iterable,
    observation_space: gym.Space,
    layout: ActionLayout,
    penalty_key: str = "discrete_penalty",
) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """Flattens RLlib episode chunks into transition arrays.

    Each chunk of length T holds T+1 observations; step t gives (o_t, a_t, r_t, o_{t+1}).
    ``done`` is 1 only on the last step of a *terminated* episode: a truncated episode (time
    limit) keeps bootstrapping from its true last observation, never from a reset. With a
    discrete action part, ``info[penalty_key]`` of step t (0 when absent) is kept as its
    ``discrete_penalty``.

    Returns:
        dict with ``obs``, ``next_obs`` (array or ``{key: array}``), ``action`` (n, A) float32 in
        env units, ``reward`` (n,) and ``done`` (n,) float32; with a discrete part also
        ``discrete_action`` (n,) int64 and ``discrete_penalty`` (n,) float32.
    """
    parts: dict[str, list] = {k: [] for k in ("obs", "next_obs", "action", "reward", "done")}
    if layout.has_discrete:
        parts.update(discrete_action=[], discrete_penalty=[])
    for episode in episodes:
        steps = len(episode)
        if steps == 0:
            continue
        all_obs = flatten_observation(episode.get_observations(slice(0, steps + 1)), observation_space)
        parts["obs"].append(_map(all_obs, lambda x: x[:-1]))
        parts["next_obs"].append(_map(all_obs, lambda x: x[1:]))
        continuous, discrete = layout.split(episode.get_actions(slice(0, steps)))
        parts["action"].append(continuous)
        parts["reward"].append(np.asarray(episode.get_rewards(slice(0, steps)), dtype=np.float32))
        done = np.zeros(steps, dtype=np.float32)
        done[-1] = float(episode.is_terminated)
        parts["done"].append(done)
        if layout.has_discrete:
            parts["discrete_action"].append(discrete)
            infos = episode.get_infos(slice(1, steps + 1))  # infos[0] belongs to the reset
            penalty = [float(info.get(penalty_key, 0.0)) if info else 0.0 for info in infos]
            parts["discrete_penalty"].append(np.asarray(penalty, dtype=np.float32))
    if not parts["obs"]:
        return {}
    return {name: _concat(values) for name, values in parts.items()}


def _map(x, fn):
    return {k: fn(np.asarray(v)) for k, v in x.items()} if isinstance(x, Mapping) else fn(np.asarray(x))


def _concat(parts: list):
    if isinstance(parts[0], Mapping):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


class TensorReplayBuffer:
    """Fixed-capacity FIFO ring buffer of transitions stored as preallocated torch tensors.

    Continuous actions are stored in env units (exact round trip) and rescaled to [-1, 1] when
    a batch is gathered; discrete actions are stored as int64 indices.

    Args:
        capacity: maximum number of transitions; the oldest are overwritten first.
        observation_space: the env's observation space (Box or Dict of Boxes).
        layout: the action layout (continuous size, discrete part, bounds).
        device: where the tensors live (the learner's device).
    """

    def __init__(
        self,
        capacity: int,
        observation_space: gym.Space,
        layout: ActionLayout,
        device: torch.device | str = "cpu",
    ) -> None:
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self._obs_dims = observation_dims(observation_space)
        self._obs_shapes = _leaf_shapes(observation_space)

        def obs_storage() -> Observation:
            tensors = {
                k: torch.zeros((self.capacity, *shape), dtype=torch.float32, device=self.device)
                for k, shape in self._obs_shapes.items()
            }
            return tensors[None] if None in tensors else tensors

        self.obs = obs_storage()
        self.next_obs = obs_storage()
        self.layout = layout
        self._action_bounds = layout.bounds(torch.float32, self.device)  # made once, used on every gather
        self.action = torch.zeros((self.capacity, layout.continuous_dim), dtype=torch.float32, device=self.device)
        self.reward = torch.zeros(self.capacity, dtype=torch.float32, device=self.device)
        self.done = torch.zeros(self.capacity, dtype=torch.float32, device=self.device)
        self.fields = ["obs", "next_obs", "action", "reward", "done"]
        if layout.has_discrete:
            self.discrete_action = torch.zeros(self.capacity, dtype=torch.int64, device=self.device)
            self.discrete_penalty = torch.zeros(self.capacity, dtype=torch.float32, device=self.device)
            self.fields += ["discrete_action", "discrete_penalty"]
        self.size = 0
        self.position = 0  # next slot to write
        self.num_added = 0  # lifetime count

    def __len__(self) -> int:
        return self.size

    def add(self, transitions: Mapping) -> None:
        """Appends transitions (the dict of ``episodes_to_transitions``), overwriting the oldest."""
        if not transitions:
            return
        n = len(transitions["reward"])
        if n > self.capacity:  # only the newest `capacity` transitions can be kept
            transitions = {k: _map(v, lambda x: x[-self.capacity :]) for k, v in transitions.items()}
            n = self.capacity
        idx = (self.position + torch.arange(n)) % self.capacity
        idx = idx.to(self.device)
        for name in self.fields:
            _write(getattr(self, name), idx, transitions[name], self.device)
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self.num_added += n

    def sample_indices(
        self, num_batches: int, batch_size: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Uniform indices (num_batches, batch_size), drawn with replacement in one call."""
        if self.size == 0:
            raise RuntimeError("Cannot sample from an empty replay buffer.")
        return torch.randint(0, self.size, (num_batches, batch_size), generator=generator, device=self.device)

    def gather(self, idx: torch.Tensor) -> Batch:
        """The transitions at ``idx`` (B,) as a ``Batch``, continuous actions in [-1, 1]."""
        discrete = self.layout.has_discrete
        return Batch(
            obs=_index(self.obs, idx),
            action=self.layout.normalize(self.action.index_select(0, idx), self._action_bounds),
            reward=self.reward.index_select(0, idx),
            next_obs=_index(self.next_obs, idx),
            done=self.done.index_select(0, idx),
            discrete_action=self.discrete_action.index_select(0, idx) if discrete else None,
            discrete_penalty=self.discrete_penalty.index_select(0, idx) if discrete else None,
        )

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """One uniform batch of ``batch_size`` transitions."""
        return self.gather(self.sample_indices(1, batch_size, generator)[0])

    def nbytes_per_transition(self) -> int:
        """Bytes of storage one transition takes."""
        tensors = [getattr(self, name) for name in self.fields if name not in ("obs", "next_obs")]
        for obs in (self.obs, self.next_obs):
            tensors += list(obs.values()) if isinstance(obs, dict) else [obs]
        return sum(t.element_size() * t[0].numel() for t in tensors)


def _leaf_shapes(space: gym.Space) -> dict[str | None, tuple[int, ...]]:
    if isinstance(space, gym.spaces.Box):
        return {None: tuple(space.shape)}
    shapes = {}
    for key, sub in space.spaces.items():
        for sub_key, shape in _leaf_shapes(sub).items():
            shapes[key if sub_key is None else f"{key}/{sub_key}"] = shape
    return shapes


def _write(storage, idx: torch.Tensor, values, device: torch.device) -> None:
    if isinstance(storage, dict):
        for k, t in storage.items():
            t.index_copy_(
                0,
                idx,
                torch.as_tensor(np.asarray(values[k]), dtype=t.dtype, device=device).reshape(len(idx), *t.shape[1:]),
            )
    else:
        storage.index_copy_(
            0,
            idx,
            torch.as_tensor(np.asarray(values), dtype=storage.dtype, device=device).reshape(
                len(idx), *storage.shape[1:]
            ),
        )


def _index(storage, idx: torch.Tensor):
    if isinstance(storage, dict):
        return {k: t.index_select(0, idx) for k, t in storage.items()}
    return storage.index_select(0, idx)
