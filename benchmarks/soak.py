"""Soak: HybridSAC trains for a set time while its envs fail every few seconds and its EnvRunner
processes crash.

Two kinds of fault, on remote EnvRunners stepping a Pendulum:

- env errors: each env raises from ``step`` about every ``--env-fault-every`` seconds (uniform
  within +-50%), like a simulator or robot link that throws. With
  ``restart_failed_sub_environments=True`` RLlib makes a new env inside the runner and goes on;
  the steps of that runner's unfinished sample call are discarded (never sent, so never counted).
- runner crashes: about every ``--crash-every`` seconds (+-50%) an EnvRunner process dies
  (``os._exit``, like a segfault in a simulator). With ``restart_failed_env_runners=True`` Ray
  restarts it and HybridSAC brings it back into the rounds, with the learner's newest weights,
  without stalling the other runners while it restarts.

Printed per iteration and at the end: iterations done, faults survived (env errors recovered and
runner restarts), transitions lost (env steps received minus transitions stored; the replay holds
1M, so this must be 0) and the driver's memory growth (RSS slope over the second half).

    python benchmarks/soak.py --minutes 10 --env-fault-every 3 --crash-every 30
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import psutil
import ray
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import record_run  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402


class FaultyPendulum(gym.Env):
    """Pendulum-v1 that raises from ``step`` about every ``env_fault_every`` s after it was made, and
    kills its process about ``crash_every`` s after the process made its first env. Only in remote
    EnvRunners (worker_index > 0): the driver's process never crashes."""

    def __init__(self, config=None):
        self._env = gym.make("Pendulum-v1")
        self.observation_space, self.action_space = self._env.observation_space, self._env.action_space
        remote = getattr(config, "worker_index", 0) > 0
        rng = np.random.default_rng()
        now = time.monotonic()
        # The process's first env fixes its crash time; envs made after an env error keep it.
        key = f"SOAK_CRASH_AT_{os.getpid()}"
        crash_every = float(config.get("crash_every", 0)) if remote else 0.0
        if key not in os.environ:
            os.environ[key] = str(now + crash_every * rng.uniform(0.5, 1.5) if crash_every > 0 else np.inf)
        self._crash_at = float(os.environ[key])
        fault_every = float(config.get("env_fault_every", 0)) if remote else 0.0
        self._fault_at = now + fault_every * rng.uniform(0.5, 1.5) if fault_every > 0 else np.inf

    def reset(self, *, seed=None, options=None):
        return self._env.reset(seed=seed, options=options)

    def step(self, action):
        now = time.monotonic()
        if now >= self._crash_at:
            os._exit(1)
        if now >= self._fault_at:
            self._fault_at = np.inf  # this env stays broken; RLlib replaces it
            raise RuntimeError("soak: injected env failure")
        return self._env.step(action)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--env-fault-every", type=float, default=3.0, help="seconds between an env's errors (0: off)")
    parser.add_argument("--crash-every", type=float, default=30.0, help="seconds between a runner's crashes (0: off)")
    parser.add_argument("--runners", type=int, default=2)
    args = parser.parse_args()
    if args.minutes <= 0 or args.env_fault_every < 0 or args.crash_every < 0 or args.runners < 1:
        raise ValueError("--minutes must be > 0, --env-fault-every and --crash-every >= 0, --runners >= 1")

    torch.set_num_threads(1)
    ray.init(num_cpus=max(2, args.runners), include_dashboard=False, log_to_driver=False)
    config = (
        HybridSACConfig()
        .environment(
            FaultyPendulum, env_config={"env_fault_every": args.env_fault_every, "crash_every": args.crash_every}
        )
        .training(
            encoder_latent_dim=64,
            actor_hidden_dims=(64, 64),
            critic_hidden_dims=(64, 64),
            train_batch_size_per_learner=64,
            num_random_steps=200,
        )
        .env_runners(num_env_runners=args.runners, rollout_fragment_length=4)
        .fault_tolerance(restart_failed_env_runners=True, restart_failed_sub_environments=True)
        .reporting(min_sample_timesteps_per_iteration=1, min_time_s_per_iteration=5)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    process = psutil.Process(os.getpid())
    start = time.monotonic()
    times, rss = [], []
    lost = env_faults = restarts = 0
    print(
        f"{'iter':>5} {'minutes':>8} {'env steps':>10} {'stored':>8} {'lost':>5} {'env errors':>11} "
        f"{'restarts':>9} {'return':>8} {'RSS MiB':>8}"
    )
    try:
        while time.monotonic() - start < args.minutes * 60:
            result = algo.train()
            sampled = int(result["num_env_steps_sampled_lifetime"])
            stored = int(result["learners"][DEFAULT_MODULE_ID].get("replay_size", 0))
            lost = sampled - stored  # the replay (capacity 1M) holds every transition received
            # Env errors are counted by the runners (lifetime, summed over runners); a runner that
            # crashes takes its uncollected count with it, so this is a lower bound.
            env_faults = max(env_faults, int(result["env_runners"].get("num_env_step_failures", 0)))
            restarts = algo._counters["total_num_restored_workers"]
            times.append((time.monotonic() - start) / 60)
            rss.append(process.memory_info().rss / 2**20)
            print(
                f"{result['training_iteration']:>5} {times[-1]:>8.2f} {sampled:>10} {stored:>8} {lost:>5} "
                f"{env_faults:>11} {restarts:>9} {rss[-1]:>8.1f}",
                flush=True,
            )
    finally:
        algo.stop()
        ray.shutdown()
    half = len(times) // 2
    slope = float(np.polyfit(times[half:], rss[half:], 1)[0]) if len(times) - half >= 2 else float("nan")
    print(
        f"\nsoak: {len(times)} iterations in {times[-1]:.1f} min, {sampled} env steps; faults survived: "
        f"{env_faults} env errors (recreated in their runner) + {restarts} runner restarts; transitions lost "
        f"{lost}; driver RSS {rss[0]:.0f} -> {rss[-1]:.0f} MiB, slope over the second half {slope:+.1f} MiB/min"
    )
    summary = {"iterations": len(times), "minutes": times[-1], "env_steps": sampled, "env_errors": env_faults,
               "runner_restarts": restarts, "transitions_lost": lost, "rss_mib": [rss[0], rss[-1]],
               "rss_slope_mib_per_min": slope}  # fmt: skip
    record_run("soak", task="pick-place", label="soak", seed=0, settings=vars(args), curve=[], summary=summary,
               command=" ".join(["python benchmarks/soak.py", *sys.argv[1:]]))  # fmt: skip


if __name__ == "__main__":
    main()
