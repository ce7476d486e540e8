"""Wall clock to a solved task: HybridSAC against Stable-Baselines3's SAC, run back to back.

    python benchmarks/vs_sb3.py                                   # Pendulum and pick-and-place, seed 0
    python benchmarks/vs_sb3.py --tasks pendulum --seeds 0 1 2 --hybrid defaults preset:droq
    python benchmarks/vs_sb3.py --tasks pendulum --no-sb3 --set critic_value_bins=None   # settings on top
    python benchmarks/vs_sb3.py --tasks grasp-carry --hybrid                             # SB3 only
    python benchmarks/vs_sb3.py --tasks reacher inverted-pendulum                        # MuJoCo, untuned

Both systems train on the same env in this process, with the same torch threads, until the same
criterion first holds: the mean of the last 10 finished training episodes reaches the task's
target (Pendulum-v1: return -200; the built-in pick-and-place and GraspCarry: success rate 0.8;
MuJoCo's InvertedPendulum-v5: return 950 of 1,000; InvertedDoublePendulum-v5: 9,000 of about
9,350; Reacher-v5: return -6, tasks nothing here was tuned on).
Each run's clock starts when its algorithm is built (``build_algo()`` / ``SAC(...)``) and stops at the episode
end that meets the criterion; Ray's start-up is not counted.

- SB3 (``stable-baselines3``, in the ``bench`` extra): Pendulum with rl-zoo's settings
  (``learning_rate=1e-3``, the rest SB3's defaults); the other tasks with SB3's defaults. SB3 has
  no hybrid actions, so its pick-and-place (and GraspCarry) action is a 3-dim Box whose last component is
  thresholded into the gripper's three choices (< -1/3, between, > 1/3).
- HybridSAC: ``HybridSACConfig()`` with only the env set (``defaults``), or a preset
  (``preset:<name>``), sampling in the driver (no remote runner), as SB3 does.

Prints env steps and seconds to the target per run and the ratio of wall times; writes
``benchmarks/results/vs_sb3.csv`` (``vs_sb3_<tag>.csv`` with ``--tag``).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import deque
from pathlib import Path

import gymnasium as gym
import numpy as np
import ray
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

import rllib_sac_hybrid.envs as envs  # noqa: E402
from benchmarks.common import record_run, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402
from rllib_sac_hybrid.cli import key_values  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
# task: (env id, the windowed metric, its target, env steps at most)
TASKS = {
    "pendulum": ("Pendulum-v1", "return", -200.0, 20_000),
    "pick-place": (envs.PICK_PLACE_ID, "success", 0.8, 40_000),
    # The learning issue's carry task: long horizon, rare events (+1 first grasp, +10 release at the goal).
    "grasp-carry": (envs.GRASP_CARRY_ID, "success", 0.8, 60_000),
    # Tasks nothing here was tuned on (MuJoCo, gymnasium's v5): a first-run check of the defaults.
    "inverted-pendulum": ("InvertedPendulum-v5", "return", 950.0, 30_000),
    "reacher": ("Reacher-v5", "return", -6.0, 40_000),
    "inverted-double-pendulum": ("InvertedDoublePendulum-v5", "return", 9000.0, 40_000),
}
WINDOW = 10
SB3_SETTINGS = {"pendulum": {"learning_rate": 1e-3}}  # rl-zoo's Pendulum; SB3's defaults elsewhere


class ThresholdedGripper(gym.ActionWrapper):
    """The built-in task's (Box(2), Discrete(3)) action as one Box(3) for SB3: the last component
    picks the gripper's choice by thirds of [-1, 1]."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        motion, _ = env.action_space
        self.action_space = gym.spaces.Box(-1.0, 1.0, (motion.shape[0] + 1,), np.float32)

    def action(self, action: np.ndarray):
        choice = 0 if action[-1] < -1 / 3 else 2 if action[-1] > 1 / 3 else 1
        return np.asarray(action[:-1], np.float32), choice


def run_sb3(task: str, seed: int, threads: int) -> dict:
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    env_id, metric, target, max_steps = TASKS[task]
    env = gym.make(env_id)
    if isinstance(env.action_space, gym.spaces.Tuple):  # a hybrid task: SB3 needs one Box
        env = ThresholdedGripper(env)
    torch.set_num_threads(threads)

    class Criterion(BaseCallback):
        """Stops at the first episode end where the last ``WINDOW`` episodes meet the target."""

        def __init__(self) -> None:
            super().__init__()
            self.returns: deque[float] = deque(maxlen=WINDOW)
            self.successes: deque[float] = deque(maxlen=WINDOW)
            self.running, self.reached, self.curve = 0.0, None, []

        def _on_step(self) -> bool:
            self.running += float(self.locals["rewards"][0])
            if not self.locals["dones"][0]:
                return True
            info = self.locals["infos"][0]
            self.returns.append(self.running)
            self.successes.append(float(bool(info.get("is_success", False))))
            self.running = 0.0
            value = np.mean(self.returns if metric == "return" else self.successes)
            point = (self.num_timesteps, float(value), time.monotonic() - start, float(np.mean(self.returns)))
            self.curve.append(point)
            if len(self.returns) == WINDOW and value >= target:
                self.reached = (self.num_timesteps, time.monotonic() - start)
                return False
            return True

    start = time.monotonic()
    model = SAC("MlpPolicy", env, seed=seed, verbose=0, **SB3_SETTINGS.get(task, {}))
    criterion = Criterion()
    model.learn(total_timesteps=max_steps, callback=criterion)
    return _summary("SB3 SAC", task, seed, criterion.reached, criterion.curve, time.monotonic() - start)


def run_hybrid(task: str, settings: str, seed: int, threads: int, extra: dict | None = None) -> dict:
    """``extra``: settings on top (``--set``), named in the system's label."""
    env_id, metric, target, max_steps = TASKS[task]
    config = HybridSACConfig().environment(env_id)
    if settings.startswith("preset:"):
        config = config.preset(settings.split(":", 1)[1])
    elif settings != "defaults":
        raise ValueError(f"--hybrid {settings!r} is unknown; allowed: defaults or preset:<name>")
    config = (
        config.training(**(extra or {}), learner_torch_threads=threads)
        .env_runners(num_env_runners=0)
        # Checked every 200 env steps (one Pendulum episode); the windowed metrics span iterations.
        .reporting(min_sample_timesteps_per_iteration=200, metrics_num_episodes_for_smoothing=WINDOW)
        .debugging(seed=seed)
    )
    torch.set_num_threads(threads)
    start = time.monotonic()
    algo = config.build_algo()
    offset = time.monotonic() - start  # the clock includes building the algorithm, as SB3's includes SAC(...)
    metric_key = "train_return" if metric == "return" else "train_success"
    rows: list[dict] = []
    try:
        train_until(algo, max_steps, label=f"{task} seed {seed}", rows=rows,
                    stop=lambda row: row["episodes"] >= WINDOW and row[metric_key] >= target)  # fmt: skip
    finally:
        algo.stop()
    curve = [(r["env_steps"], r[metric_key], r["seconds"] + offset, r["train_return"]) for r in rows]
    hit = rows[-1] if rows and rows[-1]["episodes"] >= WINDOW and rows[-1][metric_key] >= target else None
    reached = (hit["env_steps"], hit["seconds"] + offset) if hit else None
    label = " ".join([settings, *(f"{k}={v}" for k, v in (extra or {}).items())])
    summary = _summary(f"HybridSAC {label}", task, seed, reached, curve, time.monotonic() - start)
    record_run("vs_sb3", task=task, label=f"HybridSAC {label}", seed=seed, curve=rows,
               settings={"settings": settings, **(extra or {}), "threads": threads},
               summary={"env_steps": summary["env_steps"], "seconds": summary["seconds"]})  # fmt: skip
    return summary


def _summary(system: str, task: str, seed: int, reached, curve, seconds: float) -> dict:
    steps, wall = reached if reached else (math.nan, math.nan)
    if reached:
        label = f"{steps:,} env steps, {wall:.1f} s"
    else:  # where it got to: the best window, and the last (with the windowed return there)
        best = max(curve, key=lambda point: point[1] if point[1] == point[1] else -math.inf)
        label = (f"not reached in {curve[-1][0]:,} env steps (best window {best[1]:.2f} at {best[0]:,}, "
                 f"last {curve[-1][1]:.2f}, return {curve[-1][3]:.2f})")  # fmt: skip
    print(f"{task} {system} seed {seed}: {label} ({seconds:.1f} s in all)", flush=True)
    return {"task": task, "system": system, "seed": seed, "env_steps": steps, "seconds": wall, "curve": curve,
            "total_seconds": seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["pendulum", "pick-place"])
    parser.add_argument("--hybrid", nargs="*", default=["defaults"], help="defaults or preset:<name>; none: SB3 only")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads of both systems")
    parser.add_argument("--no-sb3", action="store_true", help="HybridSAC only")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="HybridSAC settings on top")
    parser.add_argument("--tag", default="", help="suffix of the CSV (e.g. seeds run side by side)")
    args = parser.parse_args(argv)
    extra = key_values("--set", args.set, "critic_value_bins=None")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    runs = []
    try:
        for task in args.tasks:
            for seed in args.seeds:
                if not args.no_sb3:
                    runs.append(run_sb3(task, seed, args.threads))
                runs += [run_hybrid(task, settings, seed, args.threads, extra) for settings in args.hybrid]
    finally:
        ray.shutdown()
    report(runs, args.threads, args.tag)
    return runs


def report(runs: list[dict], threads: int, tag: str = "") -> None:
    print(f"\nTo the target (mean of the last {WINDOW} episodes), {threads} torch thread(s), back to back:")
    print(f"{'task':>10} {'system':>28} {'seed':>4} {'env steps':>10} {'seconds':>8} {'env steps/s':>11} {'x SB3':>6}")
    for run in runs:
        sb3 = next(
            (r for r in runs if r["system"] == "SB3 SAC" and r["task"] == run["task"] and r["seed"] == run["seed"]),
            None,
        )
        if sb3 is None or run["seconds"] != run["seconds"]:
            ratio = "-"
        elif sb3["seconds"] == sb3["seconds"]:
            ratio = f"{run['seconds'] / sb3['seconds']:.2f}"
        else:  # SB3 did not get there: its whole run bounds the ratio
            ratio = f"<{run['seconds'] / sb3['total_seconds']:.2f}"
        rate = run["env_steps"] / run["seconds"] if run["seconds"] == run["seconds"] else math.nan
        steps = f"{run['env_steps']:,}" if run["seconds"] == run["seconds"] else f">{run['curve'][-1][0]:,}"
        print(f"{run['task']:>10} {run['system']:>28} {run['seed']:>4} {steps:>10} "
              f"{run['seconds']:>8.1f} {rate:>11.1f} {ratio:>6}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / (f"vs_sb3_{tag}.csv" if tag else "vs_sb3.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "system", "seed", "env_steps", "windowed", "seconds", "return_windowed"])
        for run in runs:
            writer.writerows([run["task"], run["system"], run["seed"], *point] for point in run["curve"])
    print(f"curves: {path}")


if __name__ == "__main__":
    main()
