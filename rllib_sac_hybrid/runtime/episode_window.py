"""A window over the last K finished training episodes, across iterations and EnvRunners.

RLlib 2.60 reports ``env_runners/episode_return_mean`` as the mean of the episodes that ended
in *that* iteration: ``metrics_num_episodes_for_smoothing`` is not applied across iterations.
With one Pendulum episode per iteration the figure is a single episode's return, and a
threshold ("reached -200 at N env steps") or Tune's ranking then acts on one lucky episode.

``EpisodeWindow`` sees every episode chunk the algorithm stores, in the order it stores them,
adds up each episode's rewards across chunks (and rounds, and runners), and keeps the last K
finished episodes' returns, lengths and success flags. Its means are what HybridSAC reports as
``env_runners/episode_return_windowed`` and ``env_runners/episode_success_rate_windowed``, and
what the benchmarks, the demo and the sweep's default metric read.

With a learned reward (``reward_classifier=``) the success flag is the classifier's. Where the
env also reports its own (``info["env_is_success"]``, as a simulator does), the window keeps both
for the last K episodes that carry both. It reports the env's own success rate and how often the
two agree at the episodes' ends: the classifier's precision (of the episodes it ended as
successes, the share the env counts) and recall (of the env's successes, the share it caught).
A classifier the policy has learned to fool shows there long before a greedy evaluation shows it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

from rllib_sac_hybrid.runtime.callbacks import success_flag

RETURN_WINDOWED = "episode_return_windowed"
SUCCESS_RATE_WINDOWED = "episode_success_rate_windowed"
LENGTH_WINDOWED = "episode_len_windowed"
NUM_EPISODES_WINDOWED = "num_episodes_windowed"  # episodes in the window (at most K)
NUM_EPISODES_FINISHED = "num_episodes_finished_lifetime"
ENV_SUCCESS_RATE_WINDOWED = "episode_env_success_rate_windowed"  # the env's own flag, with a classifier
CLASSIFIER_PRECISION_WINDOWED = "reward_classifier_precision_windowed"
CLASSIFIER_RECALL_WINDOWED = "reward_classifier_recall_windowed"
ENV_SUCCESS_KEY = "env_is_success"  # reward.RewardClassifierVectorWrapper keeps the env's flag here
MAX_OPEN_EPISODES = 10_000


class EpisodeWindow:
    """Returns, lengths and successes of the last ``size`` finished episodes.

    Args:
        size: K, the number of finished episodes the means run over
            (``metrics_num_episodes_for_smoothing``).
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self._returns: deque[float] = deque(maxlen=self.size)
        self._lengths: deque[int] = deque(maxlen=self.size)
        self._successes: deque[float] = deque(maxlen=self.size)  # only episodes whose env reports success
        # (classifier's flag, env's own flag) of episodes that carry both
        self._classified: deque[tuple[bool, bool]] = deque(maxlen=self.size)
        self._open: dict[Any, tuple[float, int]] = {}  # episode id -> (return, length) of its chunks so far
        self.num_finished = 0

    def add(self, episodes: Iterable) -> None:
        """Adds episode chunks (RLlib ``SingleAgentEpisode`` or ``MultiAgentEpisode`` objects, in
        arrival order; a multi-agent episode's return is the sum over its agents, as RLlib's)."""
        for episode in episodes:
            steps = len(episode)
            total, length = self._open.pop(episode.id_, (0.0, 0))
            if steps:
                total += float(episode.get_return())  # this chunk's rewards
                length += steps
            if not episode.is_done:
                self._open[episode.id_] = (total, length)
                if len(self._open) > MAX_OPEN_EPISODES:  # chunks of a runner that died mid-episode
                    del self._open[next(iter(self._open))]
                continue
            self._returns.append(total)
            self._lengths.append(length)
            self.num_finished += 1
            last_info = episode.get_infos(-1) if steps else None
            success = success_flag(last_info)
            if success is not None:
                self._successes.append(float(success))
                if ENV_SUCCESS_KEY in last_info:
                    self._classified.append((success, bool(last_info[ENV_SUCCESS_KEY])))

    def metrics(self) -> dict[str, float]:
        """The window's means (NaN while it is empty) and its episode counts. With a classifier's
        and the env's flags, also the env's success rate and the classifier's precision (NaN while
        it called no episode a success) and recall (NaN while the env's flag said none)."""
        metrics = {
            RETURN_WINDOWED: _mean(self._returns),
            SUCCESS_RATE_WINDOWED: _mean(self._successes),
            LENGTH_WINDOWED: _mean(self._lengths),
            NUM_EPISODES_WINDOWED: len(self._returns),
            NUM_EPISODES_FINISHED: self.num_finished,
        }
        if self._classified:
            metrics[ENV_SUCCESS_RATE_WINDOWED] = _mean([float(env) for _, env in self._classified])
            metrics[CLASSIFIER_PRECISION_WINDOWED] = _mean([float(env) for c, env in self._classified if c])
            metrics[CLASSIFIER_RECALL_WINDOWED] = _mean([float(c) for c, env in self._classified if env])
        return metrics

    def get_state(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "returns": list(self._returns),
            "lengths": list(self._lengths),
            "successes": list(self._successes),
            "classified": list(self._classified),
            "open": dict(self._open),
            "num_finished": self.num_finished,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores ``get_state()``'s output (into a window of this window's size)."""
        self._returns = deque(state["returns"], maxlen=self.size)
        self._lengths = deque(state["lengths"], maxlen=self.size)
        self._successes = deque(state["successes"], maxlen=self.size)
        self._classified = deque((tuple(pair) for pair in state.get("classified", ())), maxlen=self.size)
        self._open = dict(state["open"])
        self.num_finished = int(state["num_finished"])


def _mean(values) -> float:
    return sum(values) / len(values) if values else math.nan
