"""Complete checkpoints: a run restored in a fresh process continues exactly as if uninterrupted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS

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


def test_seeded_runs_are_reproducible(ray_session):
    """Same seed, same losses, temperatures and returns - random warm-up actions included."""
    runs = []
    for _ in range(2):
        algo = resume_config(num_random_steps=100).build_algo()
        try:
            results = [algo.train() for _ in range(3)]
        finally:
            algo.stop()
        runs.append([(summary(r), r["env_runners"].get("episode_return_mean")) for r in results])
    assert runs[0] == runs[1]
    assert runs[0][-1][1] is not None  # episodes finished, so returns were compared too
