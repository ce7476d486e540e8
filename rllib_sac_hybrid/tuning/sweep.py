"""Sweep HybridSAC's temperature and learning rates with Ray Tune: one command.

    python -m rllib_sac_hybrid.tuning.sweep --env Pendulum-v1 --num-samples 8 --max-env-steps 20000
    python -m rllib_sac_hybrid.tuning.sweep --env rllib_sac_hybrid/PickPlace-v0 --search optuna --utd-ratio 1 4
    python -m rllib_sac_hybrid.tuning.sweep --env Pendulum-v1 --scheduler pbt --num-samples 4
    python -m rllib_sac_hybrid.tuning.sweep --name <same name> --resume        # continue an interrupted sweep

Each trial trains HybridSAC (``tune.Tuner("HybridSAC", ...)``) until ``--max-env-steps`` env steps,
maximising ``env_runners/episode_return_windowed`` - the mean return of the last
``metrics_num_episodes_for_smoothing`` training episodes, across iterations (RLlib's own
``episode_return_mean`` covers one iteration only) - or, with ``--evaluation-episodes``, the
evaluation return.
ASHA stops poor trials early by default. Trials run side by side as far as the CPUs Ray reports
allow (the CPUs a trial needs come from its config: 1 plus its EnvRunners'). The experiment folder
``<storage-path>/<name>`` gets ``results.csv`` (best first), ``best_checkpoint.txt`` and PNG plots
(``learning_curves.png``, ``return_vs_params.png``); see ``rllib_sac_hybrid.tuning.report``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import ray
from ray import tune
from ray.tune.registry import ENV_CREATOR, _global_registry

import rllib_sac_hybrid  # noqa: F401  registers HybridSAC and the built-in envs
from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.algorithm import HybridSAC
from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS
from rllib_sac_hybrid.tuning.report import SweepReport, write_report
from rllib_sac_hybrid.tuning.space import GRID_SETTINGS, LOG_UNIFORM_DEFAULTS, SearchSpace

logger = logging.getLogger(__name__)

SEARCHERS = ("random", "optuna")
SCHEDULERS = ("asha", "pbt", "pb2", "fifo")
TRAIN_METRIC = "env_runners/episode_return_windowed"  # the last metrics_num_episodes_for_smoothing episodes
EVAL_METRIC = "evaluation/env_runners/episode_return_mean"
ENV_STEPS = "num_env_steps_sampled_lifetime"
# Fixed settings a sweep may set besides HybridSAC's own (``--set name=value``).
EXTRA_SETTABLE = ("train_batch_size_per_learner",)
SETTINGS_FILE = "sweep_settings.json"  # in the experiment folder: what --resume continues


@dataclass
class SweepSettings:
    """Everything one sweep needs; ``validate`` names the offending argument and what is allowed."""

    env: str = "Pendulum-v1"
    env_config: dict[str, Any] = field(default_factory=dict)
    num_samples: int = 8
    max_env_steps: int = 20_000
    iteration_env_steps: int | None = None  # None: max_env_steps / 20, at least 100
    search: str = "random"
    scheduler: str = "asha"
    space: SearchSpace = field(default_factory=SearchSpace)
    fixed: dict[str, Any] = field(default_factory=dict)  # fixed HybridSAC settings for every trial
    num_env_runners: int = 0
    evaluation_episodes: int = 0
    max_concurrent: int | None = None  # None: the CPUs Ray reports / the CPUs a trial needs
    storage_path: str = "sweeps"
    name: str | None = None
    resume: bool = False
    seed: int | None = 0

    def validate(self) -> None:
        _check_env(self.env)
        if not isinstance(self.env_config, dict):
            raise ValueError(f"--env-config {self.env_config!r} is invalid; allowed: a JSON object.")
        _positive_int("--num-samples", self.num_samples)
        _positive_int("--max-env-steps", self.max_env_steps)
        if self.iteration_env_steps is not None:
            _positive_int("--iteration-env-steps", self.iteration_env_steps)
        if self.search not in SEARCHERS:
            raise ValueError(f"--search {self.search!r} is unknown; allowed: {list(SEARCHERS)}.")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"--scheduler {self.scheduler!r} is unknown; allowed: {list(SCHEDULERS)}.")
        self.space.validate()
        if self.scheduler in ("pbt", "pb2") and not self.space.mutations():
            raise ValueError(
                f"--scheduler {self.scheduler} needs a learning rate to vary while trials run; allowed: "
                "keep at least one of --actor-lr, --critic-lr, --temperature-lr in the search space."
            )
        settable = set(HYBRID_SAC_DEFAULTS) | set(EXTRA_SETTABLE)
        for name in self.fixed:
            if name not in settable:
                raise ValueError(f"--set {name}=... is unknown; allowed: {sorted(settable)}.")
            if name in self.space.swept:
                raise ValueError(f"--set {name}=... clashes with the search space, which sweeps {name}.")
        if not isinstance(self.num_env_runners, int) or self.num_env_runners < 0:
            raise ValueError(f"--num-env-runners {self.num_env_runners!r} is invalid; allowed: an integer >= 0.")
        if not isinstance(self.evaluation_episodes, int) or self.evaluation_episodes < 0:
            raise ValueError(
                f"--evaluation-episodes {self.evaluation_episodes!r} is invalid; allowed: an integer >= 0."
            )
        if self.max_concurrent is not None:
            _positive_int("--max-concurrent", self.max_concurrent)

    @property
    def metric(self) -> str:
        return EVAL_METRIC if self.evaluation_episodes else TRAIN_METRIC

    @property
    def steps_per_iteration(self) -> int:
        return self.iteration_env_steps or max(100, self.max_env_steps // 20)

    @property
    def experiment_name(self) -> str:
        return (
            self.name or f"hybrid_sac_{self.env.replace('/', '_').replace(':', '_')}_{time.strftime('%Y%m%d_%H%M%S')}"
        )


def base_config(settings: SweepSettings) -> HybridSACConfig:
    """The HybridSAC config every trial starts from; the searched settings are put on top."""
    config = (
        HybridSACConfig()
        .environment(settings.env, env_config=settings.env_config)
        .training(**settings.fixed)
        .env_runners(num_env_runners=settings.num_env_runners)
        .reporting(min_sample_timesteps_per_iteration=settings.steps_per_iteration)
        .debugging(seed=settings.seed)
    )
    if settings.evaluation_episodes:
        config = config.evaluation(
            evaluation_interval=1,
            evaluation_duration=settings.evaluation_episodes,
            evaluation_duration_unit="episodes",
        )
    config.validate_hybrid_sac_settings()  # the fixed settings, before any trial starts
    return config


def trial_cpus(config: HybridSACConfig) -> float:
    """CPUs one trial reserves, from its config (driver/learner plus EnvRunners)."""
    return float(HybridSAC.default_resource_request(config).required_resources.get("CPU", 1.0))


def concurrency(settings: SweepSettings, config: HybridSACConfig) -> int:
    """Trials at a time: ``--max-concurrent``, else as many as the CPUs Ray reports hold."""
    if settings.max_concurrent:
        return settings.max_concurrent
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(1, int(cpus // trial_cpus(config)))


def make_scheduler(settings: SweepSettings):
    """ASHA (default; stops poor trials at env-step rungs), PBT / PB2 (change the learning rates of
    running trials, copying good trials' checkpoints), or none ("fifo")."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining

    if settings.scheduler == "asha":
        # The first rung comes well after the random warm-up: before it, every trial's return is
        # that of the same random actions.
        warm_up = int(settings.fixed.get("num_random_steps", HYBRID_SAC_DEFAULTS["num_random_steps"]))
        return ASHAScheduler(
            time_attr=ENV_STEPS,
            max_t=settings.max_env_steps,
            grace_period=min(
                settings.max_env_steps,
                max(settings.steps_per_iteration, settings.max_env_steps // 4, 2 * warm_up),
            ),
            reduction_factor=2,
        )
    interval = max(settings.steps_per_iteration, settings.max_env_steps // 5)
    if settings.scheduler == "pbt":
        return PopulationBasedTraining(
            time_attr=ENV_STEPS,
            perturbation_interval=interval,
            hyperparam_mutations=settings.space.mutations(),
        )
    if settings.scheduler == "pb2":
        from ray.tune.schedulers.pb2 import PB2

        try:
            return PB2(time_attr=ENV_STEPS, perturbation_interval=interval, hyperparam_bounds=settings.space.bounds())
        except RuntimeError as error:  # raised without scikit-learn, its Gaussian-process backend
            raise ImportError(
                f"--scheduler pb2 needs scikit-learn ({error}); install it with "
                "`pip install 'rllib_sac_hybrid[pb2]'`, or use --scheduler pbt."
            ) from error
    return FIFOScheduler()


def make_searcher(settings: SweepSettings):
    """None (Tune's random / grid variant generator) or Optuna's TPE."""
    if settings.search == "random":
        return None
    try:
        from ray.tune.search.optuna import OptunaSearch
    except ImportError as error:
        raise ImportError(
            f"--search optuna needs optuna ({error}); install it with `pip install 'rllib_sac_hybrid[optuna]'`."
        ) from error
    import optuna

    return OptunaSearch(metric=settings.metric, mode="max", sampler=optuna.samplers.TPESampler(seed=settings.seed))


def run_sweep(settings: SweepSettings) -> SweepReport:
    """Runs (or, with ``resume``, continues) the sweep and writes its report; returns the report."""
    settings.validate()
    config = base_config(settings)
    storage = Path(settings.storage_path).expanduser().resolve()
    name = settings.experiment_name
    experiment_dir = storage / name
    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    settings_file = experiment_dir / SETTINGS_FILE
    if settings.resume:
        if not tune.Tuner.can_restore(str(experiment_dir)):
            raise ValueError(
                f"--resume: no sweep to continue in {experiment_dir}; allowed: the --name and --storage-path "
                "of an earlier sweep."
            )
        if settings_file.exists():  # the report needs the sweep's own metric and search space
            saved = json.loads(settings_file.read_text())
            settings = dataclasses.replace(
                settings,
                evaluation_episodes=saved["evaluation_episodes"],
                space=SearchSpace(
                    ranges={k: tuple(v) for k, v in saved["space"]["ranges"].items()}, grids=saved["space"]["grids"]
                ),
            )
        logger.info("Continuing the sweep in %s", experiment_dir)
        tuner = tune.Tuner.restore(str(experiment_dir), trainable="HybridSAC", resume_errored=True)
    else:
        experiment_dir.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(json.dumps(dataclasses.asdict(settings) | {"name": name}, indent=2, default=str))
        if settings.scheduler in ("pbt", "pb2") and settings.space.grids:
            logger.warning("PBT / PB2 keep the grid settings of the trial they copy; grids only seed the population.")
        # Only what differs from HybridSAC's defaults (each trial starts from those): Tune prints
        # the params of the best trial while it runs.
        defaults = HybridSACConfig().to_dict()
        changed = {key: value for key, value in config.to_dict().items() if defaults.get(key, object()) != value}
        param_space = changed | settings.space.param_space(settings.search)
        max_concurrent = concurrency(settings, config)
        print(
            f"Sweep {name}: {settings.num_samples} samples of {settings.space.swept}, up to "
            f"{settings.max_env_steps} env steps each, {max_concurrent} at a time "
            f"({trial_cpus(config):g} CPU per trial), metric {settings.metric}.",
            flush=True,
        )
        tuner = tune.Tuner(
            "HybridSAC",
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric=settings.metric,
                mode="max",
                num_samples=settings.num_samples,
                scheduler=make_scheduler(settings),
                search_alg=make_searcher(settings),
                max_concurrent_trials=max_concurrent,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=str(storage),
                stop={ENV_STEPS: settings.max_env_steps},
                checkpoint_config=tune.CheckpointConfig(
                    # PBT restores from other trials' checkpoints: Tune warns to keep more than 2.
                    num_to_keep=4 if settings.scheduler in ("pbt", "pb2") else 2,
                    checkpoint_score_attribute=settings.metric,
                    checkpoint_score_order="max",
                    checkpoint_frequency=max(1, settings.max_env_steps // settings.steps_per_iteration // 4),
                    checkpoint_at_end=True,
                ),
                failure_config=tune.FailureConfig(max_failures=1),
                verbose=1,
            ),
        )
    results = tuner.fit()
    report = write_report(results, experiment_dir, settings.metric, settings.space.swept)
    print(report.summary(), flush=True)
    return report


# ---- command line --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> SweepSettings:
    parser = argparse.ArgumentParser(
        prog="python -m rllib_sac_hybrid.tuning.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", default="Pendulum-v1", help="a registered gymnasium or Tune env id")
    parser.add_argument("--env-config", default="{}", help="JSON object passed to the env")
    parser.add_argument("--num-samples", type=int, default=8)
    parser.add_argument("--max-env-steps", type=int, default=20_000)
    parser.add_argument("--iteration-env-steps", type=int, default=None, help="env steps per iteration")
    parser.add_argument("--search", default="random", help=f"one of {SEARCHERS}")
    parser.add_argument("--scheduler", default="asha", help=f"one of {SCHEDULERS}")
    for name, (low, high) in LOG_UNIFORM_DEFAULTS.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            nargs="+",
            default=[low, high],
            metavar="X",
            help=f"LOW HIGH of a log-uniform range (default {low:g} {high:g}), or one value to fix it",
        )
    for name in GRID_SETTINGS:
        parser.add_argument(f"--{name.replace('_', '-')}", nargs="+", type=int, default=None, help="grid of integers")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a fixed HybridSAC setting")
    parser.add_argument("--num-env-runners", type=int, default=0)
    parser.add_argument("--evaluation-episodes", type=int, default=0, help="> 0: rank by evaluation return")
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--storage-path", default="sweeps")
    parser.add_argument("--name", default=None)
    parser.add_argument("--resume", action="store_true", help="continue the sweep --name in --storage-path")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    ranges, fixed = {}, {}
    for name in LOG_UNIFORM_DEFAULTS:
        values = [_number(f"--{name.replace('_', '-')}", v) for v in getattr(args, name)]
        if len(values) == 1:
            fixed[name] = values[0]
        elif len(values) == 2:
            ranges[name] = (values[0], values[1])
        else:
            raise ValueError(f"--{name.replace('_', '-')} {values} is invalid; allowed: LOW HIGH, or one value.")
    grids = {name: getattr(args, name) for name in GRID_SETTINGS if getattr(args, name) is not None}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r} is invalid; allowed: NAME=VALUE, e.g. --set utd_ratio=4.")
        fixed[key.strip()] = _literal(value)
    try:
        env_config = json.loads(args.env_config)
    except json.JSONDecodeError as error:
        raise ValueError(f"--env-config {args.env_config!r} is not JSON ({error}); allowed: a JSON object.") from None
    same_name = {f.name for f in dataclasses.fields(SweepSettings)} - {"env_config", "space", "fixed"}
    return SweepSettings(
        **{name: getattr(args, name) for name in same_name},
        env_config=env_config,
        space=SearchSpace(ranges=ranges, grids=grids),
        fixed=fixed,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = parse_args(argv)
        settings.validate()
    except ValueError as error:
        raise SystemExit(f"rllib_sac_hybrid.tuning.sweep: {error}") from None
    run_sweep(settings)


# ---- checks ----------------------------------------------------------------------------------
def _check_env(env: Any) -> None:
    if not isinstance(env, str) or not env:
        raise ValueError(f"--env {env!r} is invalid; allowed: a registered gymnasium or Tune env id.")
    if _global_registry.contains(ENV_CREATOR, env):
        return
    try:
        module, sep, env_id = env.partition(":")
        if sep:  # gymnasium's "module:Id": the module registers Id when imported (as gym.make does)
            importlib.import_module(module)
        gym.spec(env_id if sep else env)
    except (gym.error.Error, ImportError) as error:
        raise ValueError(
            f"--env {env!r} is not registered ({type(error).__name__}: {error}). Allowed: a gymnasium id "
            "(e.g. Pendulum-v1, rllib_sac_hybrid/PickPlace-v0, rllib_sac_hybrid/GymHilPickCube-v0, or "
            "'module:Id' to import the module that registers it) or a name given to ray.tune.register_env."
        ) from None


def _positive_int(flag: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{flag} {value!r} is invalid; allowed: an integer >= 1.")


def _number(flag: str, text: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} {text!r} is not a number; allowed: positive numbers.") from None
    if not math.isfinite(value):
        raise ValueError(f"{flag} {text!r} is invalid; allowed: finite positive numbers.")
    return value


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()  # a plain string, e.g. --set activation=relu


if __name__ == "__main__":
    main()
