"""What a sweep leaves in its experiment folder: a results table (best first, printed and saved as
CSV), the best checkpoint's path, and PNG plots of all learning curves and of return against each
swept setting."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from ray.tune import ResultGrid

ENV_STEPS = "num_env_steps_sampled_lifetime"


@dataclass
class SweepReport:
    """The table (one row per trial, best first: the longest-running trials, i.e. those an
    early-stopping scheduler kept, then by final return) and the files written next to it."""

    table: pd.DataFrame
    metric: str
    csv_path: Path
    best_checkpoint: str | None
    plots: list[Path] = field(default_factory=list)

    def summary(self, rows: int = 10) -> str:
        with pd.option_context(
            "display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format
        ):
            shown = self.table.drop(columns=["checkpoint"]).head(rows).to_string(index=False)
        lines = [
            f"Trials, best first: longest-running (survived early stopping), then by last_return (the "
            f"trial's final {self.metric}; best_return: its highest):",
            shown,
            f"table: {self.csv_path}",
            f"best checkpoint: {self.best_checkpoint or 'none (no trial reported a finite return)'}",
        ]
        lines += [f"plot: {path}" for path in self.plots]
        return "\n".join(lines)


def write_report(results: ResultGrid, experiment_dir: Path, metric: str, swept: list[str]) -> SweepReport:
    """Builds the table from Tune's results, writes ``results.csv``, ``best_checkpoint.txt``,
    ``learning_curves.png`` and ``return_vs_params.png`` into ``experiment_dir``."""
    experiment_dir = Path(experiment_dir)
    experiment_dir.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for result in results:
        history = result.metrics_dataframe
        trial_id = (result.metrics or {}).get("trial_id") or Path(result.path).name
        returns = _column(history, metric)
        steps = _column(history, ENV_STEPS)
        if len(returns):
            curves[trial_id] = (steps, returns)
        finite = returns[np.isfinite(returns)] if len(returns) else returns
        checkpoint = _best_checkpoint(result, metric)
        rows.append(
            {
                "trial": trial_id,
                "status": "ERROR" if result.error is not None else "done",
                **{name: result.config.get(name) for name in swept},
                "last_return": float(returns[-1]) if len(returns) else math.nan,
                "best_return": float(finite.max()) if len(finite) else math.nan,
                "env_steps": int(steps[-1]) if len(steps) else 0,
                "iterations": int(_column(history, "training_iteration").max(initial=0)),
                "checkpoint": checkpoint,
            }
        )
    table = pd.DataFrame(rows)
    if len(table):
        # Trials that ran longest first (an early-stopping scheduler judged the others worse at a
        # rung), then by final return: final returns at different env steps do not compare.
        table = table.sort_values(
            ["env_steps", "last_return"], ascending=[False, False], na_position="last"
        ).reset_index(drop=True)
    csv_path = experiment_dir / "results.csv"
    table.to_csv(csv_path, index=False)
    best_checkpoint = next(  # of the best trial: its checkpoint with the highest metric
        (c for c, r in zip(table.get("checkpoint", []), table.get("last_return", [])) if c and np.isfinite(r)), None
    )
    (experiment_dir / "best_checkpoint.txt").write_text(f"{best_checkpoint or ''}\n")
    plots = [
        plot_learning_curves(curves, metric, experiment_dir / "learning_curves.png"),
        plot_return_vs_params(table, swept, metric, experiment_dir / "return_vs_params.png"),
    ]
    return SweepReport(table, metric, csv_path, best_checkpoint, plots)


def plot_learning_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], metric: str, path: Path) -> Path:
    """Return against env steps, one line per trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for trial_id, (steps, returns) in sorted(curves.items()):
        ax.plot(steps, returns, marker=".", linewidth=1, label=trial_id)
    ax.set_xlabel("env steps")
    ax.set_ylabel(metric)
    ax.set_title(f"Learning curves of {len(curves)} trials")
    ax.grid(alpha=0.3)
    if 0 < len(curves) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_return_vs_params(table: pd.DataFrame, swept: list[str], metric: str, path: Path) -> Path:
    """Each trial's final return against each swept setting (log axis for the log-uniform ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = swept or ["(nothing swept)"]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        if name in table:
            values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
            returns = table["last_return"].to_numpy(dtype=float)
            ax.scatter(values, returns)
            positive = values[np.isfinite(values)]
            if len(positive) and positive.min() > 0 and positive.max() / positive.min() > 20:
                ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(f"final {metric.rsplit('/', 1)[-1]}")
        ax.grid(alpha=0.3)
    fig.suptitle("Final return of each trial against the swept settings (early-stopped trials: at their stop)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _column(history: pd.DataFrame | None, name: str) -> np.ndarray:
    if history is None or name not in history:
        return np.zeros(0)
    return pd.to_numeric(history[name], errors="coerce").to_numpy(dtype=float)


def _best_checkpoint(result, metric: str) -> str | None:
    try:
        checkpoint = result.get_best_checkpoint(metric, "max")
    except (RuntimeError, ValueError, KeyError):
        checkpoint = None
    checkpoint = checkpoint or result.checkpoint
    return checkpoint.path if checkpoint is not None else None
