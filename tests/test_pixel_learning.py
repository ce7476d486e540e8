"""From pixels: the defaults learn the built-in pixel pick-and-place (16x16 camera plus the
gripper's state) from 20 scripted demonstrations, and the greedy policy keeps up. The short
version of ``benchmarks/learning.py --task pick-place-pixels --demos 20`` (README, "The built-in
pixel task": 80% training success at 5,000 env steps on this seed)."""

from __future__ import annotations

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PICK_PLACE_PIXELS_ID
from rllib_sac_hybrid.evaluation import greedy_evaluation
from rllib_sac_hybrid.record import record
from tests.conftest import train_until_success

ENV_CONFIG = {"reward_type": "dense", "image_size": 16}
TARGET_SUCCESS = 0.8  # training episodes, the last 30
MAX_ENV_STEPS = 12_000
# Greedy success on 50 fresh episodes right at the target >= this. On pixels the greedy policy
# lags early on, and the run is not bit-exact across machines: 0.56 (training 0.90 at 6,000 env
# steps) and 0.42 (training 0.83 at 9,000) in two runs of this test, 0.68 at 5,000 in the
# benchmark's; it catches up later (0.98 at 30,000). Random: 0.
GREEDY_MIN = 0.25


def test_defaults_learn_pixels_from_demonstrations(ray_session, tmp_path):
    demos = str(tmp_path / "demos")
    record(PICK_PLACE_PIXELS_ID, 20, demos, "scripted", seed=10_000, env_config=ENV_CONFIG)
    algo = (
        HybridSACConfig()
        .environment(PICK_PLACE_PIXELS_ID, env_config=ENV_CONFIG)
        .training(demonstrations=demos, learner_torch_threads=1)
        .reporting(min_sample_timesteps_per_iteration=1000, metrics_num_episodes_for_smoothing=30)
        .debugging(seed=1)
        .build_algo()
    )
    try:
        curve = train_until_success(algo, TARGET_SUCCESS, MAX_ENV_STEPS)
        greedy = greedy_evaluation(algo.get_module(), PICK_PLACE_PIXELS_ID, 50, seed=1, env_config=ENV_CONFIG)
    finally:
        algo.stop()
    assert curve[-1][1] >= TARGET_SUCCESS, f"(env steps, training success): {curve}"
    assert greedy["success_rate"] >= GREEDY_MIN, f"greedy {greedy}; curve {curve}"
