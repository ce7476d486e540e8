"""Observation normalisation inside the module (``observation_normalization="running"``).

Observations on very different scales (a joint angle in radians next to a position in mm, or
RLlib's "lopsided" Pendulum in [-4000, -1456]) reach the encoder's first Linear -> LayerNorm as
a large offset with a small signal on top, and the networks barely see the signal. As SimBa and
BRO do, each vector observation key is standardised by a running mean and std before the
encoders; camera images are left alone (they are scaled to [0, 1] already).

Two halves, as for the reward scale:

- ``ObservationMoments`` (on the learner) counts every observation the learner receives, in
  float64, and is checkpointed with the learner;
- ``ObservationNormalizer`` (in the module) holds the float32 mean and std the forwards read, as
  buffers of the module: they travel to the EnvRunners with the weights and are saved in module
  checkpoints, so exploring, greedy and restored policies all see what the critics saw.

The learner writes the moments into the module once per round, before its updates: within a
round every update sees the same statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

# As RLlib's MeanStdFilter: a value beyond 10 std of what was seen is an outlier, not signal.
CLIP = 10.0
# A key that has (almost) not varied yet keeps scale 1: it is shifted, not blown up.
MIN_STD = 1e-6

NORMALIZATIONS = (None, "running")


def _key_name(key: str | None) -> str:
    return "" if key is None else key


class ObservationMoments:
    """Running count, mean and sum of squared deviations of each vector observation key, merged
    chunk by chunk (Chan et al.'s parallel update) in float64.

    Args:
        obs_dims: flat size per observation key (``spaces.observation_dims``).
        image_keys: keys that are camera images; they are not counted.
    """

    def __init__(self, obs_dims: Mapping[str | None, int], image_keys: Iterable[str | None] = ()) -> None:
        skip = set(image_keys)
        self.keys = sorted((k for k in obs_dims if k not in skip), key=_key_name)
        self.count = {k: 0 for k in self.keys}
        self.mean = {k: np.zeros(obs_dims[k]) for k in self.keys}
        self.m2 = {k: np.zeros(obs_dims[k]) for k in self.keys}

    def add(self, obs: np.ndarray | Mapping[str, np.ndarray]) -> None:
        """Adds a chunk of observations: (n, ...) for a Box, or ``{key: (n, ...)}`` (flattened keys)."""
        for key in self.keys:
            values = obs if key is None else obs[key]
            values = np.asarray(values, dtype=np.float64)
            n = len(values)
            if n == 0:
                continue
            values = values.reshape(n, -1)
            chunk_mean = values.mean(axis=0)
            chunk_m2 = ((values - chunk_mean) ** 2).sum(axis=0)
            total = self.count[key] + n
            delta = chunk_mean - self.mean[key]
            self.mean[key] = self.mean[key] + delta * (n / total)
            self.m2[key] = self.m2[key] + chunk_m2 + delta**2 * (self.count[key] * n / total)
            self.count[key] = total

    def loc_scale(self) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
        """Per key: (mean, std) as float32, std 1 where a component has not varied (or nothing was seen)."""
        out = {}
        for key in self.keys:
            count = self.count[key]
            std = np.sqrt(self.m2[key] / count) if count > 0 else np.ones_like(self.mean[key])
            std = np.where(std > MIN_STD, std, 1.0)
            out[key] = (self.mean[key].astype(np.float32), std.astype(np.float32))
        return out

    def get_state(self) -> dict[str, Any]:
        return {
            "keys": list(self.keys),
            "count": dict(self.count),
            "mean": {k: v.copy() for k, v in self.mean.items()},
            "m2": {k: v.copy() for k, v in self.m2.items()},
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        if list(state["keys"]) != self.keys:
            raise ValueError(
                f"saved observation statistics cover the keys {state['keys']}, this module's {self.keys}; "
                "allowed: a checkpoint of a module with the same observation space."
            )
        self.count = {k: int(v) for k, v in state["count"].items()}
        self.mean = {k: np.array(v, dtype=np.float64) for k, v in state["mean"].items()}
        self.m2 = {k: np.array(v, dtype=np.float64) for k, v in state["m2"].items()}


class ObservationNormalizer(nn.Module):
    """``clip((x - mean) / std, -10, 10)`` per vector observation key, images passed through.

    ``mean`` and ``std`` are buffers (saved and synced with the weights), 0 and 1 until the learner
    first sets them (``set_statistics``). Returns each normalised key flattened to (B, dim), as
    the encoder reads it.
    """

    def __init__(self, obs_dims: Mapping[str | None, int], image_keys: Iterable[str | None] = ()) -> None:
        super().__init__()
        skip = set(image_keys)
        self.keys = sorted((k for k in obs_dims if k not in skip), key=_key_name)
        # Buffers by index: observation keys may hold characters a buffer name may not ("." ).
        for i, key in enumerate(self.keys):
            self.register_buffer(f"mean_{i}", torch.zeros(obs_dims[key]))
            self.register_buffer(f"std_{i}", torch.ones(obs_dims[key]))

    def statistics(self) -> dict[str | None, tuple[torch.Tensor, torch.Tensor]]:
        """Per key: the (mean, std) the forward uses."""
        return {key: (getattr(self, f"mean_{i}"), getattr(self, f"std_{i}")) for i, key in enumerate(self.keys)}

    def set_statistics(self, loc_scale: Mapping[str | None, tuple[np.ndarray, np.ndarray]]) -> None:
        """Copies ``ObservationMoments.loc_scale()`` into the buffers."""
        for i, key in enumerate(self.keys):
            mean, std = loc_scale[key]
            getattr(self, f"mean_{i}").copy_(torch.as_tensor(mean))
            getattr(self, f"std_{i}").copy_(torch.as_tensor(std))

    def _normalize(self, i: int, x: torch.Tensor) -> torch.Tensor:
        mean, std = getattr(self, f"mean_{i}"), getattr(self, f"std_{i}")
        return ((x.flatten(1).float() - mean) / std).clamp(-CLIP, CLIP)

    def forward(self, obs):
        """Args: obs (B, ...) or a dict of such (flattened keys). Returns: the same with every
        vector key normalised."""
        if not self.keys:
            return obs
        if not isinstance(obs, Mapping):
            return self._normalize(0, obs)
        out = dict(obs)
        for i, key in enumerate(self.keys):
            out[key] = self._normalize(i, obs[key])
        return out
