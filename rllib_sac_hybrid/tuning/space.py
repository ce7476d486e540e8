"""The search space of a sweep: which HybridSAC settings vary, over what, and the checks on it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ray import tune

# Setting -> (low, high) of its log-uniform range, the defaults of the sweep command.
LOG_UNIFORM_DEFAULTS: dict[str, tuple[float, float]] = {
    "temperature_init": (1e-3, 1.0),
    "actor_lr": (1e-5, 3e-3),
    "critic_lr": (1e-5, 3e-3),
    "temperature_lr": (1e-5, 3e-3),
}
# Settings that may be swept over a grid of integers (off unless given).
GRID_SETTINGS = ("num_subsample_critics", "utd_ratio", "num_critics")
# What PBT / PB2 may change while a trial runs: only the learning rates act mid-run. The
# temperature is learned; temperature_init only sets where a trial starts.
MUTABLE_SETTINGS = ("actor_lr", "critic_lr", "temperature_lr")


@dataclass
class SearchSpace:
    """Log-uniform ranges and integer grids over HybridSAC settings.

    ``ranges``: setting -> (low, high), sampled log-uniformly; ``grids``: setting -> the values
    to try. ``validate`` raises a ValueError naming the argument and what is allowed.
    """

    ranges: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(LOG_UNIFORM_DEFAULTS))
    grids: dict[str, list[int]] = field(default_factory=dict)

    def validate(self) -> None:
        for name, bounds in self.ranges.items():
            if name not in LOG_UNIFORM_DEFAULTS:
                raise ValueError(
                    f"search range for {name!r} is not supported; allowed: {sorted(LOG_UNIFORM_DEFAULTS)}."
                )
            if (
                not isinstance(bounds, Sequence)
                or len(bounds) != 2
                or not all(_real(v) and math.isfinite(v) and v > 0 for v in bounds)
                or not bounds[0] < bounds[1]
            ):
                raise ValueError(
                    f"--{_flag(name)} {bounds!r} is invalid; allowed: two numbers LOW HIGH with 0 < LOW < HIGH "
                    "(sampled log-uniformly)."
                )
        for name, values in self.grids.items():
            if name not in GRID_SETTINGS:
                raise ValueError(f"grid for {name!r} is not supported; allowed: {list(GRID_SETTINGS)}.")
            if (
                not isinstance(values, Sequence)
                or len(values) == 0
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values)
                or len(set(values)) != len(values)
            ):
                raise ValueError(f"--{_flag(name)} {values!r} is invalid; allowed: distinct integers >= 1.")

    @property
    def swept(self) -> list[str]:
        """The settings that vary, ranges first."""
        return list(self.ranges) + list(self.grids)

    def param_space(self, searcher: str) -> dict:
        """Tune's param space: ``tune.loguniform`` per range; grids as ``tune.grid_search`` for
        random search (every grid point gets ``num_samples`` trials) or ``tune.choice`` for
        Optuna (it has no grids)."""
        self.validate()
        space: dict = {name: tune.loguniform(low, high) for name, (low, high) in self.ranges.items()}
        for name, values in self.grids.items():
            space[name] = tune.grid_search(list(values)) if searcher == "random" else tune.choice(list(values))
        return space

    def mutations(self) -> dict:
        """PBT's ``hyperparam_mutations``: the swept learning rates, resampled from their range."""
        return {
            name: tune.loguniform(low, high) for name, (low, high) in self.ranges.items() if name in MUTABLE_SETTINGS
        }

    def bounds(self) -> dict[str, list[float]]:
        """PB2's ``hyperparam_bounds`` for the swept learning rates."""
        return {name: [low, high] for name, (low, high) in self.ranges.items() if name in MUTABLE_SETTINGS}


def _real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flag(name: str) -> str:
    return name.replace("_", "-")
