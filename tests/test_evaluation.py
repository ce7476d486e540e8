"""greedy_evaluation counts the distinct starts of its episodes and warns when there is only one."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest

from rllib_sac_hybrid.envs import PickPlaceEnv
from rllib_sac_hybrid.runtime.evaluation import greedy_evaluation
from tests.conftest import make_module


class IgnoresTheSeed(gym.Wrapper):
    """Every reset is the same reset, as in gym-hil's pick-cube with its fixed cube."""

    def reset(self, *, seed=None, options=None):
        return self.env.reset(seed=0, options=options)


def module_for(env: gym.Env):
    return make_module(env.observation_space, env.action_space)


def test_fresh_episodes_start_apart_and_no_warning():
    env = PickPlaceEnv()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = greedy_evaluation(module_for(env), env, episodes=5)
    assert result["distinct_starts"] == 5
    assert 0.0 <= result["success_rate"] <= 1.0


def test_one_repeated_episode_is_reported():
    env = IgnoresTheSeed(PickPlaceEnv())
    with pytest.warns(UserWarning, match="all 4 evaluation episodes started from the same observation"):
        result = greedy_evaluation(module_for(env), env, episodes=4)
    assert result["distinct_starts"] == 1
    assert result["success_rate"] in (0.0, 1.0)  # one deterministic episode, counted four times
