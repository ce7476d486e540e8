"""From pixels: the defaults learn the built-in pixel pick-and-place (16x16 camera plus the
gripper's state) from 20 scripted demonstrations, and the greedy policy learns with them. The CI
version of ``benchmarks/learning.py --task pick-place-pixels --demos 20``, which shows the 80%
(README, "The built-in pixel task"): this one stops at 3,000 env steps, where the runs measured
are well clear of random's 0 but none has finished learning, so it costs a fixed budget (~380 s
in CI, a third of it the defaults' 1,000 behaviour-cloning steps before the first online step)."""

from __future__ import annotations

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PICK_PLACE_PIXELS_ID
from rllib_sac_hybrid.robot.record import record
from rllib_sac_hybrid.runtime.evaluation import greedy_evaluation
from tests.conftest import train_until_success

ENV_CONFIG = {"reward_type": "dense", "image_size": 16}
ENV_STEPS = 3_000
# A seeded run repeats on one machine, but its floats differ between machines: at 3,000 env steps
# seed 1 gave training / greedy success 0.53 / 0.28 on one and 0.50 / 0.14 on another (the same
# code before and after 0.2.0's move into sub-packages, bit for bit). Greedy success this early is
# a wide draw; random actions give 0 for both.
TRAINING_MIN = 0.2
GREEDY_MIN = 0.1


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
        curve = train_until_success(algo, None, ENV_STEPS)  # the whole budget
        assert algo.learner_group._learner.utd_ratio_for("default_policy") == 1  # "auto" with cameras
        greedy = greedy_evaluation(algo.get_module(), PICK_PLACE_PIXELS_ID, 50, seed=1, env_config=ENV_CONFIG)
    finally:
        algo.stop()
    assert curve[-1][1] >= TRAINING_MIN, f"(env steps, training success): {curve}"
    assert greedy["success_rate"] >= GREEDY_MIN, f"greedy {greedy}; curve {curve}"
