"""Windowed training metrics: the last K finished episodes across iterations and runners, by hand count."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.runtime.callbacks import EpisodeMetricsCallback
from rllib_sac_hybrid.runtime.episode_window import EpisodeWindow


def chunked_episode(rewards: list[float], success: bool | None, cut_at: int):
    """Two chunks of one episode (cut after ``cut_at`` steps), the last info with ``is_success``."""
    episode = SingleAgentEpisode()
    episode.add_env_reset(observation=np.zeros(1, np.float32))
    chunks = []
    for t, reward in enumerate(rewards):
        last = t == len(rewards) - 1
        info = {"is_success": success} if last and success is not None else {}
        episode.add_env_step(observation=np.zeros(1, np.float32), action=0, reward=reward, infos=info,
                             terminated=last)  # fmt: skip
        if t + 1 == cut_at and not last:
            chunks.append(episode)
            episode = episode.cut()
    chunks.append(episode)
    return chunks


def test_window_adds_chunks_across_calls_and_keeps_the_last_k():
    window = EpisodeWindow(3)
    assert math.isnan(window.metrics()["episode_return_windowed"])
    a = chunked_episode([1.0, 2.0, 3.0], True, cut_at=1)  # return 6, two chunks
    b = chunked_episode([10.0, 10.0], False, cut_at=1)  # return 20
    c = chunked_episode([-1.0], None, cut_at=1)  # no success flag: counts for return, not success
    d = chunked_episode([5.0, 5.0, 5.0, 5.0], True, cut_at=2)  # return 20
    window.add([a[0], b[0]])  # two runners' first chunks interleaved in one round
    window.add([b[1], c[0]])
    assert window.metrics()["num_episodes_windowed"] == 2  # b and c ended; a is still open
    window.add([a[1], d[0]])
    window.add([d[1]])
    m = window.metrics()
    # Ended in order b, c, a, d; the window of 3 holds c, a, d.
    assert m["episode_return_windowed"] == pytest.approx((-1 + 6 + 20) / 3)
    assert m["episode_success_rate_windowed"] == pytest.approx((0 + 1 + 1) / 3)  # b, a, d flags (c has none)
    assert m["episode_len_windowed"] == pytest.approx((1 + 3 + 4) / 3)
    assert m["num_episodes_finished_lifetime"] == 4
    restored = EpisodeWindow(3)
    restored.set_state(window.get_state())
    assert restored.metrics() == m


def classified_episode(classifier_says: bool, env_says: bool | None):
    """One one-step episode whose last info carries a learned reward's flag and, unless None, the env's."""
    episode = SingleAgentEpisode()
    episode.add_env_reset(observation=np.zeros(1, np.float32))
    info = {"is_success": classifier_says}
    if env_says is not None:
        info["env_is_success"] = env_says
    episode.add_env_step(observation=np.zeros(1, np.float32), action=0, reward=float(classifier_says),
                         infos=info, terminated=True)  # fmt: skip
    return episode


def test_with_a_classifier_the_window_reports_the_envs_success_and_the_classifiers_agreement():
    window = EpisodeWindow(5)
    assert "episode_env_success_rate_windowed" not in window.metrics()  # no classifier: no such metrics
    window.add([classified_episode(True, True)])  # the 5 classified episodes after it push it out
    window.add([classified_episode(c, e) for c, e in
                [(True, False), (True, True), (False, True), (False, False), (True, True)]])  # fmt: skip
    window.add([classified_episode(False, None)])  # no env flag: counts for success, not agreement
    m = window.metrics()
    # The last 5 episodes' classifier flags: T F F T F. The last 5 with both flags (classifier,
    # env): (T,F) (T,T) (F,T) (F,F) (T,T).
    assert m["episode_success_rate_windowed"] == pytest.approx(2 / 5)
    assert m["episode_env_success_rate_windowed"] == pytest.approx(3 / 5)
    assert m["reward_classifier_precision_windowed"] == pytest.approx(2 / 3)  # of its 3 successes, 2 real
    assert m["reward_classifier_recall_windowed"] == pytest.approx(2 / 3)  # of the env's 3, it caught 2
    restored = EpisodeWindow(5)
    restored.set_state(window.get_state())
    assert restored.metrics() == m
    older = window.get_state()
    del older["classified"]  # a checkpoint from before these metrics still restores
    restored.set_state(older)
    assert "reward_classifier_recall_windowed" not in restored.metrics()


class RecordReturns(EpisodeMetricsCallback):
    """Adds up every training episode's rewards step by step (the runner hands callbacks one
    chunk at a time) and records its return and success when it ends, in that order."""

    ended: list[tuple[float, float]] = []
    running: dict[str, float] = {}

    def on_episode_step(self, *, episode, **kwargs) -> None:
        RecordReturns.running[episode.id_] = RecordReturns.running.get(episode.id_, 0.0) + episode.get_rewards(-1)

    def on_episode_end(self, *, episode, **kwargs) -> None:
        super().on_episode_end(episode=episode, **kwargs)
        total = RecordReturns.running.pop(episode.id_)
        RecordReturns.ended.append((total, float(episode.get_infos(-1)["is_success"])))


def test_algorithm_reports_the_last_k_episodes_across_iterations(ray_session):
    """HybridSAC's windowed metrics equal the mean of the last K episodes counted by hand, while
    RLlib's own episode_return_mean covers only the episodes of the iteration."""
    assert issubclass(RecordReturns, RLlibCallback)
    RecordReturns.ended = []
    k = 7
    algo = (
        HybridSACConfig()
        .environment("rllib_sac_hybrid/PickPlace-v0", env_config={"max_episode_steps": 8})
        .training(num_random_steps=10_000)  # random actions: fast, and many episodes of varied returns
        .callbacks(RecordReturns)
        .reporting(min_sample_timesteps_per_iteration=40, metrics_num_episodes_for_smoothing=k)
        .debugging(seed=3)
        .build_algo()
    )
    try:
        differs = False
        for _ in range(8):
            runners = algo.train()["env_runners"]
            last = RecordReturns.ended[-k:]
            assert runners["num_episodes_windowed"] == len(last)
            assert runners["episode_return_windowed"] == pytest.approx(np.mean([r for r, _ in last]), rel=1e-5)
            assert runners["episode_success_rate_windowed"] == pytest.approx(np.mean([s for _, s in last]))
            assert runners["num_episodes_finished_lifetime"] == len(RecordReturns.ended)
            rllib_mean = runners.get("episode_return_mean")
            differs |= rllib_mean is not None and not math.isclose(rllib_mean, runners["episode_return_windowed"])
        assert len(RecordReturns.ended) > 2 * k
        assert differs  # RLlib's per-iteration mean is a different figure
    finally:
        algo.stop()


def test_success_flag_reads_the_first_known_key_and_none_when_absent():
    from rllib_sac_hybrid.runtime.callbacks import success_flag

    assert success_flag({"succeed": 1}) is True  # gym-hil's key
    assert success_flag({"is_success": False, "succeed": True}) is False  # the first key wins
    assert success_flag({"reward": 1.0}) is None and success_flag(None) is None
