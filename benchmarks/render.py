"""Renders the result tables and curves from the run records in ``benchmarks/results/``.

    python -m benchmarks.render          # docs/results.md, docs/images/results_*.png, README's table
    python -m benchmarks.render --check  # exit 1 if any of them differs from what the records give

Nothing here is typed by hand: each table row and curve comes from a ``learning.jsonl`` record
(``benchmarks/learning.py``), the newest record of each task, settings and seed.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, when run as a script

from benchmarks.common import ROOT, read_runs  # noqa: E402

DOCS = ROOT / "docs"
README = ROOT / "README.md"
BEGIN, END = "<!-- results:begin (python -m benchmarks.render) -->", "<!-- results:end -->"
# The README's results table: (task, settings label) in this order; its rows come from the records.
HEADLINE = [
    ("pendulum", "defaults"),
    ("pick-place", "defaults"),
    ("bimanual", "defaults + 20 demos"),
    ("gym-hil-pick-cube", "defaults + 20 demos"),
    (
        "gym-hil-pick-cube-pixels",
        "defaults + 20 demos train_batch_size_per_learner=64 freeze_image_backbone=True "
        "image_backbone_weights=benchmarks/results/backbone_gym-hil-pick-cube-pixels64_20.pt",
    ),
]
TASK_NAMES = {
    "pendulum": "Pendulum-v1",
    "pick-place": "PickPlace-v0 (hybrid)",
    "pick-place-sparse": "PickPlaceSparse-v0 (hybrid)",
    "pick-place-pixels": "PickPlacePixels-v0 (hybrid, camera)",
    "grasp-carry": "GraspCarry-v0 (hybrid)",
    "bimanual": "BimanualPickPlace-v0 (two grippers)",
    "gym-hil-pick-cube": "gym-hil PandaPickCube (state, sparse)",
    "gym-hil-pick-cube-pixels": "gym-hil PandaPickCube (two cameras + arm state, sparse)",
}


def latest(runs: list[dict]) -> dict[tuple[str, str, int], dict]:
    """The newest finished record of each (task, label, seed)."""
    out: dict[tuple[str, str, int], dict] = {}
    for run in runs:
        if run.get("finished", True):
            out[(run["task"], run["label"], run["seed"])] = run  # files are appended in time order
    return out


def groups(runs: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Runs grouped by (task, label), seeds in order."""
    out: dict[tuple[str, str], list[dict]] = {}
    for (task, label, _), run in sorted(latest(runs).items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        out.setdefault((task, label), []).append(run)
    return out


def _steps(hit: dict | None, last: int) -> str:
    return f"{hit['env_steps']:,}" if hit else f"> {last:,}"


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _target(summary: dict) -> str:
    metric, target = summary["metric"], summary["target"]
    return f"success {target:.0%}" if metric == "success" else f"return {target:g}"


def headline_table(runs: list[dict]) -> str:
    """The README's table: one row per headline (task, settings), the seeds side by side."""
    grouped = groups(runs)
    lines = [
        "| task | settings | target (mean of the last episodes) | env steps to target, per seed | "
        "greedy at the end (50 fresh episodes) | seeds | wall time to target | curves |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, label in HEADLINE:
        seeds = grouped.get((task, label))
        if not seeds:
            continue
        summary = seeds[0]["summary"]
        metric = summary["metric"]
        steps = " / ".join(_steps(r["summary"]["train_first"], r["curve"][-1]["env_steps"]) for r in seeds)
        greedy_key = "greedy_success" if metric == "success" else "greedy_return"
        fmt = "{:.2f}" if metric == "success" else "{:.0f}"
        greedy = " / ".join(_num(r["summary"]["final"].get(greedy_key), fmt) for r in seeds)
        seconds = [r["summary"]["train_first"]["seconds"] for r in seeds if r["summary"]["train_first"]]
        wall = "-" if not seconds else f"{min(seconds):.0f}-{max(seconds):.0f} s"
        wall = f"{seconds[0]:.0f} s" if len(seconds) == 1 else wall
        anchor = _anchor(task, label)
        lines.append(
            f"| {TASK_NAMES.get(task, task)} | {label} | {_target(summary)} | {steps} | {greedy} | "
            f"{', '.join(str(r['seed']) for r in seeds)} | {wall} | [curves](docs/results.md#{anchor}) |"
        )
    return "\n".join(lines)


def _title(task: str, label: str) -> str:
    """A section's heading; no "+" so that GitHub's and MkDocs' anchors of it agree."""
    return f"{TASK_NAMES.get(task, task)}: {label.replace(' + ', ', ')}"


def _anchor(task: str, label: str) -> str:
    """The heading's anchor, as MkDocs (and, for these headings, GitHub) makes it."""
    title = re.sub(r"[^\w\s-]", "", _title(task, label)).strip().lower()
    return re.sub(r"[-\s]+", "-", title)


def results_page(runs: list[dict]) -> str:
    """docs/results.md: per task and settings, the seeds' figures, the machine and the curves."""
    lines = [
        "# Results",
        "",
        "<!-- Rendered from benchmarks/results/*.jsonl by `python -m benchmarks.render`; do not edit. -->",
        "",
        "Each section is one setting on one task, one row per seed, rendered from the run records in",
        "`benchmarks/results/learning.jsonl` (`benchmarks/learning.py` appends one per run). Training",
        "figures are the mean over the last `window` finished training episodes (the exploring policy);",
        "greedy figures are the deterministic policy on fresh episodes. Env steps/s counts the whole run,",
        "greedy evaluations included; the learner's share is the part of the training iterations' time",
        "spent in learner updates (runs recorded before it was measured: -).",
        "",
    ]
    for (task, label), seeds in groups(runs).items():
        summary = seeds[0]["summary"]
        metric = summary["metric"]
        first = seeds[0]
        lines += [f"## {_title(task, label)}", ""]
        lines += [f"Command: `{first.get('command') or '-'}`", ""]
        env_config = first.get("settings", {}).get("env_config")
        if env_config:  # what the task's env was made with (e.g. the camera size), not only the overrides
            lines += [f"Env config: `{env_config}`", ""]
        lines += [
            f"| seed | training {_target(summary)} first | held from | greedy first | final training / greedy | "
            "env steps | seconds | env steps/s | learner's share of the time | commit |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in seeds:
            s, last = run["summary"], run["curve"][-1]
            fmt = "{:.2f}" if metric == "success" else "{:.0f}"
            final = f"{_num(s['final'].get('train_' + metric), fmt)} / {_num(s['final'].get('greedy_' + metric), fmt)}"
            held = f"{s['train_held_from']:,}" if s.get("train_held_from") else "never"
            lines.append(
                f"| {run['seed']} | {_steps(s['train_first'], last['env_steps'])} | {held} | "
                f"{_steps(s['greedy_first'], last['env_steps'])} | {final} | {last['env_steps']:,} | "
                f"{last['seconds']:.0f} | {last['env_steps'] / max(last['seconds'], 1e-9):.1f} | "
                f"{_num(s.get('learner_share'))} | `{run['commit']}` |"
            )
        m = first["machine"]
        lines += ["", f"Machine: {m.get('cpu')}, {m.get('cores')} cores, torch {m.get('torch')}, ray {m.get('ray')}."]
        image = f"images/results_{task}_{_anchor(task, label)}.png"
        lines += ["", f"![{_title(task, label)}]({image})", ""]
    return "\n".join(lines).rstrip() + "\n"


def plot(task: str, label: str, seeds: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = seeds[0]["summary"]["metric"]
    target = seeds[0]["summary"]["target"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, kind in zip(axes, ("train", "greedy")):
        for i, run in enumerate(seeds):
            points = [(r["env_steps"], r.get(f"{kind}_{metric}")) for r in run["curve"]]
            points = [(x, y) for x, y in points if isinstance(y, (int, float)) and not math.isnan(y)]
            if points:
                ax.plot(*zip(*points), color=f"C{i}", marker="o" if kind == "greedy" else None, ms=3,
                        label=f"seed {run['seed']}")  # fmt: skip
        ax.axhline(target, color="k", ls=":", lw=1)
        ax.set_xlabel("env steps")
        ax.set_title("training (exploring, windowed)" if kind == "train" else "greedy (fresh episodes)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel(f"{metric} rate" if metric == "success" else "return")
    title = f"HybridSAC, {label}, on {TASK_NAMES.get(task, task)}"
    fig.suptitle(textwrap.fill(title, 110), fontsize="large" if len(title) <= 110 else 8)  # long --set labels wrap
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def readme_with_table(readme: str, table: str) -> str:
    """README.md with the text between the results markers replaced by ``table``."""
    if BEGIN not in readme or END not in readme:
        raise ValueError(f"README.md has no results markers ({BEGIN} ... {END})")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing (the tables only)")
    args = parser.parse_args(argv)
    runs = read_runs("learning")
    outputs = {
        DOCS / "results.md": results_page(runs),
        README: readme_with_table(README.read_text(), headline_table(runs)),
    }
    stale = [path for path, text in outputs.items() if not path.is_file() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from benchmarks/results/: run python -m benchmarks.render")
        return 1 if stale else 0
    for path in stale:
        path.write_text(outputs[path])
        print(f"wrote {path.relative_to(ROOT)}")
    (DOCS / "images").mkdir(exist_ok=True)
    for (task, label), seeds in groups(runs).items():
        path = DOCS / "images" / f"results_{task}_{_anchor(task, label)}.png"
        plot(task, label, seeds, path)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
