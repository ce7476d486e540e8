"""Synchronous vs asynchronous sampling with a simulated robot at a fixed control rate.

One remote EnvRunner drives ``rllib_sac_hybrid/SimRobotPickPlace-v0`` (10 Hz by default) while
the learner runs ``--utd`` critic steps per env step. For each mode, after a warm-up, it measures
over ``--seconds``: env steps per second, the robot's idle fraction (its own account: seconds
standing still waiting for a command over all its seconds) and critic steps per env step.

    python benchmarks/async_robot.py --seconds 60 --utd 20

In synchronous mode the robot waits for every UTD round; in asynchronous mode it steps on with
the weights it has, as long as the learner keeps up with ``utd`` steps per env step (the nets
here are small, 64x64 with batch 64, so that a CPU learner can).
"""

from __future__ import annotations

import argparse
import time

import ray
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import SIM_ROBOT_ID


def robot_stats(runner) -> dict:
    """The simulated robot's own account, from inside its EnvRunner (a vector env of one)."""
    env = runner.env
    envs = getattr(env, "envs", None) or env.unwrapped.envs
    return envs[0].unwrapped.robot_stats()


def measure(mode: str, args: argparse.Namespace) -> dict:
    config = (
        HybridSACConfig()
        .environment(SIM_ROBOT_ID, env_config={"control_hz": args.hz, "latency_jitter_s": 0.005})
        .training(
            utd_ratio=args.utd,
            encoder_latent_dim=64,
            actor_hidden_dims=(64, 64),
            critic_hidden_dims=(64, 64),
            discrete_critic_hidden_dims=(64, 64),
            train_batch_size_per_learner=64,
            num_random_steps=20,
            async_sampling=mode == "async",
            learner_torch_threads=1,
        )
        .env_runners(num_env_runners=1, rollout_fragment_length=1)
        .reporting(min_sample_timesteps_per_iteration=1, min_time_s_per_iteration=2)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        deadline = time.monotonic() + args.warmup_seconds
        while time.monotonic() < deadline:
            algo.train()
        (before,) = algo.env_runner_group.foreach_env_runner(robot_stats, local_env_runner=False)
        start, result = time.monotonic(), algo.train()
        steps0 = result["num_env_steps_sampled_lifetime"]
        critic0 = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"]
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            result = algo.train()
        elapsed = time.monotonic() - start
        (after,) = algo.env_runner_group.foreach_env_runner(robot_stats, local_env_runner=False)
    finally:
        algo.stop()
    steps = result["num_env_steps_sampled_lifetime"] - steps0
    critic = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"] - critic0
    idle = after["idle_s"] - before["idle_s"]
    busy = after["busy_s"] - before["busy_s"]
    return {
        "mode": mode,
        "env_steps_per_s": steps / elapsed,
        "robot_idle_fraction": idle / (idle + busy),
        "critic_steps_per_env_step": critic / max(steps, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup-seconds", type=float, default=15.0)
    parser.add_argument("--utd", type=int, default=20)
    parser.add_argument("--hz", type=float, default=10.0)
    args = parser.parse_args()
    if args.seconds <= 0 or args.warmup_seconds < 0 or args.utd < 1 or args.hz <= 0:
        raise ValueError("--seconds and --hz must be > 0, --warmup-seconds >= 0, --utd >= 1")
    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = [measure(mode, args) for mode in ("sync", "async")]
    finally:
        ray.shutdown()
    print(f"\nsimulated robot at {args.hz:g} Hz, UTD {args.utd}, 1 remote EnvRunner, {args.seconds:g} s per mode")
    print(f"{'mode':>6} {'env steps/s':>12} {'robot idle':>11} {'critic steps / env step':>24}")
    for row in rows:
        print(
            f"{row['mode']:>6} {row['env_steps_per_s']:>12.2f} {row['robot_idle_fraction']:>10.1%} "
            f"{row['critic_steps_per_env_step']:>24.2f}"
        )


if __name__ == "__main__":
    main()
