"""HybridSAC on LeRobot's gym-hil Franka pick-cube (MuJoCo), state observations: success vs env steps.

Needs the extra: ``pip install 'rllib_sac_hybrid[gym-hil]'`` (headless rendering via MUJOCO_GL=egl,
set automatically). The action is gym-hil's flat Box (xyz delta + gripper index), learned with
the discrete gripper critic (``discrete_action_in_last_dim=True``).

    python benchmarks/gym_hil_pick_cube.py --env-steps 20000
    python benchmarks/gym_hil_pick_cube.py --reward-type sparse --env-steps 50000
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import ray  # noqa: E402
import torch  # noqa: E402

from rllib_sac_hybrid import HybridSACConfig  # noqa: E402
from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_ID  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-steps", type=int, default=20_000)
    parser.add_argument("--reward-type", choices=("dense", "sparse"), default="dense")
    parser.add_argument("--num-critics", type=int, default=2)
    parser.add_argument("--num-subsample-critics", type=int, default=None)
    parser.add_argument("--utd-ratio", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--temperature-init", type=float, default=0.01, help="HIL-SERL's recommendation")
    parser.add_argument("--random-steps", type=int, default=1000)
    parser.add_argument("--report-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    hidden = (args.hidden, args.hidden)
    config = (
        HybridSACConfig()
        .environment(GYM_HIL_PICK_CUBE_ID, env_config={"reward_type": args.reward_type})
        .training(
            discrete_action_in_last_dim=True,
            num_critics=args.num_critics,
            num_subsample_critics=args.num_subsample_critics,
            utd_ratio=args.utd_ratio,
            actor_hidden_dims=hidden,
            critic_hidden_dims=hidden,
            discrete_critic_hidden_dims=hidden,
            encoder_latent_dim=args.hidden,
            temperature_init=args.temperature_init,
            num_random_steps=args.random_steps,
        )
        .reporting(min_sample_timesteps_per_iteration=args.report_every, metrics_num_episodes_for_smoothing=20)
        .debugging(seed=args.seed)
    )
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    algo = config.build_algo()
    rows, start, steps = [], time.time(), 0
    print(f"HybridSAC on {GYM_HIL_PICK_CUBE_ID} ({args.reward_type} reward), {args.env_steps} env steps")
    print(f"{'env steps':>9} {'success':>8} {'return':>8} {'ep len':>7} {'secs':>6}")
    try:
        while steps < args.env_steps:
            result = algo.train()
            runners = result["env_runners"]
            steps = int(result["num_env_steps_sampled_lifetime"])
            row = (
                steps,
                runners.get("episode_success_rate_windowed", float("nan")),
                runners.get("episode_return_windowed", float("nan")),
                runners.get("episode_len_mean", float("nan")),
                time.time() - start,
            )
            rows.append(row)
            print(f"{row[0]:>9} {row[1]:>8.2f} {row[2]:>8.2f} {row[3]:>7.1f} {row[4]:>6.0f}", flush=True)
    finally:
        algo.stop()
        ray.shutdown()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gym_hil_pick_cube_{args.reward_type}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env_steps", "success_rate", "return_mean", "episode_len_mean", "wall_seconds"])
        writer.writerows(rows)
    best = max(rows, key=lambda r: r[1] if r[1] == r[1] else -1)
    print(f"\nbest success rate {best[1]:.2f} at {best[0]} env steps; final {rows[-1][1]:.2f}; curve: {path}")


if __name__ == "__main__":
    main()
