"""Sample efficiency on Pendulum-v1: REDQ-like settings vs plain SAC settings.

Prints, per setting and seed, the env steps and wall seconds until the mean return of the last
10 training episodes (``episode_return_windowed``, across iterations) first reaches -250 and
-200 (RLlib's own SAC learning test asks for -250 within 20,000 steps), writes the learning
curves to CSV and a PNG.

    python benchmarks/pendulum.py                                  # both settings, seed 0
    python benchmarks/pendulum.py --settings redq --hidden 256 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from pathlib import Path

import ray
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import first_at, record_run, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402

SETTINGS = {
    # REDQ (Chen et al. 2021): 10 critics, min over 2 random target heads, 20 critic updates per env step
    "redq": dict(num_critics=10, num_subsample_critics=2, utd_ratio=20, actor_q_reduction="mean"),
    # SAC: twin critics, one update per env step
    "sac": dict(num_critics=2, num_subsample_critics=None, utd_ratio=1, actor_q_reduction="min"),
}
THRESHOLDS = (-250.0, -200.0)


def run(setting: str, seed: int, args: argparse.Namespace) -> dict:
    hidden = (args.hidden, args.hidden)
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .training(
            **SETTINGS[setting],
            actor_hidden_dims=hidden,
            critic_hidden_dims=hidden,
            encoder_latent_dim=args.hidden,
            num_random_steps=args.random_steps,
            learner_torch_threads=args.torch_threads,
        )
        .env_runners(rollout_fragment_length=1)
        .reporting(min_sample_timesteps_per_iteration=args.report_every, metrics_num_episodes_for_smoothing=10)
        .debugging(seed=seed)
    )
    algo = config.build_algo()
    rows: list[dict] = []
    try:
        train_until(algo, args.max_env_steps[setting], label=f"{setting} seed {seed}", rows=rows,
                    stop=lambda row: row["train_return"] >= THRESHOLDS[-1])  # fmt: skip
    finally:
        algo.stop()
    reached = {}
    for threshold in THRESHOLDS:
        hit = first_at(rows, "train_return", threshold)
        reached[threshold] = (hit["env_steps"], hit["seconds"]) if hit else None
    curve = [(r["env_steps"], r["train_return"], r["seconds"]) for r in rows]
    record_run("pendulum", task="pendulum", label=setting, seed=seed, curve=rows,
               settings={**SETTINGS[setting], "hidden": args.hidden, "torch_threads": args.torch_threads},
               summary={"reached": {str(k): v for k, v in reached.items()}})  # fmt: skip
    return {"setting": setting, "seed": seed, "curve": curve, "reached": reached}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=["redq", "sac"], choices=sorted(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--hidden", type=int, default=256, help="width of encoder and hidden layers")
    parser.add_argument("--random-steps", type=int, default=1000)
    parser.add_argument("--report-every", type=int, default=250, help="env steps per train() iteration")
    parser.add_argument("--redq-max-env-steps", type=int, default=8000)
    parser.add_argument("--sac-max-env-steps", type=int, default=20000)
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.max_env_steps = {"redq": args.redq_max_env_steps, "sac": args.sac_max_env_steps}
    torch.set_num_threads(args.torch_threads)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)

    runs = [run(setting, seed, args) for setting in args.settings for seed in args.seeds]
    ray.shutdown()

    print(f"\nPendulum-v1, hidden {args.hidden}x{args.hidden}, {args.torch_threads} torch threads")
    header = f"{'setting':<6} {'seed':>4} " + " ".join(
        f"{'steps@' + str(int(t)):>11} {'secs@' + str(int(t)):>10}" for t in THRESHOLDS
    )
    print(header)
    for r in runs:
        cells = []
        for t in THRESHOLDS:
            hit = r["reached"][t]
            cells.append(f"{hit[0]:>11} {hit[1]:>10.0f}" if hit else f"{'not reached':>11} {'-':>10}")
        print(f"{r['setting']:<6} {r['seed']:>4} " + " ".join(cells))

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "pendulum_curves.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["setting", "seed", "env_steps", "return_mean", "wall_seconds"])
        for r in runs:
            writer.writerows([r["setting"], r["seed"], *point] for point in r["curve"])
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"curves: {args.out / 'pendulum_curves.csv'} (install matplotlib for a PNG)")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        steps, rets = [p[0] for p in r["curve"]], [p[1] if not math.isnan(p[1]) else None for p in r["curve"]]
        ax.plot(steps, rets, label=f"{r['setting']} seed {r['seed']}")
    for t in THRESHOLDS:
        ax.axhline(t, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("env steps")
    ax.set_ylabel("mean return (last 5 episodes)")
    ax.set_title(f"HybridSAC on Pendulum-v1 ({args.hidden}x{args.hidden} nets)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "pendulum_curves.png", dpi=120)
    print(f"curves: {args.out / 'pendulum_curves.csv'}, {args.out / 'pendulum_curves.png'}")


if __name__ == "__main__":
    main()
