"""Critic steps/s and rows/s with the learner in the driver, one remote learner, and two
data-parallel learners (``num_learners=2``), training Pendulum-v1 with the default 256x256 nets.

    python benchmarks/learners.py --iterations 3
    python benchmarks/learners.py --learn      # two learners train Pendulum to -400 (windowed)

Each setting gets a Ray instance of ``--cpus`` CPUs of its own, two warm-up iterations (the
random-action warm-up, then a first learning iteration), then ``--iterations`` measured ones of
200 env steps each (4 updates per round). Rows/s counts every learner's batch.
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

from benchmarks.common import record_rows, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402

SETTINGS = [(0, 256), (1, 256), (2, 128), (2, 256)]  # (num_learners, train_batch_size_per_learner)


def measure(num_learners: int, batch: int, iterations: int, cpus: int) -> dict:
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        config = (
            HybridSACConfig()
            .environment("Pendulum-v1")
            .learners(num_learners=num_learners)
            .training(num_random_steps=200, train_batch_size_per_learner=batch)
            .env_runners(rollout_fragment_length=4)
            .reporting(min_sample_timesteps_per_iteration=200)
            .debugging(seed=0)
        )
        algo = config.build_algo()
        try:
            for _ in range(2):
                result = algo.train()
            steps0 = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"]
            start = time.monotonic()
            for _ in range(iterations):
                result = algo.train()
            elapsed = time.monotonic() - start
        finally:
            algo.stop()
    finally:
        ray.shutdown()
    steps = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"] - steps0
    return {
        "num_learners": num_learners,
        "batch": batch,
        "critic_steps_per_s": steps / elapsed,
        "rows_per_s": steps * batch * max(1, num_learners) / elapsed,
    }


def learn(cpus: int, target: float, max_env_steps: int) -> None:
    """Two data-parallel learners (64-wide nets, 2 x 128 rows a step) train Pendulum until the
    windowed return of the last 5 episodes reaches ``target``; prints the curve as it goes."""
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        config = (
            HybridSACConfig()
            .environment("Pendulum-v1")
            .learners(num_learners=2)
            .training(
                actor_hidden_dims=(64, 64),
                critic_hidden_dims=(64, 64),
                encoder_latent_dim=64,
                num_critics=4,
                num_subsample_critics=2,
                num_random_steps=500,
                train_batch_size_per_learner=128,
            )
            .env_runners(rollout_fragment_length=4)
            .reporting(min_sample_timesteps_per_iteration=500, metrics_num_episodes_for_smoothing=5)
            .debugging(seed=0)
        )
        algo = config.build_algo()
        try:
            rows = train_until(algo, max_env_steps, label="two learners",
                               stop=lambda row: row["train_return"] >= target)  # fmt: skip
        finally:
            algo.stop()
    finally:
        ray.shutdown()
    steps, ret, seconds = rows[-1]["env_steps"], rows[-1]["train_return"], rows[-1]["seconds"]
    verdict = "reached" if ret >= target else "did not reach"
    print(f"two learners {verdict} {target} at {steps} env steps, {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=3, help="measured iterations per setting")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of each setting's Ray instance")
    parser.add_argument("--learn", action="store_true", help="train two learners on Pendulum to --target instead")
    parser.add_argument("--target", type=float, default=-400.0, help="windowed return that ends --learn")
    parser.add_argument("--max-env-steps", type=int, default=8_000, help="budget of --learn")
    args = parser.parse_args()
    if args.iterations < 1 or args.cpus < 2:
        raise ValueError(f"--iterations={args.iterations} must be >= 1 and --cpus={args.cpus} >= 2 (two learners)")
    torch.set_num_threads(1)
    if args.learn:
        learn(args.cpus, args.target, args.max_env_steps)
        return
    rows = []
    for num_learners, batch in SETTINGS:
        rows.append(measure(num_learners, batch, args.iterations, args.cpus))
        print(f"num_learners={num_learners} batch={batch}: {rows[-1]['critic_steps_per_s']:.1f} steps/s", flush=True)
    print(f"\nPendulum-v1, 256x256 nets, {args.iterations} x 200 env steps per setting, Ray with {args.cpus} CPUs")
    print(f"{'num_learners':>12} {'batch per learner':>18} {'critic steps/s':>15} {'rows/s':>8}")
    for row in rows:
        print(
            f"{row['num_learners']:>12} {row['batch']:>18} {row['critic_steps_per_s']:>15.1f} {row['rows_per_s']:>8.0f}"
        )
    record_rows("learners", "pendulum", rows, ("num_learners", "batch"), {"iterations": args.iterations})


if __name__ == "__main__":
    main()
