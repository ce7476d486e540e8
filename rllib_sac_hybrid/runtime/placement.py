"""Placement of EnvRunners on the machines that have their hardware: one custom Ray resource set
per runner (``custom_resources_by_env_runner``), e.g. runner 1 needs ``{"robot_arm_0": 1}``
and runner 2 ``{"robot_arm_1": 1}``.

RLlib's ``custom_resources_per_env_runner`` gives every runner the same resources, so it cannot
put one runner next to each robot. ``PlacedEnvRunnerGroup`` asks for each runner's own resources
when it creates the runner's actor; Ray restarts a crashed runner with the same request, hence on
the same node. Under Tune, the trial's placement group gets the same resources in each runner's
bundle (``add_runner_resources``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ray.rllib.env.env_runner_group import EnvRunnerGroup


class PlacedEnvRunnerGroup(EnvRunnerGroup):
    """An ``EnvRunnerGroup`` whose remote runner i (1-based) also requires
    ``config.custom_resources_by_env_runner[i - 1]``."""

    def _make_worker(self, *, worker_index: int, **kwargs: Any):
        extra = runner_resources(self._remote_config, worker_index)
        if not extra:
            return super()._make_worker(worker_index=worker_index, **kwargs)
        shared_args = self._remote_args
        # The runner's own amounts win over custom_resources_per_env_runner's for the same name.
        self._remote_args = {**shared_args, "resources": {**(shared_args.get("resources") or {}), **extra}}
        try:
            return super()._make_worker(worker_index=worker_index, **kwargs)
        finally:
            self._remote_args = shared_args


def runner_resources(config, worker_index: int) -> dict[str, float]:
    """The custom resources that remote runner ``worker_index`` (1-based) requires beyond
    ``custom_resources_per_env_runner``; none for the local runner and for evaluation runners."""
    by_runner = getattr(config, "custom_resources_by_env_runner", None)
    if not by_runner or worker_index == 0 or config.in_evaluation:
        return {}
    if worker_index > len(by_runner):
        raise ValueError(
            f"EnvRunner {worker_index} has no entry in custom_resources_by_env_runner (it lists "
            f"{len(by_runner)}); allowed: one entry per remote EnvRunner."
        )
    return dict(by_runner[worker_index - 1])


@contextmanager
def placed_env_runner_groups() -> Iterator[None]:
    """While active, ``Algorithm.setup`` builds ``PlacedEnvRunnerGroup``s.

    RLlib's Algorithm has no hook for the class of its runner groups; it names ``EnvRunnerGroup``
    in its module, which this swaps for the duration of ``setup`` (one algorithm per process).
    """
    from ray.rllib.algorithms import algorithm as algorithm_module

    original = algorithm_module.EnvRunnerGroup
    algorithm_module.EnvRunnerGroup = PlacedEnvRunnerGroup
    try:
        yield
    finally:
        algorithm_module.EnvRunnerGroup = original


def add_runner_resources(bundles: list[dict[str, float]], config) -> list[dict[str, float]]:
    """A trial's placement-group bundles with each runner's own resources in its bundle.

    RLlib's bundles are [main process, runner 1, ..., runner n, evaluation runners, learners];
    runner i's actor is placed in bundle i.
    """
    out = [dict(bundle) for bundle in bundles]
    for worker_index in range(1, config.num_env_runners + 1):
        for name, amount in runner_resources(config, worker_index).items():
            out[worker_index][name] = amount  # as in PlacedEnvRunnerGroup: the runner's own amount wins
    return out
