"""Soak: HybridSAC trains for a set time while its EnvRunners' envs fail every few seconds.

Two remote EnvRunners (``restart_failed_env_runners=True``) step a Pendulum whose env raises
every ``--fault-every`` seconds (each instance, from its creation); RLlib restarts the runner,
HybridSAC pushes it the newest weights, training goes on. Printed per iteration and at the end:
iterations done, faults survived (runner restarts), transitions lost (env steps sampled minus
transitions stored; must be 0) and the driver's memory growth (RSS slope over the second half).

    python benchmarks/soak.py --minutes 10 --fault-every 30

Known, open (issue 5): measured 2026-11-24 on the 2-core VM, the first 5 iterations (3,352 env
steps) lost 0 transitions with flat RSS (539 MiB). Then both runners' envs failed at the same
moment, and the iteration that followed took over a minute. The next one had not ended after 4
more minutes. Runners whose envs fail every 5 s never got going again, since a restart takes
longer than that here. Sampling must go on, or at least fail fast, while every runner is being
restarted.
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np
import psutil
import ray
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig


class FaultyPendulum(gym.Env):
    """Pendulum-v1 that raises RuntimeError once ``fault_every`` seconds have passed since it was made."""

    def __init__(self, config=None):
        config = dict(config or {})
        self._env = gym.make("Pendulum-v1")
        self.observation_space, self.action_space = self._env.observation_space, self._env.action_space
        self._deadline = time.monotonic() + float(config.get("fault_every", 5.0))

    def reset(self, *, seed=None, options=None):
        return self._env.reset(seed=seed, options=options)

    def step(self, action):
        if time.monotonic() >= self._deadline:
            raise RuntimeError("soak: injected env failure")
        return self._env.step(action)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fault-every", type=float, default=30.0, help="seconds between an env's failures")
    parser.add_argument("--runners", type=int, default=2)
    args = parser.parse_args()
    if args.minutes <= 0 or args.fault_every <= 0 or args.runners < 1:
        raise ValueError("--minutes and --fault-every must be > 0 and --runners >= 1")

    torch.set_num_threads(1)
    ray.init(num_cpus=max(2, args.runners), include_dashboard=False, log_to_driver=False)
    config = (
        HybridSACConfig()
        .environment(FaultyPendulum, env_config={"fault_every": args.fault_every})
        .training(
            encoder_latent_dim=64,
            actor_hidden_dims=(64, 64),
            critic_hidden_dims=(64, 64),
            train_batch_size_per_learner=64,
            num_random_steps=200,
        )
        .env_runners(num_env_runners=args.runners, rollout_fragment_length=4)
        .fault_tolerance(restart_failed_env_runners=True)
        .reporting(min_sample_timesteps_per_iteration=1, min_time_s_per_iteration=5)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    process = psutil.Process(os.getpid())
    start = time.monotonic()
    times, rss, lost = [], [], 0
    print(f"{'iter':>5} {'minutes':>8} {'env steps':>10} {'stored':>8} {'lost':>5} {'restarts':>9} {'RSS MiB':>8}")
    try:
        while time.monotonic() - start < args.minutes * 60:
            result = algo.train()
            sampled = int(result["num_env_steps_sampled_lifetime"])
            stored = int(result["learners"][DEFAULT_MODULE_ID].get("replay_size", 0))
            lost = sampled - stored  # the replay (capacity 1M) holds every transition sampled
            restarts = algo._counters["total_num_restored_workers"]
            times.append((time.monotonic() - start) / 60)
            rss.append(process.memory_info().rss / 2**20)
            print(
                f"{result['training_iteration']:>5} {times[-1]:>8.2f} {sampled:>10} {stored:>8} {lost:>5} "
                f"{restarts:>9} {rss[-1]:>8.1f}",
                flush=True,
            )
    finally:
        algo.stop()
        ray.shutdown()
    half = len(times) // 2
    slope = float(np.polyfit(times[half:], rss[half:], 1)[0]) if len(times) - half >= 2 else float("nan")
    print(
        f"\nsoak: {len(times)} iterations in {times[-1]:.1f} min, faults survived (runner restarts) {restarts}, "
        f"transitions lost {lost}, driver RSS {rss[0]:.0f} -> {rss[-1]:.0f} MiB, "
        f"slope over the second half {slope:+.1f} MiB/min"
    )


if __name__ == "__main__":
    main()
