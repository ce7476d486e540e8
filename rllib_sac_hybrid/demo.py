"""A short HybridSAC training run with visible progress, a greedy evaluation and a summary.

python -m rllib_sac_hybrid.demo                      # the built-in pick-and-place, HybridSACConfig() defaults
python -m rllib_sac_hybrid.demo --env Pendulum-v1 --env-steps 8000
python -m rllib_sac_hybrid.demo --preset hil-serl --set n_step=3

Trains ``HybridSACConfig()`` with only the env set (plus ``--preset`` / ``--set``), prints one
line per iteration (the windowed training return and success, the greedy policy's success on
fresh episodes every ``--eval-every`` env steps), saves a checkpoint and prints a summary.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import ray
import torch

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.cli import key_values
from rllib_sac_hybrid.envs import PICK_PLACE_ID
from rllib_sac_hybrid.runtime.evaluation import greedy_evaluation


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default=PICK_PLACE_ID, help="a registered gymnasium env id")
    parser.add_argument("--env-steps", type=int, default=12_000, help="env steps to train for")
    parser.add_argument("--preset", default=None, help="named settings (HybridSACConfig.preset), e.g. hil-serl")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="training settings on top")
    parser.add_argument("--eval-every", type=int, default=4000, help="env steps between greedy evaluations")
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--steps-per-iteration", type=int, default=1000, help="env steps between progress lines")
    parser.add_argument("--checkpoint-dir", default="results/demo_checkpoint", help="where the final checkpoint goes")
    args = parser.parse_args(argv)
    if args.env_steps < 1 or args.eval_every < 1 or args.eval_episodes < 1:
        parser.error("--env-steps, --eval-every and --eval-episodes must be >= 1")
    try:
        args.overrides = key_values("--set", args.set)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.torch_threads)  # learner and env runner share this process
    config = HybridSACConfig().environment(args.env)
    if args.preset:
        config = config.preset(args.preset)
    config = (
        config.training(**args.overrides)
        .reporting(min_sample_timesteps_per_iteration=args.steps_per_iteration)
        .debugging(seed=args.seed)
    )
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, ignore_reinit_error=True)
    algo = config.build_algo()
    print(f"HybridSAC on {args.env}: {args.preset or 'defaults'} {args.overrides or ''}, {args.env_steps} env steps")
    print(
        "return, success: the last 10 training episodes (exploring); greedy: the deterministic policy on fresh episodes"
    )
    columns = ("iter", 4), ("env steps", 9), ("return", 9), ("success", 7), ("greedy", 7), ("alpha", 7), ("critic", 8)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'secs':>6}")
    start, steps, result, greedy, next_eval = time.time(), 0, {}, {}, args.eval_every
    try:
        while steps < args.env_steps:
            result = algo.train()
            steps = int(result["num_env_steps_sampled_lifetime"])
            runners = result["env_runners"]
            evaluated = ""
            if steps >= next_eval or steps >= args.env_steps:
                next_eval += args.eval_every
                greedy = greedy_evaluation(algo.get_module(), args.env, args.eval_episodes, seed=args.seed)
                evaluated = greedy["success_rate"] if not math.isnan(greedy["success_rate"]) else greedy["return_mean"]
                evaluated = f"{evaluated:.2f}"
            learner = result["learners"].get("default_policy", {})
            print(
                f"{result['training_iteration']:>4} {steps:>9} {runners['episode_return_windowed']:>9.2f} "
                f"{runners['episode_success_rate_windowed']:>7.2f} {evaluated:>7} "
                f"{learner.get('temperature', float('nan')):>7.3f} {learner.get('critic_loss', float('nan')):>8.3f} "
                f"{time.time() - start:>6.0f}",
                flush=True,
            )
        checkpoint = algo.save_to_path(os.path.abspath(args.checkpoint_dir))
    finally:
        algo.stop()
    runners = result["env_runners"]
    summary = {
        "env": args.env,
        "env_steps": steps,
        "training_return": round(runners["episode_return_windowed"], 3),
        "training_success": round(runners["episode_success_rate_windowed"], 3),
        "greedy_return": round(greedy["return_mean"], 3),
        "greedy_success": round(greedy["success_rate"], 3),
        "greedy_episodes": args.eval_episodes,
        "wall_seconds": round(time.time() - start, 1),
        "checkpoint": checkpoint,
    }
    print("\nSummary")
    for key, value in summary.items():
        print(f"  {key:<18} {value}")
    return summary


if __name__ == "__main__":
    main()
