"""What every benchmark shares: the train-until loop, and the run records under ``results/``.

A run record is one JSON line in ``benchmarks/results/<benchmark>.jsonl``: the task, the settings
and seed, the commit and the machine it ran on, and the curve (one row per training iteration).
``python -m benchmarks.render`` renders the docs' result tables and curves from these files.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

Row = dict[str, Any]


def windowed(result: dict) -> Row:
    """The training figures of one iteration: HybridSAC's windowed metrics (the last K finished
    episodes, across iterations), not RLlib's per-iteration ``episode_return_mean``."""
    runners = result.get("env_runners", {})
    learner = result.get("learners", {}).get("default_policy", {})
    return {
        "train_return": float(runners.get("episode_return_windowed", math.nan)),
        "train_success": float(runners.get("episode_success_rate_windowed", math.nan)),
        "episodes": int(runners.get("num_episodes_finished_lifetime", 0) or 0),
        "intervention_rate": float(runners.get("episode_intervention_rate", math.nan)),
        "temperature": float(learner.get("temperature", math.nan)),
    }


def train_until(
    algo,
    max_env_steps: int,
    *,
    label: str = "",
    stop: Callable[[Row], bool] | None = None,
    evaluate: Callable[[Any, int], Row] | None = None,
    eval_every: int | None = None,
    extra: Callable[[dict], Row] | None = None,
    rows: list[Row] | None = None,
) -> list[Row]:
    """Calls ``algo.train()`` until ``max_env_steps`` env steps or ``stop(row)``; one row per
    iteration (env steps, seconds since the call, the iteration's own seconds, ``windowed``
    figures, ``extra(result)``).

    Every ``eval_every`` env steps, and at the end, ``evaluate(algo, env_steps)`` adds its figures
    (e.g. the greedy policy's success on fresh episodes). A progress line per iteration goes to
    stdout. ``rows`` (appended to in place) keeps what was measured if the run is interrupted.
    """
    rows = [] if rows is None else rows
    start = time.monotonic()
    next_eval = eval_every or math.inf
    while True:
        began = time.monotonic()
        result = algo.train()
        steps = int(result["num_env_steps_sampled_lifetime"])
        row: Row = {"env_steps": steps, "seconds": round(time.monotonic() - start, 2),
                    "iteration_seconds": round(time.monotonic() - began, 3), **windowed(result)}  # fmt: skip
        if extra is not None:
            row.update(extra(result))
        evaluated = evaluate is not None and (steps >= next_eval or steps >= max_env_steps)
        if evaluated:
            row.update(evaluate(algo, steps))
            while next_eval <= steps:
                next_eval += eval_every or math.inf
        done = steps >= max_env_steps or (stop is not None and stop(row))
        if done and evaluate is not None and not evaluated:  # the final figures always include it
            row.update(evaluate(algo, steps))
        rows.append(row)
        hidden = ("env_steps", "seconds", "iteration_seconds")
        shown = " | ".join(f"{k} {v:.3g}" for k, v in row.items() if k not in hidden and _shown(v))
        print(f"{label}: {steps} env steps {row['seconds']:.0f} s | {shown}", flush=True)
        if done:
            return rows


def _shown(value: Any) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))


def first_at(curve: list[Row], key: str, target: float) -> Row | None:
    """The first row whose ``key`` reached ``target``."""
    return next((r for r in curve if _shown(r.get(key)) and r[key] >= target), None)


def held_from(curve: list[Row], key: str, target: float) -> Row | None:
    """The row from which ``key`` stayed at or above ``target`` to the end of the curve."""
    start = None
    for row in curve:
        if not _shown(row.get(key)):
            continue
        start = (start or row) if row[key] >= target else None
    return start


def git_commit() -> str:
    """The commit the benchmark ran on, with "+dirty" when the tree had uncommitted changes: read
    when this module is first imported (the code a run loads), not when its record is written."""
    return _COMMIT_AT_START


def _read_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.stdout.strip()[:12] + ("+dirty" if dirty.stdout.strip() else "")


_COMMIT_AT_START = _read_commit()


def machine() -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, Python, torch and Ray versions, GPU if any."""
    import ray
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ray": ray.__version__,
    }


def record_run(
    benchmark: str,
    *,
    task: str,
    label: str,
    seed: int,
    settings: dict[str, Any],
    curve: list[Row],
    finished: bool = True,
    summary: dict[str, Any] | None = None,
    command: str | None = None,
) -> Path:
    """Appends one run to ``results/<benchmark>.jsonl`` and returns the file."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{benchmark}.jsonl"
    record = {
        "benchmark": benchmark,
        "task": task,
        "label": label,
        "seed": seed,
        "settings": settings,
        "finished": finished,
        "command": command,
        "commit": git_commit(),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": summary or {},
        "curve": curve,
    }
    with open(path, "a") as f:
        f.write(json.dumps(record, default=_json_default, allow_nan=True) + "\n")
    return path


def record_rows(benchmark: str, task: str, rows: list[Row], label_keys: tuple[str, ...], settings: dict) -> Path | None:
    """One record per measured row of a benchmark that measures rates rather than curves (its
    figures are the record's summary; the label joins the row's ``label_keys``)."""
    path = None
    command = " ".join([f"python benchmarks/{benchmark}.py", *sys.argv[1:]])
    for row in rows:
        label = " ".join(f"{key}={row[key]}" for key in label_keys)
        path = record_run(benchmark, task=task, label=label, seed=0, settings=settings, curve=[], summary=row,
                          command=command)  # fmt: skip
    return path


def read_runs(benchmark: str | None = None) -> list[dict[str, Any]]:
    """Every run record under ``results/`` (of one benchmark, or all)."""
    paths = [RESULTS / f"{benchmark}.jsonl"] if benchmark else sorted(RESULTS.glob("*.jsonl"))
    runs = []
    for path in paths:
        if path.is_file():
            runs += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return runs


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return repr(value)
