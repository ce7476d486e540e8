"""Asynchronous sampling: runners step on while the learner trains; the UTD ratio holds against
the env steps received; the runners' weights follow the learner's."""

from __future__ import annotations

import numpy as np
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig
from tests.test_algorithm import small_config


def _actor_weight(runner) -> torch.Tensor:
    return runner.module.actor.mean.weight.detach().clone()


def test_async_sampling_keeps_utd_against_steps_received_and_updates_runner_weights(ray_session):
    utd = 3
    config = (
        small_config(utd_ratio=utd, num_random_steps=0, async_sampling=True, weights_push_every_rounds=2)
        .env_runners(num_env_runners=1, rollout_fragment_length=4)
        .reporting(min_sample_timesteps_per_iteration=200)
    )
    algo = config.build_algo()
    try:
        initial = algo.env_runner_group.foreach_env_runner(_actor_weight, local_env_runner=False)[0]
        seen, rows = [], []
        for _ in range(3):
            result = algo.train()
            learner = result["learners"][DEFAULT_MODULE_ID]
            rows.append(
                (result["num_env_steps_sampled_lifetime"], learner["replay_size"], learner["num_critic_steps_lifetime"])
            )
            seen.append(algo.env_runner_group.foreach_env_runner(_actor_weight, local_env_runner=False)[0])
        learner_weight = algo.learner_group._learner.module[DEFAULT_MODULE_ID].actor.mean.weight.detach()
    finally:
        algo.stop()
    for sampled, stored, critic_steps in rows:
        assert stored == sampled  # every step received is stored ...
        assert critic_steps == utd * sampled  # ... and trained on utd_ratio times (no warm-up here)
    assert rows[-1][0] >= 600
    # The runner acts with newer weights after each iteration, never ahead of the learner's.
    for before, after in zip([initial, *seen], seen):
        assert not torch.equal(before, after)
    assert not torch.equal(seen[-1], initial)
    assert np.isfinite(learner_weight.numpy()).all()


def test_disconnecting_robot_is_replaced_and_stored_transitions_kept(ray_session):
    """The simulated robot drops its link about every 0.3 s of stepping; RLlib makes the env anew
    inside the runner (restart_failed_sub_environments) and asynchronous training goes on."""
    from rllib_sac_hybrid.envs import SIM_ROBOT_ID
    from tests.conftest import TINY_NETS

    config = (
        HybridSACConfig()
        .environment(SIM_ROBOT_ID, env_config={"control_hz": 500.0, "disconnect_every_s": 0.3})
        .training(**TINY_NETS, train_batch_size_per_learner=16, num_random_steps=20, async_sampling=True)
        .env_runners(num_env_runners=1, rollout_fragment_length=4)
        .fault_tolerance(restart_failed_sub_environments=True)
        .reporting(min_sample_timesteps_per_iteration=300)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        rows = []
        for _ in range(3):
            result = algo.train()
            rows.append(
                (
                    result["num_env_steps_sampled_lifetime"],
                    result["learners"][DEFAULT_MODULE_ID]["replay_size"],
                    result["env_runners"].get("num_env_step_failures", 0),
                )
            )
    finally:
        algo.stop()
    assert all(stored == sampled for sampled, stored, _ in rows)
    assert rows[-1][0] >= 900 and rows[-1][2] >= 2  # several disconnects survived


def test_utd_ratio_max_trains_while_waiting_for_a_slow_robot_within_its_cap(ray_session):
    """A robot at 20 Hz: the learner (tiny nets, a few ms per update) waits most of each round
    (4 env steps, 200 ms). With utd_ratio 1 and utd_ratio_max 4 it fills the wait with further
    updates, up to 4 critic steps per env step trained on; without utd_ratio_max it runs exactly 1."""
    from rllib_sac_hybrid.envs import SIM_ROBOT_ID
    from tests.conftest import TINY_NETS

    def run(utd_ratio_max):
        config = (
            HybridSACConfig()
            .environment(SIM_ROBOT_ID, env_config={"control_hz": 20.0})
            .training(**TINY_NETS, train_batch_size_per_learner=16, num_random_steps=20, async_sampling=True,
                      utd_ratio=1, utd_ratio_max=utd_ratio_max)
            .env_runners(num_env_runners=1, rollout_fragment_length=4)
            .reporting(min_sample_timesteps_per_iteration=60)
            .debugging(seed=0)
        )  # fmt: skip
        algo = config.build_algo()
        try:
            result = algo.train()
            steps_trained, waiting = algo._steps_trained_on, algo._waiting_updates
        finally:
            algo.stop()
        return result, steps_trained, waiting

    result, steps_trained, waiting = run(4)
    critic_steps = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"]
    assert result["num_updates_while_waiting_lifetime"] == waiting > 0
    assert critic_steps == steps_trained + waiting <= 4 * steps_trained
    result, steps_trained, waiting = run(None)
    assert waiting == 0 and result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"] == steps_trained
