"""Complete checkpoints: a run restored in a fresh process continues exactly as if uninterrupted."""

from __future__ import annotations

import json
import pathlib
import pickle
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS
from rllib_sac_hybrid.envs import PICK_PLACE_ID

COMPARED = (
    "critic_loss",
    "actor_loss",
    "temperature_loss",
    "temperature",
    "q_mean",
    "td_error_mean",
    "entropy",
    "replay_size",
    "num_critic_steps_lifetime",
    "num_policy_steps_lifetime",
)


def resume_config(**training) -> HybridSACConfig:
    small = dict(
        encoder_latent_dim=16,
        actor_hidden_dims=(16,),
        critic_hidden_dims=(16,),
        num_critics=3,
        num_subsample_critics=2,
        utd_ratio=2,
        policy_update_freq=2,
        num_random_steps=60,
        train_batch_size_per_learner=16,
        learner_torch_threads=1,
    )
    return (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .training(**{**small, **training})
        .env_runners(rollout_fragment_length=3)
        .reporting(min_sample_timesteps_per_iteration=90)
        .debugging(seed=7)
    )


def summary(result: dict) -> dict:
    learner = result["learners"][DEFAULT_MODULE_ID]
    out = {k: float(learner[k]) if k in learner else None for k in COMPARED}
    out["env_steps"] = float(result["num_env_steps_sampled_lifetime"])
    return out


RESTORE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import ray, torch
    torch.set_num_threads(1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    from ray.rllib.algorithms.algorithm import Algorithm
    import rllib_sac_hybrid  # registers HybridSAC
    from tests.test_checkpoint import summary
    algo = Algorithm.from_checkpoint(sys.argv[1])
    print("RESULT", json.dumps(summary(algo.train())))
    algo.stop()
    ray.shutdown()
    """
)


@pytest.mark.parametrize("hybrid", [False, True])
def test_restore_in_a_fresh_process_continues_exactly(ray_session, tmp_path, hybrid):
    """Train 2 iterations, save, train a 3rd; a fresh process restores the checkpoint and trains
    its 3rd: every loss, the temperature and the counters are bitwise equal."""
    config = resume_config()
    if hybrid:
        config = config.environment("rllib_sac_hybrid/PickPlace-v0").training(epsilon_decay_steps=300)
    algo = config.build_algo()
    try:
        algo.train()
        algo.train()
        algo.save_to_path(str(tmp_path / "checkpoint"))
        expected = summary(algo.train())
    finally:
        algo.stop()
    run = subprocess.run(
        [sys.executable, "-c", RESTORE_SCRIPT, str(tmp_path / "checkpoint")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, run.stderr[-3000:]
    restored = json.loads(lines[0][len("RESULT ") :])
    assert restored == expected


def test_checkpoint_holds_replay_counters_and_rng_unless_replay_is_off(ray_session, tmp_path):
    for keep in (True, False):
        algo = resume_config(checkpoint_replay=keep).build_algo()
        try:
            algo.train()
            state = algo.learner_group.get_state()["learner"]["hybrid_sac"]
        finally:
            algo.stop()
        assert state["updaters"][DEFAULT_MODULE_ID]["num_critic_steps"] > 0
        assert set(state["rng"]) == {"torch", "numpy", "python"}
        if keep:
            replay = state["replay"][DEFAULT_MODULE_ID]
            assert replay["num_added"] == 90 and np.asarray(replay["fields"]["reward"]).shape == (90,)
        else:
            assert state["replay"] == {}
    assert HYBRID_SAC_DEFAULTS["checkpoint_replay"] is True


@pytest.mark.parametrize("num_env_runners", [0, 2])
def test_seeded_runs_are_reproducible(ray_session, num_env_runners):
    """Same seed, same losses, temperatures and returns - random warm-up actions included, and with
    remote EnvRunners whose samples arrive in any order."""
    runs = []
    for _ in range(2):
        config = resume_config(num_random_steps=100).env_runners(num_env_runners=num_env_runners)
        algo = config.build_algo()
        try:  # enough iterations for each runner to finish a 200-step episode
            results = [algo.train() for _ in range(3 if num_env_runners == 0 else 5)]
        finally:
            algo.stop()
        runs.append([(summary(r), _finite_or_none(r["env_runners"]["episode_return_mean"])) for r in results])
    assert runs[0] == runs[1]
    assert runs[0][-1][1] is not None  # episodes finished, so returns were compared too


def _finite_or_none(value: float) -> float | None:
    """Episode returns are NaN until an episode ends (and NaN != NaN)."""
    return None if np.isnan(value) else float(value)


class _CrashOnceEnv(gym.Env):
    """Pendulum that raises once, mid-episode, on its 250th step; a marker file makes it once per test."""

    def __init__(self, config=None):
        self._env = gym.make("Pendulum-v1")
        self.observation_space, self.action_space = self._env.observation_space, self._env.action_space
        self._marker, self._steps = pathlib.Path(config["marker"]), 0

    def reset(self, *, seed=None, options=None):
        return self._env.reset(seed=seed, options=options)

    def step(self, action):
        self._steps += 1
        if self._steps == 250 and not self._marker.exists():
            self._marker.touch()
            raise RuntimeError("injected trial crash")
        return self._env.step(action)


def test_crashed_tune_trial_resumes_with_counters_buffer_and_temperature(ray_session, tmp_path):
    """A trial whose env raises at env step 250 fails; Tune restarts it from its last checkpoint
    (iteration 2, 180 env steps) and it goes on from there: counters and replay continue where
    they were instead of starting over, and the temperature has kept learning."""
    from ray import tune

    config = resume_config(temperature_lr=3e-3, temperature_init=1.0).environment(
        _CrashOnceEnv, env_config={"marker": str(tmp_path / "m")}
    )
    tuner = tune.Tuner(
        "HybridSAC",
        param_space=config,
        run_config=tune.RunConfig(
            stop={"training_iteration": 5},
            storage_path=str(tmp_path),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=1),
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
        ),
    )
    result = tuner.fit()[0]
    assert (tmp_path / "m").exists() and result.error is None  # it crashed, and recovered
    history = result.metrics_dataframe
    steps = history["num_env_steps_sampled_lifetime"].tolist()
    learner = result.metrics["learners"][DEFAULT_MODULE_ID]
    # iterations 1-2 (180 steps), the crash in iteration 3, then 3-5 again from the checkpoint
    assert steps[-1] == 450 and learner["replay_size"] == 450
    # as uninterrupted: learning starts with the 3-step round that crosses num_random_steps=60
    # (steps 58-60), then UTD 2 per env step
    assert learner["num_critic_steps_lifetime"] == 2 * (450 - 57)
    assert learner["temperature"] < 0.9  # kept learning from the restored log_alpha (starts at 1.0)


def test_restored_optimizers_take_the_learning_rates_of_the_new_config(ray_session, tmp_path):
    """Tune's PBT restores a good trial's checkpoint into a trial with new learning rates: the
    optimizers keep their Adam moments but step with the new rates (the saved state holds the old)."""
    algo = resume_config(actor_lr=1e-3, critic_lr=1e-3).build_algo()
    try:
        algo.train()
        algo.save_to_path(str(tmp_path))
    finally:
        algo.stop()
    algo = resume_config(actor_lr=5e-4, critic_lr=2e-4).build_algo()
    try:
        algo.restore_from_path(str(tmp_path))
        learner = algo.learner_group._learner
        for name, lr in (("actor", 5e-4), ("critic", 2e-4), ("temperature", 3e-4)):
            optimizer = learner.get_optimizer(DEFAULT_MODULE_ID, name)
            assert optimizer.param_groups[0]["lr"] == lr
            assert all(float(state["step"]) > 0 for state in optimizer.state.values())  # moments restored
        assert learner.updater(DEFAULT_MODULE_ID).optimizers["actor"] is learner.get_optimizer(
            DEFAULT_MODULE_ID, "actor"
        )
    finally:
        algo.stop()


@pytest.mark.parametrize(
    "key, before, env",
    [("critic_value_bins", None, "Pendulum-v1"), ("discrete_critic_reads_arm", False, PICK_PLACE_ID)],
)
def test_checkpoint_of_a_version_before_a_setting_restores_with_what_that_version_ran(
    ray_session, tmp_path, key, before, env
):
    """A checkpoint written before a setting existed (its config lacks the key) ran that
    version's networks (scalar heads; a discrete critic of the state alone): it restores with
    them, not with today's default where it differs ("auto"), and trains on."""
    algo = resume_config(**{key: before}).environment(env).build_algo()
    try:
        algo.train()
        algo.save_to_path(str(tmp_path))
    finally:
        algo.stop()
    ctor_file = tmp_path / "class_and_ctor_args.pkl"  # what an older version wrote: no such key
    saved = pickle.loads(ctor_file.read_bytes())
    del saved["ctor_args_and_kwargs"][0][0][key]
    ctor_file.write_bytes(pickle.dumps(saved))

    algo = Algorithm.from_checkpoint(str(tmp_path))
    try:
        assert getattr(algo.config, key) == before
        assert algo.train()["num_env_steps_sampled_lifetime"] > 90
    finally:
        algo.stop()
    new = HybridSACConfig().training(**{key: "auto"}).get_state()
    assert getattr(HybridSACConfig.from_state(new), key) == "auto"  # a checkpoint that has the key keeps it


def test_a_checkpoint_of_0_1_0_restores_and_trains(ray_session, tmp_path):
    """tests/data/checkpoint_v0_1_0 was written by version 0.1.0, whose pickles name classes by the
    flat layout (rllib_sac_hybrid.env_runner.HybridSACEnvRunner, ...callbacks...): it restores
    after the move into sub-packages and trains on from its counters."""
    import shutil

    source = pathlib.Path(__file__).parent / "data" / "checkpoint_v0_1_0"
    shutil.copytree(source, tmp_path / "checkpoint")
    algo = Algorithm.from_checkpoint(str(tmp_path / "checkpoint"))
    try:
        from rllib_sac_hybrid.runtime.env_runner import HybridSACEnvRunner

        assert isinstance(algo.config, HybridSACConfig) and algo.config.env_runner_cls is HybridSACEnvRunner
        result = algo.train()
        assert result["num_env_steps_sampled_lifetime"] > 40  # 40 before the save
        assert result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"] > 0
    finally:
        algo.stop()
