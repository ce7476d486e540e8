"""Learning curves of HybridSAC on the built-in tasks: training and greedy success, per seed.

    python benchmarks/learning.py --task pick-place --seeds 0 1 2 --max-env-steps 20000
    python benchmarks/learning.py --task grasp-carry --settings defaults pick-place-recipe
    python benchmarks/learning.py --task grasp-carry --set temperature_init=0.01 n_step=3
    python benchmarks/learning.py --task gym-hil-pick-cube --demos 20 --runners 1 --async-sampling \
        --max-env-steps 10000 --eval-every 5000 --settings defaults preset:hil-serl --seeds 0 1 2
    python benchmarks/learning.py --task gym-hil-pick-cube --runners 1 --async-sampling \
        --env-config "simulated_human={'intervention_prob': 0.05, 'decay_steps': 5000}"
    python benchmarks/learning.py --task gym-hil-pick-cube-pixels --demos 20 --runners 1 --async-sampling \
        --set train_batch_size_per_learner=64 freeze_image_backbone=True "image_backbone_weights='backbone.pt'"

Each run trains ``HybridSACConfig()`` with only the env set (``--settings defaults``), a preset
(``preset:<name>``), or ``pick-place-recipe`` (``envs.PICK_PLACE_TRAINING``, the tuned settings
earlier versions shipped), plus any ``--set key=value`` (values are Python literals). Every
iteration it records the training figures, and every ``--eval-every`` env steps also the greedy ones:

- the training return and success rate over the last ``--window`` finished episodes (the
  exploring policy; HybridSAC's ``episode_*_windowed`` metrics, not RLlib's per-iteration mean);
- the greedy policy's success rate and return on ``--eval-episodes`` fresh episodes
  (``evaluation.greedy_evaluation``).

Writes ``benchmarks/results/learning_<task>.{csv,png}`` and prints, per run, the env steps and
seconds at which training and greedy success first reached ``--target``, and from when training
success stayed at or above it to the end of the run.

``gym-hil-pick-cube`` (needs the gym-hil extra) trains on gym-hil's sparse reward: its dense reward
pays hovering near the cube more than finishing (the episode ends on success). Its action is
gym-hil's flat Box with the gripper index last, so ``discrete_action_in_last_dim=True`` is set for
it: that describes the action space, it tunes nothing. The env costs about 30 ms a step here, so
use ``--runners 1 --async-sampling``: the learner trains while the remote runner steps. Its
``simulated_human`` env setting puts the scripted controller in the loop as a human operator
(``envs/simulated_human.py``); the greedy evaluations run without it, and the rows carry the
training episodes' intervention rate. ``gym-hil-pick-cube-pixels`` is the same from two 64x64
cameras drawn at ``render_quality="cpu"``; its run on a CPU: ``docs/research/pixels.md``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import shutil
import signal
import sys
from pathlib import Path

import ray
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import RESULTS, first_at, held_from, record_run, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402
from rllib_sac_hybrid.algorithm import LEARNER_SECONDS_LIFETIME, SAMPLING_SECONDS_LIFETIME
from rllib_sac_hybrid.cli import key_values
from rllib_sac_hybrid.envs import (
    BIMANUAL_ID,
    GRASP_CARRY_ID,
    GYM_HIL_PICK_CUBE_ID,
    GYM_HIL_PICK_CUBE_PIXELS_ID,
    PICK_PLACE_ID,
    PICK_PLACE_PIXELS_ID,
    PICK_PLACE_SPARSE_ID,
    PICK_PLACE_TRAINING,
)
from rllib_sac_hybrid.robot.record import record
from rllib_sac_hybrid.runtime.evaluation import greedy_evaluation

TASKS = {
    "pick-place": PICK_PLACE_ID,
    "pick-place-sparse": PICK_PLACE_SPARSE_ID,
    "pick-place-pixels": PICK_PLACE_PIXELS_ID,
    "grasp-carry": GRASP_CARRY_ID,
    "bimanual": BIMANUAL_ID,
    "pendulum": "Pendulum-v1",
    "gym-hil-pick-cube": GYM_HIL_PICK_CUBE_ID,
    "gym-hil-pick-cube-pixels": GYM_HIL_PICK_CUBE_PIXELS_ID,
}
# --env-config keys win. The pixel task: sparse, its camera at 32x32 (4x fewer pixels than its default 64).
# gym-hil's cameras: 64x64, drawn without shadows or multisampling (docs/guides/cameras.md).
TASK_ENV_CONFIG = {
    "gym-hil-pick-cube": {"reward_type": "sparse"},
    "gym-hil-pick-cube-pixels": {"reward_type": "sparse", "image_size": 64, "render_quality": "cpu"},
    "pick-place-pixels": {"reward_type": "sparse", "image_size": 32},
}
TASK_SPACES = {  # the action layout, not tuning
    "gym-hil-pick-cube": {"discrete_action_in_last_dim": True},
    "gym-hil-pick-cube-pixels": {"discrete_action_in_last_dim": True},
}
FIELDS = ("settings", "seed", "env_steps", "seconds", "train_return", "train_success", "greedy_return",
          "greedy_success", "intervention_rate", "temperature", "entropy",
          # with reward_classifier=: the env's own success in training, the classifier's agreement with it
          "train_env_success", "classifier_precision", "classifier_recall",
          # seconds since the start spent waiting for samples / in learner updates (the driver's view)
          "sampling_seconds", "learner_seconds")  # fmt: skip


def env_config(task: str, args: argparse.Namespace) -> dict:
    return {**TASK_ENV_CONFIG.get(task, {}), **key_values("--env-config", args.env_config, "reward_type=sparse")}


def make_config(task: str, settings: str, seed: int, overrides: dict, args: argparse.Namespace) -> HybridSACConfig:
    config = (
        HybridSACConfig()
        .environment(TASKS[task], env_config=env_config(task, args))
        .training(**TASK_SPACES.get(task, {}))
    )
    if settings == "pick-place-recipe":
        config = config.training(**PICK_PLACE_TRAINING)
    elif settings.startswith("preset:"):
        config = config.preset(settings.split(":", 1)[1])
    elif settings != "defaults":
        raise ValueError(f"--settings {settings!r} is unknown; allowed: defaults, pick-place-recipe, preset:<name>")
    if args.demos:
        config = config.training(demonstrations=demo_dir(task, args))
    return (
        config.training(**overrides)
        .training(learner_torch_threads=args.threads, async_sampling=args.async_sampling)
        .env_runners(num_env_runners=args.runners)
        .reporting(min_sample_timesteps_per_iteration=1000, metrics_num_episodes_for_smoothing=args.window)
        .debugging(seed=seed)
    )


def demo_dir(task: str, args: argparse.Namespace) -> str:
    """``--demos`` scripted episodes of the task, recorded once per env config
    (``python -m rllib_sac_hybrid.robot.record``)."""
    config = env_config(task, args)
    digest = hashlib.sha1(repr(sorted(config.items())).encode()).hexdigest()[:8]
    path = RESULTS / f"demos_{task}_{args.demos}_{digest}"
    if not path.is_dir():
        # Recorded aside and renamed when complete: runs started together must not read a half-written folder.
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
        summary = record(TASKS[task], args.demos, str(partial), "scripted", seed=10_000, env_config=config)
        try:
            partial.rename(path)
        except OSError:  # another run finished first: its recording is the same (same seed)
            shutil.rmtree(partial, ignore_errors=True)
        print(f"recorded {summary['episodes']} scripted demonstrations, {summary['steps']} steps, in {path}")
    return str(path)


def run(task: str, settings: str, seed: int, args: argparse.Namespace, overrides: dict, rows: list[dict]) -> None:
    """Trains one run, appending a row to ``rows`` per iteration (kept if the run is stopped), and
    records it in ``results/learning.jsonl``."""
    algo = make_config(task, settings, seed, overrides, args).build_algo()
    label = (
        settings + (f" + {args.demos} demos" if args.demos else "") + "".join(f" {k}={v}" for k, v in overrides.items())
    )
    alone = {k: v for k, v in env_config(task, args).items() if k != "simulated_human"}  # the policy alone

    def greedy(algo, steps: int) -> dict:
        figures = greedy_evaluation(algo.get_module(), TASKS[task], args.eval_episodes, seed=seed, env_config=alone)
        return {"greedy_return": figures["return_mean"], "greedy_success": figures["success_rate"]}

    def classifier(result: dict) -> dict:
        runners = result["env_runners"]
        return {
            "train_env_success": runners.get("episode_env_success_rate_windowed", math.nan),
            "classifier_precision": runners.get("reward_classifier_precision_windowed", math.nan),
            "classifier_recall": runners.get("reward_classifier_recall_windowed", math.nan),
            "entropy": result["learners"].get("default_policy", {}).get("entropy", math.nan),
            "sampling_seconds": result.get("timers", {}).get(SAMPLING_SECONDS_LIFETIME, math.nan),
            "learner_seconds": result.get("timers", {}).get(LEARNER_SECONDS_LIFETIME, math.nan),
        }

    curve: list[dict] = []
    finished = False
    try:
        train_until(algo, args.max_env_steps, label=f"{label} seed {seed}", evaluate=greedy,
                    eval_every=args.eval_every, extra=classifier, rows=curve)  # fmt: skip
        finished = True
        if args.save:
            name = label.replace(" ", "_").replace(":", "-") + (f"_{args.tag}" if args.tag else "")
            path = RESULTS / "checkpoints" / f"{task}_{name}_seed{seed}"
            algo.save_to_path(str(path.resolve()))
            print(f"saved the final algorithm to {path}")
    finally:
        algo.stop()
        rows += [{"settings": label, "seed": seed, **{k: row.get(k, math.nan) for k in FIELDS[2:]}} for row in curve]
        if curve and args.record:
            settings_used = {"settings": settings, "demos": args.demos, "overrides": overrides,
                             "env_config": env_config(task, args), "runners": args.runners,
                             "async_sampling": args.async_sampling, "threads": args.threads,
                             "window": args.window, "eval_episodes": args.eval_episodes}  # fmt: skip
            record_run("learning", task=task, label=label, seed=seed, settings=settings_used, curve=curve,
                       finished=finished, command=" ".join(["python benchmarks/learning.py", *sys.argv[1:]]),
                       summary=summarise(curve, args.target))  # fmt: skip


def summarise(curve: list[dict], target: float) -> dict:
    """The figures a results table shows: when training and greedy success (or the return) first
    reached the target, from when training success held it, and the final figures."""
    metric = "success" if any(not math.isnan(r.get("train_success", math.nan)) for r in curve) else "return"
    final = ("env_steps", "seconds", "train_return", "train_success", "greedy_return", "greedy_success")
    out: dict = {"metric": metric, "target": target, "final": {k: curve[-1].get(k) for k in final}}
    last = curve[-1]
    # Rates over the training iterations only (greedy evaluations excluded): env steps per second,
    # and the learner's share of the driver's time.
    train_seconds = sum(r.get("iteration_seconds", math.nan) for r in curve)
    out["env_steps_per_s"] = last["env_steps"] / train_seconds if train_seconds > 0 else None
    learner = last.get("learner_seconds", math.nan)
    out["learner_share"] = learner / train_seconds if train_seconds > 0 and not math.isnan(learner) else None
    for kind in ("train", "greedy"):
        hit = first_at(curve, f"{kind}_{metric}", target)
        out[f"{kind}_first"] = {"env_steps": hit["env_steps"], "seconds": hit["seconds"]} if hit else None
    held = held_from(curve, f"train_{metric}", target)
    out["train_held_from"] = held["env_steps"] if held else None
    return out


def _first(curve: list[dict], key: str, target: float) -> str:
    hit = first_at(curve, key, target)
    return f"{hit['env_steps']:,} ({hit['seconds']:.0f} s)" if hit else f"> {curve[-1]['env_steps']:,}"


def _held(curve: list[dict], key: str, target: float) -> str:
    row = held_from(curve, key, target)
    return f"{row['env_steps']:,}" if row else "never"


def plot(rows: list[dict], task: str, target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = "success" if not all(math.isnan(r["train_success"]) for r in rows) else "return"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    runs = sorted({(r["settings"], r["seed"]) for r in rows})
    colors = {run: f"C{i}" for i, run in enumerate(runs)}
    for ax, kind in zip(axes, ("train", "greedy")):
        for settings, seed in runs:
            curve = [r for r in rows if r["settings"] == settings and r["seed"] == seed]
            curve = [r for r in curve if not math.isnan(r[f"{kind}_{metric}"])]  # greedy: evaluated rows only
            steps, values = [r["env_steps"] for r in curve], [r[f"{kind}_{metric}"] for r in curve]
            label = f"{settings}, seed {seed}" if kind == "greedy" else None  # one legend of the runs, right
            ax.plot(steps, values, color=colors[(settings, seed)], alpha=0.85, label=label,
                    marker="o" if kind == "greedy" else None, ms=3)  # fmt: skip
            own = [r for r in curve if not math.isnan(r.get("train_env_success", math.nan))]
            if kind == "train" and metric == "success" and own:  # a classifier's run: the env's own flag too
                ax.plot([r["env_steps"] for r in own], [r["train_env_success"] for r in own], ls="--", alpha=0.85,
                        color=colors[(settings, seed)], label=f"seed {seed}, the env's own success")  # fmt: skip
        if metric == "success":
            ax.axhline(target, color="k", ls=":", lw=1)
        ax.set_xlabel("env steps")
        ax.set_title("training (exploring, windowed)" if kind == "train" else "greedy (fresh episodes)")
    axes[0].set_ylabel(f"{metric} rate" if metric == "success" else "return")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(f"HybridSAC on {TASKS[task]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), default="pick-place")
    parser.add_argument("--settings", nargs="+", default=["defaults"],
                        help="defaults, pick-place-recipe or preset:<name>; one run per entry and seed")  # fmt: skip
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="training settings on top")
    parser.add_argument("--env-config", nargs="*", default=[], metavar="KEY=VALUE", help="env keyword arguments")
    parser.add_argument("--demos", type=int, default=0, help="scripted demonstration episodes (demonstrations=)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-env-steps", type=int, default=20_000)
    parser.add_argument("--eval-every", type=int, default=2000, help="env steps between greedy evaluations")
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--window", type=int, default=30, help="training episodes the windowed metrics cover")
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the learner")
    parser.add_argument("--runners", type=int, default=0, help="remote EnvRunners (0: sample in the driver)")
    parser.add_argument("--async-sampling", action="store_true", help="runners step on while the learner trains")
    parser.add_argument("--tag", default="", help="suffix of the output files")
    parser.add_argument("--no-record", dest="record", action="store_false",
                        help="do not append the runs to benchmarks/results/learning.jsonl")  # fmt: skip
    parser.add_argument("--save", action="store_true", help="save each run's final algorithm under results/checkpoints")
    parser.add_argument("--merge", nargs="+", default=None, metavar="CSV",
                        help="train nothing: merge these tables (e.g. seeds run in parallel)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.merge:
        rows = [row for path in args.merge for row in read_rows(Path(path))]
        report(rows, args)
        return rows
    if args.max_env_steps < 1 or args.eval_every < 1 or args.eval_episodes < 1 or args.window < 1:
        raise ValueError("--max-env-steps, --eval-every, --eval-episodes and --window must be >= 1")
    if args.async_sampling and args.runners < 1:
        raise ValueError("--async-sampling needs --runners >= 1 (remote runners that step while the learner trains)")
    overrides = key_values("--set", args.set, "temperature_init=0.01")
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill PID stops it as Ctrl-C does
    rows: list[dict] = []
    try:
        for settings in args.settings:
            for seed in args.seeds:
                run(args.task, settings, seed, args, overrides, rows)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the curves so far are still written
        print(f"stopped after {len(rows)} iterations; writing what was measured", flush=True)
    finally:
        ray.shutdown()
    report(rows, args)
    return rows


def read_rows(path: Path) -> list[dict]:
    """A table this script wrote, numbers as numbers (columns it did not have yet: NaN)."""

    def value(key: str, text: str | None):
        if key == "settings":
            return text
        if key in ("seed", "env_steps"):
            return int(text)
        return float(text) if text not in (None, "") else math.nan

    with open(path, newline="") as f:
        return [{k: value(k, row.get(k)) for k in FIELDS} for row in csv.DictReader(f)]


def report(rows: list[dict], args: argparse.Namespace) -> None:
    """Writes the table and the curves, and prints per run when training and greedy success
    first reached the target, from when training success held it, and the final figures."""
    if not rows:
        print("no iteration finished: nothing to write")
        return
    stem = RESULTS / f"learning_{args.task}{'_' + args.tag if args.tag else ''}"
    with open(f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.task, args.target, Path(f"{stem}.png"))
    metric = "success" if any(not math.isnan(r["train_success"]) for r in rows) else "return"
    goal = f"{args.target:.0%} success" if metric == "success" else f"a return of {args.target:g}"
    print(f"\n{TASKS[args.task]}: env steps (seconds) to {goal}")
    print(f"{'settings':>40} {'seed':>4} {'training':>18} {'held from':>10} {'greedy':>18} "
          f"{'final train/greedy':>20} {'env steps/s':>11}")  # fmt: skip
    for settings, seed in sorted({(r["settings"], r["seed"]) for r in rows}):
        curve = [r for r in rows if r["settings"] == settings and r["seed"] == seed]
        final = f"{curve[-1]['train_' + metric]:.2f} / {curve[-1]['greedy_' + metric]:.2f}"
        rate = curve[-1]["env_steps"] / curve[-1]["seconds"]  # greedy evaluations included
        print(f"{settings:>40} {seed:>4} {_first(curve, 'train_' + metric, args.target):>18} "
              f"{_held(curve, 'train_' + metric, args.target):>10} "
              f"{_first(curve, 'greedy_' + metric, args.target):>18} {final:>20} {rate:>11.1f}")  # fmt: skip
    print(f"curves: {stem}.png, table: {stem}.csv")


if __name__ == "__main__":
    main()
