"""A short HybridSAC training run with visible progress and a final summary.

python -m rllib_sac_hybrid.demo                      # Pendulum-v1, 8,000 env steps
python -m rllib_sac_hybrid.demo --env-steps 20000 --num-critics 10 --num-subsample-critics 2 --utd-ratio 20
"""

from __future__ import annotations

import argparse
import os
import time

import ray
import torch

from rllib_sac_hybrid import HybridSACConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Pendulum-v1", help="a registered gymnasium env id")
    parser.add_argument("--env-steps", type=int, default=8000, help="env steps to train for")
    parser.add_argument("--num-critics", type=int, default=2)
    parser.add_argument("--num-subsample-critics", type=int, default=None)
    parser.add_argument("--utd-ratio", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=128, help="width of the encoder and the two hidden layers")
    parser.add_argument("--random-steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--steps-per-iteration", type=int, default=1000, help="env steps between progress lines")
    parser.add_argument("--checkpoint-dir", default="results/demo_checkpoint", help="where the final checkpoint goes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.torch_threads)  # learner and env runner share this process
    hidden = (args.hidden, args.hidden)
    config = (
        HybridSACConfig()
        .environment(args.env)
        .training(
            num_critics=args.num_critics,
            num_subsample_critics=args.num_subsample_critics,
            utd_ratio=args.utd_ratio,
            actor_hidden_dims=hidden,
            critic_hidden_dims=hidden,
            encoder_latent_dim=args.hidden,
            num_random_steps=args.random_steps,
        )
        .reporting(min_sample_timesteps_per_iteration=args.steps_per_iteration, metrics_num_episodes_for_smoothing=10)
        .debugging(seed=args.seed)
    )
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, ignore_reinit_error=True)
    algo = config.build_algo()
    print(
        f"HybridSAC on {args.env}: N={args.num_critics} M={args.num_subsample_critics or args.num_critics} "
        f"UTD={args.utd_ratio} hidden={hidden}, {args.env_steps} env steps"
    )
    print("return: mean of the last 10 training episodes (across iterations); alpha: temperature; critic: critic loss")
    print(
        f"{'iter':>4} {'env steps':>9} {'return':>9} {'best':>9} {'alpha':>7} {'critic':>8} {'Q mean':>8} {'secs':>6}"
    )
    start, best, steps, result = time.time(), float("-inf"), 0, {}
    try:
        while steps < args.env_steps:
            result = algo.train()
            steps = int(result["num_env_steps_sampled_lifetime"])
            ret = result["env_runners"]["episode_return_windowed"]
            best = max(best, ret) if ret == ret else best
            learner = result["learners"].get("default_policy", {})
            print(
                f"{result['training_iteration']:>4} {steps:>9} {ret:>9.1f} {best:>9.1f} "
                f"{learner.get('temperature', float('nan')):>7.3f} {learner.get('critic_loss', float('nan')):>8.3f} "
                f"{learner.get('q_mean', float('nan')):>8.2f} {time.time() - start:>6.0f}",
                flush=True,
            )
        checkpoint = algo.save_to_path(os.path.abspath(args.checkpoint_dir))
    finally:
        algo.stop()
    elapsed = time.time() - start
    summary = {
        "env": args.env,
        "env_steps": steps,
        "final_return_mean": result["env_runners"].get("episode_return_windowed"),
        "best_return_mean": best,
        "critic_steps": int(result["learners"].get("default_policy", {}).get("num_critic_steps_lifetime", 0)),
        "wall_seconds": round(elapsed, 1),
        "checkpoint": checkpoint,
    }
    print("\nSummary")
    for key, value in summary.items():
        print(f"  {key:<18} {value}")
    return summary


if __name__ == "__main__":
    main()
