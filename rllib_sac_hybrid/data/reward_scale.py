"""Reward scaling by the running standard deviation of discounted returns.

The critic learns the same task whatever the reward's units, if the rewards it sees have a
known scale: a task that pays 0.01 a step for progress and one that pays 100 then look alike
to the critic, to the temperature (whose entropy bonus is in reward units) and to the learning
rates. As PPO's ``VecNormalize`` and SimbaV2 do, each env step's discounted return
G_t = gamma * G_{t-1} + r_t is tracked per episode, and the rewards of every sampled batch are
divided by the running standard deviation of G (Welford, over all steps stored so far). The
discrete penalty is scaled with them, so the discrete critic keeps its reward's proportions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

MIN_STD = 1e-2  # a task with (almost) constant returns is not blown up
MAX_OPEN_EPISODES = 10_000


class ReturnScale:
    """Running std of discounted returns; ``scale`` = 1 / max(std, MIN_STD) (1 until 2 steps seen).

    Args:
        discount: gamma of the returns.
    """

    def __init__(self, discount: float) -> None:
        self.discount = float(discount)
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self._returns: dict[Any, float] = {}  # episode id -> G of its last step seen

    @property
    def scale(self) -> float:
        if self.count < 2:
            return 1.0
        return 1.0 / max(math.sqrt(self.m2 / (self.count - 1)), MIN_STD)

    def add(self, transitions: Mapping[str, Any]) -> None:
        """Updates the statistics with the rows of ``data.transitions.episodes_to_transitions`` (in order)."""
        rewards = np.asarray(transitions.get("reward", ()), dtype=np.float64)
        if rewards.size == 0:
            return
        ids = transitions.get("episode_id")
        ends = transitions.get("episode_end")
        for t, reward in enumerate(rewards):
            key = ids[t] if ids is not None else None
            g = self.discount * self._returns.get(key, 0.0) + reward
            self.count += 1
            delta = g - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (g - self.mean)
            if ends is not None and ends[t]:
                self._returns.pop(key, None)
            else:
                self._returns[key] = g
        while len(self._returns) > MAX_OPEN_EPISODES:  # episodes that never continued
            del self._returns[next(iter(self._returns))]

    def get_state(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2, "returns": dict(self._returns)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.count, self.mean, self.m2 = int(state["count"]), float(state["mean"]), float(state["m2"])
        self._returns = dict(state["returns"])
