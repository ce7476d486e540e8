"""Bad input and failures: non-finite env data raises (naming field and runner) or is dropped."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from tests.test_algorithm import small_config


class _PoisonedEnv(gym.Env):
    """A 2-d reach task whose observation or reward turns NaN / inf every `every` steps."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, config=None):
        config = dict(config or {})
        self._field, self._every, self._steps = config.get("field", "obs"), config.get("every", 25), 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._pos, self._t = self.np_random.uniform(-1, 1, 2).astype(np.float32), 0
        return self._pos.copy(), {}

    def step(self, action):
        self._steps += 1
        self._t += 1
        self._pos = np.clip(self._pos + 0.1 * np.asarray(action, np.float32), -1, 1)
        obs, reward = self._pos.copy(), -float(np.linalg.norm(self._pos))
        if self._steps % self._every == 0:
            if self._field == "obs":
                obs[1] = np.nan
            else:
                reward = float("inf")
        return obs, reward, False, self._t >= 20, {}


def test_non_finite_observation_raises_naming_field_and_runner(ray_session):
    algo = small_config().environment(_PoisonedEnv, env_config={"field": "obs"}).build_algo()
    try:
        with pytest.raises(ValueError, match=r"EnvRunner 0 .* non-finite (next_)?obs") as err:
            algo.train()
        assert "non_finite_transitions='drop'" in str(err.value)
    finally:
        algo.stop()


@pytest.mark.parametrize("field", ["obs", "reward"])
def test_non_finite_transitions_are_dropped_and_counted(ray_session, field):
    config = (
        small_config(non_finite_transitions="drop")
        .environment(_PoisonedEnv, env_config={"field": field})
        .env_runners(num_env_runners=1)
    )
    algo = config.build_algo()
    try:
        result = algo.train()
        result = algo.train()

        def replay_is_finite(learner):
            replay = learner.replay(DEFAULT_MODULE_ID)
            batch = replay.gather(torch.arange(len(replay)))
            return len(replay), all(torch.isfinite(t).all().item() for t in (batch.obs, batch.next_obs, batch.reward))

        size, finite = list(algo.learner_group.foreach_learner(replay_is_finite))[0].get()
    finally:
        algo.stop()
    dropped = result["env_runners"]["num_non_finite_transitions_dropped_lifetime"]
    # A NaN observation spoils its two transitions, and the NaN actions the policy then takes spoil
    # the rest of that episode (the env's state turns NaN); an inf reward spoils just one.
    assert dropped >= (16 if field == "obs" else 8)
    assert finite and size == result["num_env_steps_sampled_lifetime"] - dropped
    learner = result["learners"][DEFAULT_MODULE_ID]
    assert np.isfinite(learner["critic_loss"]) and learner["critic_steps_skipped_lifetime"] == 0


class _CrashingEnv(_PoisonedEnv):
    """Raises mid episode on its `crash_at`-th step, like a simulator or robot link that dies."""

    def __init__(self, config=None):
        super().__init__({"every": 10**9})
        self._crash_at = dict(config or {}).get("crash_at", 120)

    def step(self, action):
        if self._steps + 1 == self._crash_at:
            raise RuntimeError("injected env failure")
        return super().step(action)


def test_failed_env_runner_is_replaced_and_stored_transitions_kept(ray_session):
    """Two remote EnvRunners whose envs die every 120 steps: RLlib restarts them, training goes on,
    and the replay only ever grows by what was sampled - nothing stored is lost."""
    config = (
        small_config()
        .environment(_CrashingEnv)
        .env_runners(num_env_runners=2)
        .fault_tolerance(restart_failed_env_runners=True)
    )
    algo = config.build_algo()
    sizes, sampled = [], []
    try:
        for _ in range(3):
            result = algo.train()
            sizes.append(result["learners"][DEFAULT_MODULE_ID]["replay_size"])
            sampled.append(result["num_env_steps_sampled_lifetime"])
        restarts = algo._counters["total_num_restored_workers"]
        weights_ok = algo.env_runner_group.foreach_env_runner(
            lambda runner: runner.module.actor.mean.weight.clone(), local_env_runner=False
        )
        learner_weight = algo.learner_group._learner.module[DEFAULT_MODULE_ID].actor.mean.weight
    finally:
        algo.stop()
    assert restarts >= 1
    assert sizes == sampled and sizes == sorted(sizes) and sizes[-1] >= 300
    for weight in weights_ok:  # every runner, restarted ones included, acts with the newest weights
        torch.testing.assert_close(weight, learner_weight.detach())
