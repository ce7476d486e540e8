"""HybridSAC through RLlib and Tune: train() results, weight sync, registration, bad spaces."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray import tune
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.utils.test_utils import check_train_results_new_api_stack

import rllib_sac_hybrid
from rllib_sac_hybrid import HybridSACConfig
from tests.conftest import tensorboard_scalars

SMALL = dict(
    encoder_latent_dim=32,
    actor_hidden_dims=(32, 32),
    critic_hidden_dims=(32, 32),
    num_critics=4,
    num_subsample_critics=2,
    utd_ratio=2,
    num_random_steps=50,
    train_batch_size_per_learner=32,
    replay_capacity=10_000,
)

LEARNER_METRICS = {
    "critic_loss",
    "actor_loss",
    "temperature_loss",
    "critic_grad_norm",
    "actor_grad_norm",
    "temperature_grad_norm",
    "temperature",
    "q_mean",
    "q_min",
    "q_max",
    "q_ensemble_std",
    "td_error_mean",
    "entropy",
    "replay_size",
}


def small_config(**overrides) -> HybridSACConfig:
    return (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .training(**{**SMALL, **overrides})
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )


def test_train_results_and_learner_metrics(ray_session):
    algo = small_config().build_algo()
    try:
        for _ in range(3):
            result = algo.train()
        check_train_results_new_api_stack(result)
        learner = result["learners"][DEFAULT_MODULE_ID]
        assert LEARNER_METRICS <= set(learner), LEARNER_METRICS - set(learner)
        assert all(np.isfinite(learner[k]) for k in LEARNER_METRICS)
        assert learner["replay_size"] == result["num_env_steps_sampled_lifetime"] == 300
        # one update per env step from the 50th (the last random one) on, utd 2 critic steps each
        assert learner["num_critic_steps_lifetime"] == 2 * (300 - 50 + 1)
    finally:
        algo.stop()


def test_weights_reach_env_runners_each_round(ray_session):
    config = small_config(env_runner_torch_threads=2).env_runners(num_env_runners=1)
    algo = config.build_algo()
    try:
        algo.train()
        # Ray starts a 1-CPU actor with one OpenMP thread; the setting is what changed it.
        threads = algo.env_runner_group.foreach_env_runner(lambda r: torch.get_num_threads(), local_env_runner=False)
        assert threads == [2]

        def runner_actor(runner):
            module = runner.module
            assert not hasattr(module, "critic") and not hasattr(module, "log_alpha")  # inference-only
            return {k: v.clone() for k, v in module.actor.state_dict().items()}

        learner_module = algo.learner_group._learner.module[DEFAULT_MODULE_ID]
        remote = algo.env_runner_group.foreach_env_runner(runner_actor, local_env_runner=False)[0]
        for name, value in learner_module.actor.state_dict().items():
            torch.testing.assert_close(remote[name], value)
        algo.train()
        remote_after = algo.env_runner_group.foreach_env_runner(runner_actor, local_env_runner=False)[0]
        assert any(not torch.equal(remote[k], remote_after[k]) for k in remote)
        for name, value in learner_module.actor.state_dict().items():
            torch.testing.assert_close(remote_after[name], value)
    finally:
        algo.stop()


def test_inference_is_deterministic_and_within_bounds(ray_session):
    algo = small_config().build_algo()
    try:
        algo.train()
        module = algo.get_module()
        obs = torch.randn(64, 3)
        a1 = module.forward_inference({"obs": obs})["actions"]
        a2 = module.forward_inference({"obs": obs})["actions"]
        assert torch.equal(a1, a2)
        explore = module.forward_exploration({"obs": obs}, t=0)["actions"]
        assert not torch.equal(a1, explore)
        for actions in (a1, explore):
            assert actions.shape == (64, 1)
            assert actions.min() >= -2.0 and actions.max() <= 2.0
    finally:
        algo.stop()


def test_registered_with_tune_and_trains(ray_session, tmp_path):
    assert tune.registry._global_registry.contains(tune.registry.TRAINABLE_CLASS, "HybridSAC")
    rllib_sac_hybrid.register()  # idempotent
    tuner = tune.Tuner(
        "HybridSAC",
        param_space=small_config(),
        run_config=tune.RunConfig(stop={"training_iteration": 2}, storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert not results.errors
    best = results.get_best_result(metric="training_iteration", mode="max")
    assert best.metrics["training_iteration"] == 2
    assert "critic_loss" in best.metrics["learners"][DEFAULT_MODULE_ID]
    # TensorBoard event files with the learner metrics, one value per iteration (the tensorboard extra)
    scalars = tensorboard_scalars(tmp_path)
    losses = [tag for tag in scalars if tag.endswith(f"learners/{DEFAULT_MODULE_ID}/critic_loss")]
    assert len(losses) == 1 and len(scalars[losses[0]]) == 2, sorted(scalars)[:20]
    assert all(math.isfinite(v) for v in scalars[losses[0]])


class _NestedActionEnv(gym.Env):
    """An action space HybridSAC refuses: a Tuple nested inside the action's Tuple."""

    observation_space = gym.spaces.Box(-1, 1, (3,))
    action_space = gym.spaces.Tuple(
        [gym.spaces.Box(-1, 1, (2,)), gym.spaces.Tuple([gym.spaces.Discrete(3), gym.spaces.Discrete(3)])]
    )

    def __init__(self, config=None):
        super().__init__()

    def reset(self, *, seed=None, options=None):
        return np.zeros(3, np.float32), {}

    def step(self, action):
        return np.zeros(3, np.float32), 0.0, False, False, {}


def test_unsupported_env_space_fails_with_clear_error(ray_session):
    config = HybridSACConfig().environment(_NestedActionEnv)
    with pytest.raises(ValueError, match="action_space.*nested Tuple / Dict is not supported; flatten it.*supported"):
        config.build_algo()


class _DictObsReachEnv(gym.Env):
    """Move a point to a goal; observations are a Dict of two Boxes."""

    observation_space = gym.spaces.Dict(
        {"pos": gym.spaces.Box(-1, 1, (2,), np.float32), "goal": gym.spaces.Box(-1, 1, (2,), np.float32)}
    )
    action_space = gym.spaces.Box(-0.1, 0.1, (2,), np.float32)

    def __init__(self, config=None):
        super().__init__()
        self._pos = self._goal = np.zeros(2, np.float32)
        self._t = 0

    def _obs(self):
        return {"pos": self._pos.copy(), "goal": self._goal.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._pos = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self._goal = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        self._pos = np.clip(self._pos + action, -1, 1).astype(np.float32)
        self._t += 1
        return self._obs(), -float(np.linalg.norm(self._pos - self._goal)), False, self._t >= 20, {}


def test_dict_observations_train_end_to_end(ray_session):
    config = small_config().environment(_DictObsReachEnv)
    algo = config.build_algo()
    try:
        result = algo.train()
        check_train_results_new_api_stack(result)
        module = algo.get_module()
        assert len(module.encoder.projections) == 2  # one projection per observation key
        obs = {"pos": torch.zeros(4, 2), "goal": torch.ones(4, 2)}
        actions = module.forward_inference({"obs": obs})["actions"]
        assert actions.shape == (4, 2) and actions.abs().max() <= 0.1
        assert np.isfinite(result["learners"][DEFAULT_MODULE_ID]["critic_loss"])
    finally:
        algo.stop()


def test_checkpoint_keeps_temperature_targets_and_optimizers(ray_session, tmp_path):
    algo = small_config(temperature_lr=1e-2).build_algo()
    try:
        algo.train()
        learner = algo.learner_group._learner
        module = learner.module[DEFAULT_MODULE_ID]
        assert module.log_alpha.item() != 0.0  # moved away from log(1.0)
        state = {k: v.clone() for k, v in module.state_dict().items()}
        assert {"log_alpha", "target_critic.out.weight", "target_encoder.projections.0.0.weight"} <= set(state)
        adam_steps = learner.get_optimizer(DEFAULT_MODULE_ID, "temperature").state_dict()["state"][0]["step"]
        path = algo.save_to_path(str(tmp_path / "ckpt"))
    finally:
        algo.stop()

    restored = rllib_sac_hybrid.HybridSAC.from_checkpoint(path)
    try:
        learner = restored.learner_group._learner
        module = learner.module[DEFAULT_MODULE_ID]
        for name, value in module.state_dict().items():
            torch.testing.assert_close(value, state[name], msg=name)
        restored_steps = learner.get_optimizer(DEFAULT_MODULE_ID, "temperature").state_dict()["state"][0]["step"]
        assert float(restored_steps) == float(adam_steps) > 0
        restored.train()  # and it keeps training
    finally:
        restored.stop()


def test_local_env_runner_acts_with_the_newest_weights(ray_session):
    """With everything in one process the runner shares the learner's tensors: no copy, never stale."""
    algo = small_config().build_algo()
    try:
        algo.train()
        runner_module = algo.env_runner.module
        learner_module = algo.learner_group._learner.module[DEFAULT_MODULE_ID]
        before = {k: v.clone() for k, v in runner_module.state_dict().items()}
        algo.train()
        after = runner_module.state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before)
        for name, value in after.items():
            assert torch.equal(value, learner_module.state_dict()[name]), name
        obs = torch.randn(5, 3)
        torch.testing.assert_close(
            runner_module.forward_inference({"obs": obs})["actions"],
            learner_module.forward_inference({"obs": obs})["actions"],
        )
    finally:
        algo.stop()


class _CountingEnv(gym.Env):
    """Observation = (unique episode number, step): a stored next observation is right iff it
    is (same number, step + 1). Episodes of 1-12 steps, ending terminated or truncated."""

    observation_space = gym.spaces.Box(-1e9, 1e9, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, config=None):
        config = config or {}
        self._base = 1_000_000 * (1 + getattr(config, "worker_index", 0)) + 10_000 * getattr(config, "vector_index", 0)
        self._episodes = 0
        self._rng = np.random.default_rng(self._base)

    def reset(self, *, seed=None, options=None):
        self._episodes += 1
        self._t, self._length = 0, int(self._rng.integers(1, 13))
        return self._obs(), {}

    def _obs(self):
        return np.array([self._base + self._episodes, self._t], np.float32)

    def step(self, action):
        self._t += 1
        end = self._t >= self._length
        return self._obs(), 0.0, end and self._length % 2 == 0, end and self._length % 2 == 1, {}


def test_replay_next_observations_are_right_with_remote_vector_runners(ray_session):
    """Two remote EnvRunners with two envs each, one-step fragments: each observation is stored
    once, and every stored row's next observation is the step that followed it in its episode."""
    config = (
        small_config(num_random_steps=1000, replay_capacity=300)
        .environment(_CountingEnv)
        .env_runners(num_env_runners=2, num_envs_per_env_runner=2, rollout_fragment_length=1)
    )
    algo = config.build_algo()
    try:
        algo.train()  # 100+ env steps, all random: the replay fills without updates
        algo.train()
        algo.train()
        algo.train()

        def stored(learner):
            replay = learner.replay(DEFAULT_MODULE_ID)
            rows = replay.sample_indices(1, len(replay) * 4)[0]
            batch = replay.gather(rows)
            return len(replay), replay.num_added, batch.obs.numpy(), batch.next_obs.numpy()

        size, added, obs, next_obs = list(algo.learner_group.foreach_learner(stored))[0].get()
    finally:
        algo.stop()
    assert added >= 400 and size == 300  # wrapped, and no row dropped early
    np.testing.assert_array_equal(next_obs[:, 0], obs[:, 0])
    np.testing.assert_array_equal(next_obs[:, 1], obs[:, 1] + 1)


def test_demo_trains_evaluates_greedily_and_saves(ray_session, tmp_path):
    from rllib_sac_hybrid import demo

    summary = demo.main(
        ["--env-steps", "300", "--steps-per-iteration", "150", "--eval-every", "300", "--eval-episodes", "3",
         "--set", "num_random_steps=100", "encoder_latent_dim=8", "--checkpoint-dir", str(tmp_path / "ckpt")]
    )  # fmt: skip
    assert summary["env_steps"] >= 300 and summary["greedy_episodes"] == 3
    assert 0.0 <= summary["greedy_success"] <= 1.0
    assert (tmp_path / "ckpt").is_dir()
