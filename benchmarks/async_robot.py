"""Synchronous vs asynchronous sampling with a simulated robot at a fixed control rate, and
total env steps/s with 1, 2, 4 simulator runners on a local multi-node Ray cluster.

Part 1: one remote EnvRunner drives ``rllib_sac_hybrid/SimRobotPickPlace-v0`` (``--hz``, 10 by
default) while the learner runs ``--utd`` critic steps per env step. For each mode, after a
warm-up, it measures over ``--seconds``: env steps per second, the robot's idle fraction (its own
account: seconds standing still waiting for a command over all its seconds) and critic steps per
env step. In synchronous mode the robot waits for every UTD round; in asynchronous mode it steps
on with the weights it has, as long as the learner keeps up with ``utd`` steps per env step (the
nets here are small, 64x64 with batch 64, so that a CPU learner can).

Part 2 (``--cluster-runners 1,2,4``; empty to skip): a local cluster (``local_cluster``) with a
head node for the driver and learner and one node per runner, each runner pinned to its node by
a custom resource (``custom_resources_by_env_runner``); simulators at ``--cluster-hz`` with
``--cluster-utd``, sampled in ``--cluster-mode``. It reports the total env steps/s and the
simulators' idle fraction per runner count.

    python benchmarks/async_robot.py --seconds 60 --utd 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import ray
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import record_rows  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402
from rllib_sac_hybrid.envs import SIM_ROBOT_ID  # noqa: E402
from rllib_sac_hybrid.runtime.local_cluster import local_cluster  # noqa: E402


def robot_stats(runner) -> dict:
    """The simulated robot's own account, from inside its EnvRunner (a vector env of one)."""
    env = runner.env
    envs = getattr(env, "envs", None) or env.unwrapped.envs
    return envs[0].unwrapped.robot_stats()


def measure(
    mode: str,
    seconds: float,
    warmup_seconds: float,
    hz: float,
    utd: int,
    num_runners: int = 1,
    resources_by_runner: list[dict[str, float]] | None = None,
) -> dict:
    """Trains for ``warmup_seconds``, then measures over ``seconds`` of training iterations."""
    config = (
        HybridSACConfig()
        .environment(SIM_ROBOT_ID, env_config={"control_hz": hz, "latency_jitter_s": 0.005})
        .training(
            utd_ratio=utd,
            encoder_latent_dim=64,
            actor_hidden_dims=(64, 64),
            critic_hidden_dims=(64, 64),
            discrete_critic_hidden_dims=(64, 64),
            train_batch_size_per_learner=64,
            num_random_steps=20,
            async_sampling=mode == "async",
            learner_torch_threads=1,
        )
        .env_runners(
            num_env_runners=num_runners, rollout_fragment_length=1, custom_resources_by_env_runner=resources_by_runner
        )
        .reporting(min_sample_timesteps_per_iteration=1, min_time_s_per_iteration=2)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        deadline = time.monotonic() + warmup_seconds
        while time.monotonic() < deadline:
            algo.train()
        before = algo.env_runner_group.foreach_env_runner(robot_stats, local_env_runner=False)
        result = algo.train()
        steps0 = result["num_env_steps_sampled_lifetime"]
        critic0 = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"]
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            result = algo.train()
        elapsed = time.monotonic() - start
        after = algo.env_runner_group.foreach_env_runner(robot_stats, local_env_runner=False)
    finally:
        algo.stop()
    steps = result["num_env_steps_sampled_lifetime"] - steps0
    critic = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"] - critic0
    idle = sum(a["idle_s"] - b["idle_s"] for a, b in zip(after, before))
    busy = sum(a["busy_s"] - b["busy_s"] for a, b in zip(after, before))
    return {
        "mode": mode,
        "runners": num_runners,
        "env_steps_per_s": steps / elapsed,
        "robot_idle_fraction": idle / (idle + busy),
        "critic_steps_per_env_step": critic / max(steps, 1),
    }


def measure_on_cluster(num_runners: int, args: argparse.Namespace) -> dict:
    """``measure`` on a local cluster: a head node (driver, learner) and one node per runner."""
    nodes = {"head": {"num_cpus": 1}}
    for i in range(num_runners):
        nodes[f"sim{i}"] = {"num_cpus": 1, "resources": {f"sim_host_{i}": 1}}
    with local_cluster(nodes, log_to_driver=False):
        return measure(
            args.cluster_mode,
            args.seconds,
            args.warmup_seconds,
            args.cluster_hz,
            args.cluster_utd,
            num_runners,
            [{f"sim_host_{i}": 1} for i in range(num_runners)],
        )


def print_table(rows: list[dict]) -> None:
    print(f"{'mode':>6} {'runners':>8} {'env steps/s':>12} {'robot idle':>11} {'critic steps / env step':>24}")
    for row in rows:
        print(
            f"{row['mode']:>6} {row['runners']:>8} {row['env_steps_per_s']:>12.2f} {row['robot_idle_fraction']:>10.1%} "
            f"{row['critic_steps_per_env_step']:>24.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per row")
    parser.add_argument("--warmup-seconds", type=float, default=15.0)
    parser.add_argument("--utd", type=int, default=20)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--modes", default="sync,async", help="part 1's modes; empty to skip part 1")
    parser.add_argument("--cluster-runners", default="1,2,4", help="part 2's runner counts; empty to skip part 2")
    parser.add_argument("--cluster-hz", type=float, default=20.0)
    parser.add_argument("--cluster-utd", type=int, default=1)
    parser.add_argument("--cluster-mode", choices=("sync", "async"), default="async")
    args = parser.parse_args()
    if args.seconds <= 0 or args.warmup_seconds < 0 or min(args.utd, args.cluster_utd) < 1:
        raise ValueError("--seconds must be > 0, --warmup-seconds >= 0, --utd and --cluster-utd >= 1")
    if min(args.hz, args.cluster_hz) <= 0:
        raise ValueError("--hz and --cluster-hz must be > 0")
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in ("sync", "async") for m in modes):
        raise ValueError(f"--modes={args.modes!r}; allowed: a comma-separated subset of sync,async")
    try:
        counts = [int(n) for n in args.cluster_runners.split(",") if n]
    except ValueError:
        counts = [0]
    if any(n < 1 for n in counts):
        raise ValueError(f"--cluster-runners={args.cluster_runners!r}; allowed: comma-separated integers >= 1")
    torch.set_num_threads(1)
    if modes:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            rows = [measure(mode, args.seconds, args.warmup_seconds, args.hz, args.utd) for mode in modes]
        finally:
            ray.shutdown()
        print(f"\nsimulated robot at {args.hz:g} Hz, UTD {args.utd}, 1 remote EnvRunner, {args.seconds:g} s per mode")
        print_table(rows)
        record_rows("async_robot", "sim-robot", rows, ("mode", "runners"), {"hz": args.hz, "utd": args.utd})
    if counts:
        rows = []
        for n in counts:
            rows.append(measure_on_cluster(n, args))
            print(f"{n} runner(s): {rows[-1]['env_steps_per_s']:.2f} env steps/s", flush=True)
        print(
            f"\nlocal cluster: head node (driver + learner) + one node per runner; simulators at "
            f"{args.cluster_hz:g} Hz, UTD {args.cluster_utd}, {args.cluster_mode}, {args.seconds:g} s per row"
        )
        print_table(rows)
        settings = {"hz": args.cluster_hz, "utd": args.cluster_utd, "mode": args.cluster_mode, "cluster": True}
        record_rows("async_robot", "sim-robot-cluster", rows, ("mode", "runners"), settings)


if __name__ == "__main__":
    main()
