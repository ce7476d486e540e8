"""The ``examples/`` scripts through RLlib's example-script flow
(``run_rllib_example_script_experiment`` with ``--as-test --stop-reward``), at small budgets. The
Pendulum run is also the suite's Pendulum learning check: -400 within 8,000 env steps (seed 0
passes at 5,000)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import ray.train.constants

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RETURN_WINDOWED = "env_runners/episode_return_windowed"


def example(name: str):
    """``examples/<name>.py`` as a module (it imports ``common`` as ``python examples/<name>.py`` would)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tune_results(tmp_path, monkeypatch):
    """Tune's default results folder (~/ray_results: the scripts take no storage path) in tmp_path."""
    monkeypatch.setattr(ray.train.constants, "DEFAULT_STORAGE_PATH", str(tmp_path))
    return tmp_path


def test_pendulum_example_passes_as_a_test(ray_session, tune_results):
    grid = example("pendulum").main(["--as-test", "--stop-reward=-400", "--stop-timesteps=8000"])
    best = grid.get_best_result(metric=RETURN_WINDOWED, mode="max").metrics
    assert best["env_runners"]["episode_return_windowed"] >= -400
    assert best["env_runners"]["num_env_steps_sampled_lifetime"] <= 8000
    assert any(tune_results.iterdir())  # the results went where the fixture put them


def test_pick_place_example_passes_as_a_test(ray_session, tune_results):
    # seed 0: -8.3 / -7.2 / -3.3 / -1.6 at 1,000 / 2,000 / 3,000 / 4,000 env steps (66 s alone)
    grid = example("pick_place").main(["--as-test", "--stop-reward=-4", "--stop-timesteps=6000"])
    best = grid.get_best_result(metric=RETURN_WINDOWED, mode="max").metrics
    assert best["env_runners"]["episode_return_windowed"] >= -4


def test_as_test_fails_when_the_windowed_return_is_not_reached(ray_session, tune_results):
    # One iteration of random actions: RLlib's per-iteration mean would be judged the same way.
    with pytest.raises(ValueError, match="`env_runners/episode_return_windowed` of 0.0 not reached"):
        example("pendulum").main(["--as-test", "--stop-reward=0", "--stop-iters=1"])
