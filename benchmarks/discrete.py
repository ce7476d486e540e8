"""Discrete-only actions: HybridSAC's SAC for discrete actions against RLlib's own SAC.

    python benchmarks/discrete.py --task cartpole --seeds 0 1 2
    python benchmarks/discrete.py --task mountaincar --seeds 0 1 2 --max-env-steps 50000
    python benchmarks/discrete.py --task cartpole --algos rllib-sac --max-seconds 1200
    python benchmarks/discrete.py --task cartpole --set discount=0.99

Each run trains one algorithm with its defaults and only the env set: ``HybridSACConfig()`` as
it ships plus any ``--set key=value`` (Python literals), and RLlib's ``SACConfig`` as its tuned
MountainCar-v0 example sets it (RLlib has no tuned discrete example for CartPole; the same
settings run there). Every iteration (about
``--report-every`` env steps) it records the mean return of the last 10 finished training
episodes (the exploring policy), and every ``--eval-every`` env steps the greedy policy's mean
return on ``--eval-episodes`` fresh episodes. A run stops when both have reached the task's
target, or at ``--max-env-steps`` / ``--max-seconds``.

Writes ``benchmarks/results/discrete.jsonl`` (one record per run), renders from every record the
table ``benchmarks/results/discrete.md`` (included by the docs) and the curves
``docs/images/discrete_<task>.png``, and prints per run the env steps and seconds at which the
training and the greedy return first reached the target. Both algorithms run the learner and
one env in the driver process with one torch thread.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import ray
import torch
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core.columns import Columns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import RESULTS, first_at, read_runs, record_run, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402
from rllib_sac_hybrid.cli import key_values  # noqa: E402

TABLE = RESULTS / "discrete.md"
IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
TASKS = {"cartpole": ("CartPole-v1", 475.0), "mountaincar": ("MountainCar-v0", -150.0)}
ALGOS = ("hybrid-sac", "rllib-sac")
WINDOW = 10  # training episodes in the training return's mean
TRAIN_RETURN = "episode_return_last_10"


class ReturnWindow(RLlibCallback):
    """The mean return of the last 10 finished training episodes, across iterations (RLlib's
    ``episode_return_mean`` covers one iteration); the same figure for both algorithms. Rewards
    are added up per episode id step by step (``on_episode_step`` runs after every env step, the
    last included): an episode reaches the callbacks in chunks."""

    def __init__(self) -> None:
        super().__init__()
        self._returns: dict = {}

    def on_episode_step(self, *, episode, **kwargs) -> None:
        self._returns[episode.id_] = self._returns.get(episode.id_, 0.0) + float(episode.get_rewards(-1))

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        total = self._returns.pop(episode.id_, 0.0)
        if metrics_logger is not None:
            metrics_logger.log_value(TRAIN_RETURN, total, reduce="mean", window=WINDOW)


def make_algo(algo: str, env: str, seed: int, args: argparse.Namespace):
    if algo == "hybrid-sac":
        config = HybridSACConfig().training(learner_torch_threads=1, **args.overrides).callbacks(ReturnWindow)
    else:
        from ray.rllib.algorithms.sac import SACConfig
        from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

        # RLlib's tuned_examples/sac/mountaincar_sac.py (ray 2.60), one learner.
        config = (
            SACConfig()
            .rl_module(
                model_config=DefaultModelConfig(
                    fcnet_hiddens=[256, 256],
                    fcnet_activation="relu",
                    fcnet_kernel_initializer=torch.nn.init.xavier_uniform_,
                    head_fcnet_hiddens=[],
                    head_fcnet_activation=None,
                    head_fcnet_kernel_initializer="orthogonal_",
                    head_fcnet_kernel_initializer_kwargs={"gain": 0.01},
                )
            )
            .training(
                initial_alpha=1.001,
                actor_lr=2e-4,
                critic_lr=8e-4,
                alpha_lr=9e-4,
                lr=None,
                target_entropy="auto",
                n_step=(2, 5),
                tau=0.005,
                train_batch_size_per_learner=256,
                target_network_update_freq=1,
                replay_buffer_config={
                    "type": "PrioritizedEpisodeReplayBuffer",
                    "capacity": 100000,
                    "alpha": 1.0,
                    "beta": 0.0,
                },
                num_steps_sampled_before_learning_starts=256,
            )
            .callbacks(ReturnWindow)
        )
    return (
        config.environment(env)
        .env_runners(num_env_runners=0)
        .reporting(min_sample_timesteps_per_iteration=args.report_every, metrics_num_episodes_for_smoothing=WINDOW)
        .debugging(seed=seed)
        .build_algo()
    )


def greedy_return(algo, env_id: str, episodes: int, seed: int) -> float:
    """Mean return of the module's greedy action (its ``forward_inference``: HybridSAC's actions,
    or the argmax of RLlib's action logits) on ``episodes`` fresh episodes."""
    module = algo.get_module()
    env = gym.make(env_id)
    returns = []
    with torch.no_grad():
        for i in range(episodes):
            obs, _ = env.reset(seed=1_000_000 + seed * 1000 + i)
            total, done = 0.0, False
            while not done:
                out = module.forward_inference(
                    {Columns.OBS: torch.as_tensor(np.asarray(obs), dtype=torch.float32)[None]}
                )
                action = out[Columns.ACTIONS] if Columns.ACTIONS in out else out[Columns.ACTION_DIST_INPUTS].argmax(-1)
                obs, reward, terminated, truncated, _ = env.step(int(action[0]))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    env.close()
    return float(np.mean(returns))


def run(algo_name: str, task: str, seed: int, args: argparse.Namespace) -> dict:
    env_id, target = TASKS[task]
    algo = make_algo(algo_name, env_id, seed, args)
    rows: list[dict] = []
    state = {"greedy": -math.inf}

    def evaluate(algo, steps: int) -> dict:
        state["greedy"] = greedy_return(algo, env_id, args.eval_episodes, seed)
        return {"greedy_return": state["greedy"]}

    def extra(result: dict) -> dict:
        value = result.get("env_runners", {}).get(TRAIN_RETURN, math.nan)
        return {"train_return_last_10": float(value)}

    def stop(row: dict) -> bool:
        reached = row["train_return_last_10"] >= target and state["greedy"] >= target
        return reached or row["seconds"] >= args.max_seconds

    finished, error = False, None
    try:
        train_until(algo, args.max_env_steps, label=f"{algo_name} {task} seed {seed}", stop=stop, evaluate=evaluate,
                    eval_every=args.eval_every, extra=extra, rows=rows)  # fmt: skip
        finished = True
    except Exception as exc:  # recorded (a run that crashes is a result too), then raised
        error = f"{type(exc).__name__}: {exc}"[:300]
        raise
    finally:
        algo.stop()
        summary = {}
        for key in ("train_return_last_10", "greedy_return"):
            hit = first_at(rows, key, target)
            summary[key] = {"env_steps": hit["env_steps"], "seconds": hit["seconds"]} if hit else None
        summary["target"] = target
        summary["env_steps"] = rows[-1]["env_steps"] if rows else 0
        summary["seconds"] = rows[-1]["seconds"] if rows else 0.0
        summary["error"] = error
        command = " ".join(["python benchmarks/discrete.py", *sys.argv[1:]])
        overrides = args.overrides if algo_name == "hybrid-sac" else {}
        label = algo_name + "".join(f" {k}={v}" for k, v in overrides.items())
        record_run("discrete", task=task, label=label, seed=seed, curve=rows, finished=finished,
                   settings={"overrides": overrides, "max_env_steps": args.max_env_steps,
                             "max_seconds": args.max_seconds},
                   summary=summary, command=command)  # fmt: skip
    return summary


def plot(task: str) -> Path | None:
    """Training and greedy return against env steps, every recorded run of ``task``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    runs = [r for r in read_runs("discrete") if r["task"] == task]
    if not runs:
        return None
    env_id, target = TASKS[task]
    labels = sorted({r["label"] for r in runs})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4 + 0.2 * len(labels)), sharey=True)
    # One colour per label (an algorithm and its overrides); RLlib's SAC always orange.
    palette = iter(["tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"])
    colors = {label: "tab:orange" if label.startswith("rllib-sac") else next(palette, "tab:gray") for label in labels}

    for run_ in runs:
        steps = [row["env_steps"] for row in run_["curve"]]
        axes[0].plot(steps, [row.get("train_return_last_10", math.nan) for row in run_["curve"]],
                     color=colors[run_["label"]], alpha=0.8, lw=1)  # fmt: skip
        evals = [row for row in run_["curve"] if "greedy_return" in row]
        axes[1].plot([row["env_steps"] for row in evals], [row["greedy_return"] for row in evals], marker=".",
                     color=colors[run_["label"]], alpha=0.8, lw=1)  # fmt: skip
    for ax, title in zip(axes, ("training: last 10 episodes", "greedy: fresh episodes")):
        ax.axhline(target, color="grey", ls="--", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("env steps")
    axes[0].set_ylabel("return")
    handles = [plt.Line2D([], [], color=colors[label], label=label) for label in labels]
    fig.legend(handles=handles, loc="lower center", ncol=1, frameon=False)  # below the plots, covering none
    fig.suptitle(f"Discrete-only SAC on {env_id} (each line one seed)")
    fig.tight_layout(rect=(0, 0.01 + 0.04 * len(labels), 1, 1))
    path = IMAGES / f"discrete_{task}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def table(runs: list[dict]) -> str:
    """Per task, algorithm and seed (its newest record): env steps and seconds until the training
    and the greedy return first reached the target, the figures at the end, the speed, and how
    the run ended (both targets reached, the budget spent, or an error)."""
    newest: dict = {}
    for run_ in runs:
        newest[(run_["task"], run_["label"], run_["seed"])] = run_
    lines = [
        "<!-- Rendered from benchmarks/results/discrete.jsonl by benchmarks/discrete.py; do not edit. -->",
        "",
        "| task (target) | algorithm | seed | training: env steps (s) to target | greedy: env steps (s) to target "
        "| at the end: env steps, training / greedy return | env steps/s | ended |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def ended(run_: dict) -> str:
        summary = run_["summary"]
        if not run_.get("finished", True):
            return f"error ({summary['error']})" if summary.get("error") else "error"
        both = summary["train_return_last_10"] and summary["greedy_return"]
        return "both targets reached" if both else "budget spent"

    def reached(hit: dict | None) -> str:
        return f"{hit['env_steps']:,} ({hit['seconds']:.0f} s)" if hit else "not reached"

    for (task, label, seed), run_ in sorted(newest.items(), key=lambda kv: (list(TASKS).index(kv[0][0]), kv[0][1:])):
        summary, last = run_["summary"], run_["curve"][-1] if run_["curve"] else {}
        greedy = next((r["greedy_return"] for r in reversed(run_["curve"]) if "greedy_return" in r), math.nan)
        rate = summary["env_steps"] / summary["seconds"] if summary["seconds"] else math.nan
        lines.append(
            f"| {TASKS[task][0]} ({summary['target']:g}) | {label} | {seed} "
            f"| {reached(summary['train_return_last_10'])} | {reached(summary['greedy_return'])} "
            f"| {summary['env_steps']:,}, "
            f"{last.get('train_return_last_10', math.nan):.0f} / {greedy:.0f} | {rate:.0f} | {ended(run_)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), default="cartpole")
    parser.add_argument("--algos", nargs="+", choices=ALGOS, default=list(ALGOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--max-env-steps", type=int, default=30_000)
    parser.add_argument("--max-seconds", type=float, default=math.inf, help="wall-clock budget per run")
    parser.add_argument("--eval-every", type=int, default=2_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--report-every", type=int, default=500, help="env steps per train() iteration")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="HybridSAC settings")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from the recorded runs")
    args = parser.parse_args(argv)
    args.overrides = key_values("--set", args.set, "discount=0.99")
    if not args.plot_only:
        torch.set_num_threads(1)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        results = {(a, s): run(a, args.task, s, args) for s in args.seeds for a in args.algos}
        ray.shutdown()
        env_id, target = TASKS[args.task]
        print(f"\n{env_id}: env steps (seconds) until the return reached {target}")
        for (algo, seed), summary in results.items():
            cells = []
            for key in ("train_return_last_10", "greedy_return"):
                hit = summary[key]
                cells.append(f"{hit['env_steps']} ({hit['seconds']:.0f} s)" if hit else "not reached")
            budget = f"ran {summary['env_steps']} steps, {summary['seconds']:.0f} s"
            print(f"  {algo:<10} seed {seed}: training {cells[0]:<18} greedy {cells[1]:<18} {budget}")
    path = plot(args.task)
    if path:
        print(f"figure: {path}")
    TABLE.write_text(table(read_runs("discrete")))
    print(f"table: {TABLE}")


if __name__ == "__main__":
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    main()
