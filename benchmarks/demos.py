"""Env steps to 80% success with sparse reward, with and without 20 scripted demonstrations
mixed into every batch (RLPD-style, online_ratio 0.5): the built-in pick-and-place, or gym-hil's
pick-cube (``--task gym-hil``, needs the gym-hil extra).

    python benchmarks/demos.py --seeds 0 1 --max-env-steps 30000
    python benchmarks/demos.py --task gym-hil --max-env-steps 10000

Records the demonstrations once (``python -m rllib_sac_hybrid.robot.record`` does the same), then
trains each setting per seed until the training success rate (mean over the last 30 episodes,
the exploring policy) reaches ``--target`` or ``--max-env-steps`` pass. Writes
``benchmarks/results/demos_<task>.{csv,png}`` and prints env steps and seconds to the target.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import ray
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import record_run, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402
from rllib_sac_hybrid.envs import PICK_PLACE_TRAINING  # noqa: E402
from rllib_sac_hybrid.robot.record import record  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
# task -> (env id, env config, extra training settings)
TASKS = {
    "pick-place": ("rllib_sac_hybrid/PickPlaceSparse-v0", {}, {}),
    "gym-hil": (
        "rllib_sac_hybrid/GymHilPickCube-v0",
        {"reward_type": "sparse"},
        {"discrete_action_in_last_dim": True, "temperature_init": 0.01},
    ),
}


def config(task: str, seed: int, demonstrations: str | None) -> HybridSACConfig:
    env, env_config, extra = TASKS[task]
    return (
        HybridSACConfig()
        .environment(env, env_config=env_config)
        .training(
            **{
                **PICK_PLACE_TRAINING,
                "demonstrations": demonstrations,
                "online_ratio": 0.5,
                **extra,  # the task's own settings win
            }
        )
        .env_runners(rollout_fragment_length=8)
        .reporting(min_sample_timesteps_per_iteration=500, metrics_num_episodes_for_smoothing=30)
        .debugging(seed=seed)
    )


def run(name: str, seed: int, demonstrations: str | None, args: argparse.Namespace) -> list[dict]:
    algo = config(args.task, seed, demonstrations).build_algo()
    curve: list[dict] = []
    try:
        train_until(algo, args.max_env_steps, label=f"{name} seed {seed}", rows=curve,
                    stop=lambda row: row["train_success"] >= args.target)  # fmt: skip
    finally:
        algo.stop()
    record_run("demos", task=args.task, label=name, seed=seed, curve=curve,
               settings={"demonstrations": demonstrations is not None, "target": args.target})  # fmt: skip
    return [{"setting": name, "seed": seed, "env_steps": r["env_steps"], "success": r["train_success"],
             "seconds": r["seconds"]} for r in curve]  # fmt: skip


def plot(rows: list[dict], target: float, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = {"no demos": "tab:gray"}
    for setting, seed in sorted({(r["setting"], r["seed"]) for r in rows}):
        curve = [r for r in rows if r["setting"] == setting and r["seed"] == seed]
        ax.plot([r["env_steps"] for r in curve], [r["success"] for r in curve], color=colors.get(setting),
                label=f"{setting}, seed {seed}", alpha=0.9)  # fmt: skip
    ax.axhline(target, color="k", ls=":", lw=1, label=f"{target:.0%} target")
    ax.set_xlabel("env steps")
    ax.set_ylabel("training success rate (last 30 episodes)")
    ax.set_title(title)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), default="pick-place")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--demos", type=int, default=20, help="scripted demonstration episodes")
    parser.add_argument("--max-env-steps", type=int, default=30_000)
    parser.add_argument("--target", type=float, default=0.8)
    args = parser.parse_args()
    if args.demos < 1 or args.max_env_steps < 1 or not 0 < args.target <= 1:
        raise ValueError("--demos and --max-env-steps must be >= 1 and --target in (0, 1]")
    torch.set_num_threads(2)
    RESULTS.mkdir(exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        env, env_config, _ = TASKS[args.task]
        demo_dir = str(RESULTS / f"demos_{args.task}_{args.demos}")
        if not os.path.isdir(demo_dir):
            summary = record(env, args.demos, demo_dir, "scripted", seed=10_000, env_config=env_config)
            print(f"recorded {summary['episodes']} demonstrations, {summary['steps']} steps")
        rows = []
        for seed in args.seeds:
            rows += run(f"{args.demos} demos", seed, demo_dir, args)
            rows += run("no demos", seed, None, args)
    finally:
        ray.shutdown()
    with open(RESULTS / f"demos_{args.task}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    title = f"{env}, sparse reward: {args.demos} scripted demonstrations vs none"
    plot(rows, args.target, title, RESULTS / f"demos_{args.task}.png")
    print(f"\n{env}, training success >= {args.target:.0%}; UTD 1, 64x64 nets, 2-core CPU")
    print(f"{'setting':>10} {'seed':>5} {'env steps to target':>20} {'seconds':>8}")
    for setting in (f"{args.demos} demos", "no demos"):
        for seed in args.seeds:
            curve = [r for r in rows if r["setting"] == setting and r["seed"] == seed]
            hit = next((r for r in curve if r["success"] >= args.target), None)
            steps = f"{hit['env_steps']:,}" if hit else f"> {curve[-1]['env_steps']:,}"
            seconds = f"{hit['seconds']:.0f}" if hit else f"> {curve[-1]['seconds']:.0f}"
            print(f"{setting:>10} {seed:>5} {steps:>20} {seconds:>8}")
    print(f"curves: {RESULTS / f'demos_{args.task}.png'}")


if __name__ == "__main__":
    main()
