"""What the HybridSAC example scripts share: RLlib's example-script flow on the windowed metrics.

RLlib's ``run_rllib_example_script_experiment`` stops and, with ``--as-test``, judges a run on
``env_runners/episode_return_mean``: in RLlib 2.60 the mean of the episodes that ended in one
iteration, so one lucky iteration passes. These scripts pass it HybridSAC's
``env_runners/episode_return_windowed`` (the mean of the last ``metrics_num_episodes_for_smoothing``
episodes, across iterations) as the stop and success metric instead; every other option of
``add_rllib_example_script_args`` works as in RLlib's own examples.
"""

from __future__ import annotations

import argparse

import ray
from ray import tune
from ray.rllib.examples.utils import run_rllib_example_script_experiment
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME
from ray.tune.result import TRAINING_ITERATION

from rllib_sac_hybrid import HybridSACConfig

RETURN_WINDOWED = f"{ENV_RUNNER_RESULTS}/episode_return_windowed"
SUCCESS_WINDOWED = f"{ENV_RUNNER_RESULTS}/episode_success_rate_windowed"


def run(config: HybridSACConfig, args: argparse.Namespace, report_success: bool = False):
    """Runs ``config`` through ``run_rllib_example_script_experiment`` with the windowed return as
    the stop and ``--as-test`` metric; a Ray instance the caller started stays up."""
    stop = {
        RETURN_WINDOWED: args.stop_reward,
        f"{ENV_RUNNER_RESULTS}/{NUM_ENV_STEPS_SAMPLED_LIFETIME}": args.stop_timesteps,
        TRAINING_ITERATION: args.stop_iters,
    }
    columns = {
        TRAINING_ITERATION: "iter",
        "time_total_s": "total time (s)",
        f"{ENV_RUNNER_RESULTS}/{NUM_ENV_STEPS_SAMPLED_LIFETIME}": "env steps",
        RETURN_WINDOWED: "return (window)",
    }
    if report_success:
        columns[SUCCESS_WINDOWED] = "success (window)"
    reporter = (
        None
        if args.no_tune
        else tune.CLIReporter(metric_columns=columns, max_report_frequency=args.tune_max_report_freq)
    )
    return run_rllib_example_script_experiment(
        config,
        args,
        stop=stop,
        success_metric={RETURN_WINDOWED: args.stop_reward},
        progress_reporter=reporter,
        keep_ray_up=ray.is_initialized(),
    )
