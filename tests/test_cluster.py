"""On a local multi-node cluster (``tests/cluster_run.py``, in a subprocess): each runner lands
on the node with its robot resource, also after a crash; two learners on two other nodes stay
identical; asynchronous training across the nodes stores and trains on every env step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rllib_sac_hybrid import HybridSAC, HybridSACConfig

REPO = Path(__file__).resolve().parents[1]

# Serial: five Ray nodes, two runners and two learners that all-reduce every step; next to a busy
# xdist peer the cluster run took 280 s against 48 s alone.
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def cluster_run() -> dict:
    # The test session's Ray instance stays up (ray_session); the cluster is a process of its own.
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "cluster_run.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"cluster run failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def test_runners_land_on_their_robot_nodes_also_after_a_crash(cluster_run):
    iterations = cluster_run["iterations"]
    for iteration in iterations:
        for runner in iteration["runners"]:
            assert runner["node"] == {1: "arm0", 2: "arm1"}[runner["worker_index"]]
    assert iterations[-1]["restarts"] >= 1  # runner 2 crashed after iteration 2 and is back:
    assert {r["worker_index"]: r["node"] for r in iterations[-1]["runners"]} == {1: "arm0", 2: "arm1"}


def test_training_across_nodes_stores_and_trains_on_every_step(cluster_run):
    utd, iterations = cluster_run["utd_ratio"], cluster_run["iterations"]
    for before, after in zip(iterations, iterations[1:]):
        assert after["env_steps"] > before["env_steps"]
        assert after["critic_steps"] - before["critic_steps"] == utd * (after["env_steps"] - before["env_steps"])
        runner_weights = {r["actor_weight_sum"] for r in before["runners"]} & {
            r["actor_weight_sum"] for r in after["runners"]
        }
        assert not runner_weights  # the runners act with new weights every iteration
    for iteration in iterations:
        assert iteration["replay_size"] == iteration["env_steps"]


def test_two_learners_on_two_nodes_stay_identical(cluster_run):
    for iteration in cluster_run["iterations"]:
        first, second = iteration["learners"]
        assert {first["node"], second["node"]} == {"learner0", "learner1"}
        assert {first["rank"], second["rank"]} == {0, 1}
        assert first["weights"] == second["weights"]
        assert first["critic_steps"] == second["critic_steps"] == iteration["critic_steps"]
        assert first["replay_size"] == second["replay_size"] == iteration["env_steps"]


def test_tune_bundles_carry_each_runners_resources():
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .env_runners(num_env_runners=2, custom_resources_by_env_runner=[{"robot_arm_0": 1}, {"robot_arm_1": 0.5}])
    )
    for given in (config, config.to_dict()):  # Tune passes a dict
        bundles = HybridSAC.default_resource_request(given).bundles
        assert bundles[1]["robot_arm_0"] == 1 and "robot_arm_1" not in bundles[1]
        assert bundles[2]["robot_arm_1"] == 0.5 and "robot_arm_0" not in bundles[2]
        assert not any(name.startswith("robot_arm") for name in bundles[0])
