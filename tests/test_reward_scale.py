"""Reward scaling: the running std of discounted returns, by hand; what the learner trains on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.data.batch import Batch
from rllib_sac_hybrid.data.pipeline import scale_rewards
from rllib_sac_hybrid.data.reward_scale import ReturnScale


def test_return_std_over_interleaved_chunks_matches_a_hand_count():
    gamma = 0.9
    rng = np.random.default_rng(0)
    episodes = {"a": rng.normal(size=7), "b": rng.normal(size=5) * 10, "c": rng.normal(size=3)}
    stats = ReturnScale(gamma)
    # Chunks of the three episodes arrive interleaved, as from several runners.
    order = [("a", 0, 3), ("b", 0, 2), ("a", 3, 7), ("c", 0, 3), ("b", 2, 5)]
    for name, start, stop in order:
        rewards = episodes[name][start:stop]
        ends = np.zeros(len(rewards), bool)
        ends[-1] = stop == len(episodes[name])
        stats.add({"reward": rewards, "episode_id": np.full(len(rewards), name, object), "episode_end": ends})
    returns = []
    for rewards in episodes.values():
        g = 0.0
        for r in rewards:
            g = gamma * g + r
            returns.append(g)
    assert stats.count == len(returns)
    assert stats.scale == pytest.approx(1.0 / np.std(returns, ddof=1))
    restored = ReturnScale(gamma)
    restored.set_state(stats.get_state())
    assert restored.scale == stats.scale


def test_tiny_returns_are_not_blown_up_and_the_penalty_scales_too():
    stats = ReturnScale(0.99)
    assert stats.scale == 1.0  # nothing seen yet
    stats.add({"reward": np.full(50, 1e-6)})
    assert stats.scale == pytest.approx(100.0)  # std floored at 0.01
    zeros = torch.zeros(2, 1)
    penalty, index = torch.tensor([0.0, -0.5]), torch.zeros(2, dtype=torch.long)
    batch = Batch(zeros, zeros, torch.tensor([1.0, -2.0]), zeros, torch.zeros(2), index, penalty)
    scaled = scale_rewards(batch, 0.5)
    torch.testing.assert_close(scaled.reward, torch.tensor([0.5, -1.0]))
    torch.testing.assert_close(scaled.discrete_penalty, torch.tensor([0.0, -0.25]))


def test_learner_reports_the_scale_and_checkpoints_it(ray_session, tmp_path):
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .training(
            reward_scaling="return_std",
            encoder_latent_dim=8,
            actor_hidden_dims=(8,),
            critic_hidden_dims=(8,),
            num_random_steps=100,
        )  # fmt: skip
        .reporting(min_sample_timesteps_per_iteration=300)
    )
    algo = config.build_algo()
    try:
        scale = algo.train()["learners"][DEFAULT_MODULE_ID]["reward_scale"]
        # Pendulum pays -16..0 a step: discounted returns spread over tens of units.
        assert 0.0 < scale < 0.5
        stats = algo.learner_group._learner._return_scale[DEFAULT_MODULE_ID]
        assert stats.count == 300
        algo.save_to_path(str(tmp_path))
    finally:
        algo.stop()
    restored = config.build_algo()
    try:
        restored.restore_from_path(str(tmp_path))
        assert restored.learner_group._learner._return_scale[DEFAULT_MODULE_ID].get_state() == stats.get_state()
    finally:
        restored.stop()
    with pytest.raises(ValueError, match="reward_scaling='std'"):
        HybridSACConfig().training(reward_scaling="std").validate_hybrid_sac_settings()
