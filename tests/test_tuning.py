"""Tune sweeps (`tuning/`): a tiny sweep writes its table, plots and best checkpoint; that checkpoint
acts; searchers and schedulers run; bad arguments fail clearly; an interrupted sweep resumes."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid.envs import PICK_PLACE_ID
from rllib_sac_hybrid.tuning.space import SearchSpace
from rllib_sac_hybrid.tuning.sweep import (
    SweepSettings,
    base_config,
    concurrency,
    parse_args,
    run_sweep,
    trial_cpus,
)
from tests.conftest import tensorboard_scalars

TINY = {
    "encoder_latent_dim": 8,
    "actor_hidden_dims": (16,),
    "critic_hidden_dims": (16,),
    "num_random_steps": 50,
    "train_batch_size_per_learner": 32,
}
TINY_ARGS = [arg for name, value in TINY.items() for arg in ("--set", f"{name}={value}")]


def tiny_settings(tmp_path: Path, **overrides) -> SweepSettings:
    # Pendulum episodes last 200 steps: the first 100-step iteration of every trial ends none.
    settings = SweepSettings(
        env="Pendulum-v1",
        num_samples=2,
        max_env_steps=400,
        iteration_env_steps=100,
        fixed=dict(TINY),
        storage_path=str(tmp_path),
        name="tiny",
    )
    return dataclasses.replace(settings, **overrides)


def test_tiny_sweep_writes_table_plots_and_a_best_checkpoint_that_acts(ray_session, tmp_path):
    report = run_sweep(tiny_settings(tmp_path))
    folder = tmp_path / "tiny"
    table = pd.read_csv(folder / "results.csv")
    assert len(table) == 2 and set(table["status"]) == {"done"}
    swept = ["temperature_init", "actor_lr", "critic_lr", "temperature_lr"]
    assert all(name in table for name in swept)
    assert table["temperature_init"].nunique() == 2  # two samples of the space
    assert all(1e-3 <= v <= 1.0 for v in table["temperature_init"])
    ranks = list(zip(table["env_steps"], table["last_return"]))
    assert np.isfinite(table["last_return"]).all() and ranks == sorted(ranks, reverse=True)
    assert (table["best_return"] >= table["last_return"]).all()
    for name in ("learning_curves.png", "return_vs_params.png"):
        assert (folder / name).stat().st_size > 10_000
    for trial in (p for p in folder.iterdir() if p.is_dir() and list(p.rglob("events.out.tfevents*"))):
        scalars = tensorboard_scalars(trial)  # each trial's TensorBoard events carry its learner metrics
        assert any(tag.endswith(f"learners/{DEFAULT_MODULE_ID}/critic_loss") for tag in scalars), sorted(scalars)
    assert sum(1 for _ in folder.rglob("events.out.tfevents*")) == 2  # one per trial
    checkpoint = (folder / "best_checkpoint.txt").read_text().strip()
    assert checkpoint == report.best_checkpoint == table["checkpoint"][0]

    algo = Algorithm.from_checkpoint(checkpoint)
    try:  # the best trial's own settings, and a module that acts
        assert algo.config.temperature_init == pytest.approx(table["temperature_init"][0])
        assert algo.config.actor_lr == pytest.approx(table["actor_lr"][0])
        learner = algo.learner_group._learner
        assert learner.get_optimizer(DEFAULT_MODULE_ID, "actor").param_groups[0]["lr"] == pytest.approx(
            table["actor_lr"][0]
        )
        module = algo.get_module()
        obs = torch.as_tensor(np.stack([algo.env_runner.env.single_observation_space.sample() for _ in range(8)]))
        actions = module.forward_inference({"obs": obs})["actions"]
        assert actions.shape == (8, 1) and torch.all(actions.abs() <= 2.0)
    finally:
        algo.stop()


@pytest.mark.parametrize("search, scheduler", [("optuna", "fifo"), ("random", "pbt"), ("random", "pb2")])
def test_optuna_search_and_pbt_run(ray_session, tmp_path, search, scheduler):
    pytest.importorskip({"optuna": "optuna", "random": "sklearn" if scheduler == "pb2" else "ray"}[search])
    settings = tiny_settings(
        tmp_path,
        env=PICK_PLACE_ID if search == "optuna" else "Pendulum-v1",  # the built-in hybrid task too
        search=search,
        scheduler=scheduler,
        space=SearchSpace(
            ranges={"temperature_init": (1e-3, 1.0), "actor_lr": (1e-5, 3e-3)},
            grids={"utd_ratio": [1, 2]} if search == "optuna" else {},  # PBT: 2 trials, not 2 per grid point
        ),
        evaluation_episodes=1 if search == "optuna" else 0,
    )
    report = run_sweep(settings)
    table = report.table
    assert len(table) == 2
    if search == "optuna":  # a grid becomes a choice for Optuna
        assert set(table["utd_ratio"]) <= {1, 2}
    assert report.metric == (
        "evaluation/env_runners/episode_return_mean" if search == "optuna" else "env_runners/episode_return_windowed"
    )
    assert math.isfinite(table["last_return"][0]) and report.best_checkpoint


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--temperature-init", "1", "0.001"], "--temperature-init.*0 < LOW < HIGH"),
        (["--actor-lr", "-1", "0.1"], "--actor-lr.*0 < LOW < HIGH"),
        (["--critic-lr", "1e-4", "1e-3", "1e-2"], "--critic-lr.*LOW HIGH, or one value"),
        (["--temperature-lr", "fast"], "--temperature-lr 'fast' is not a number"),
        (["--search", "grid"], r"--search 'grid' is unknown; allowed: \['random', 'optuna'\]"),
        (["--scheduler", "hyperband"], "--scheduler 'hyperband' is unknown; allowed"),
        (["--utd-ratio", "0", "4"], "--utd-ratio.*distinct integers >= 1"),
        (["--set", "temprature_init=0.1"], "--set temprature_init=... is unknown; allowed"),
        (["--set", "utd_ratio"], "NAME=VALUE"),
        (["--set", "temperature_init=0.1"], "clashes with the search space"),
        (["--env", "NoSuchEnv-v0"], "--env 'NoSuchEnv-v0' is not registered"),
        (["--env-config", "[1, 2]"], "--env-config.*a JSON object"),
        (["--num-samples", "0"], "--num-samples 0 is invalid"),
        (
            ["--scheduler", "pbt", "--actor-lr", "1e-3", "--critic-lr", "1e-3", "--temperature-lr", "1e-3"],
            "--scheduler pbt needs a learning rate",
        ),
    ],
)
def test_bad_arguments_fail_with_clear_errors(argv, match):
    with pytest.raises(ValueError, match=match):
        parse_args(argv).validate()


def test_bad_fixed_setting_fails_before_any_trial(tmp_path):
    with pytest.raises(ValueError, match="utd_ratio=0 is invalid"):
        run_sweep(tiny_settings(tmp_path, fixed={**TINY, "utd_ratio": 0}))


def test_resume_needs_an_earlier_sweep(ray_session, tmp_path):
    with pytest.raises(ValueError, match="--resume: no sweep to continue"):
        run_sweep(tiny_settings(tmp_path, name="never_ran", resume=True))


def test_interrupted_sweep_resumes(tmp_path):
    """A sweep stopped by Ctrl-C mid-way (SIGINT to its process) continues with --resume: every
    trial ends at its env-step budget and no trial starts over."""
    args = [
        sys.executable,
        "-m",
        "rllib_sac_hybrid.tuning.sweep",
        "--num-samples",
        "2",
        "--max-env-steps",
        "800",
        "--iteration-env-steps",
        "100",
        "--scheduler",
        "fifo",
        "--storage-path",
        str(tmp_path),
        "--name",
        "cut",
        *TINY_ARGS,
    ]
    env = {**os.environ, "RAY_ADDRESS": "local", "PYTHONPATH": str(Path(__file__).parents[1])}
    # The first run fixes temperature_lr; --resume alone must continue the sweep it saved.
    process = subprocess.Popen(
        [*args, "--temperature-lr", "3e-4"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 240
        while not list((tmp_path / "cut").glob("*/checkpoint_000002")):
            assert process.poll() is None, "the sweep ended before it could be interrupted"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    cut_table = pd.read_csv(tmp_path / "cut" / "results.csv") if (tmp_path / "cut" / "results.csv").exists() else None
    assert cut_table is None or cut_table["env_steps"].min() < 800  # it really was cut short

    resumed = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    table = pd.read_csv(tmp_path / "cut" / "results.csv")
    assert len(table) == 2 and (table["env_steps"] == 800).all()
    assert "temperature_lr" not in table and "actor_lr" in table  # the saved search space
    assert (table["iterations"] == 8).all()
    for progress in (tmp_path / "cut").glob("*/result.json"):  # each trial went on from a checkpoint
        iterations = [json.loads(line)["training_iteration"] for line in progress.read_text().splitlines()]
        assert iterations.count(1) == 1 and iterations[-1] == 8


@pytest.mark.parametrize("runners, cpus_per_trial, at_a_time", [(0, 1, 2), (1, 2, 1)])
def test_concurrency_follows_ray_cpus_and_trial_config(ray_session, tmp_path, runners, cpus_per_trial, at_a_time):
    """On the 2-CPU test cluster: 2 trials at a time with local sampling, 1 with a remote EnvRunner each."""
    settings = tiny_settings(tmp_path, num_env_runners=runners)
    config = base_config(settings)
    assert trial_cpus(config) == cpus_per_trial
    assert concurrency(settings, config) == at_a_time
    assert concurrency(dataclasses.replace(settings, max_concurrent=5), config) == 5
