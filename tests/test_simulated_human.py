"""The simulated human of human-in-the-loop runs: the expert drives the steps it takes over, in
blocks, less often as the run goes on, behind the robot env contract; HybridSAC stores those
steps as demonstrations."""

from __future__ import annotations

import os

import numpy as np
import pytest
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.tune.registry import register_env

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PickPlaceEnv
from rllib_sac_hybrid.envs.simulated_human import SimulatedHuman
from tests.conftest import TINY_NETS


def neutral(env: PickPlaceEnv):
    return (np.zeros(2, np.float32), 1)  # no motion, gripper "stay": never what the expert does


def run(env: SimulatedHuman, steps: int, seed: int = 0) -> list[dict]:
    infos = []
    env.reset(seed=seed)
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(neutral(env))
        infos.append({**info, "_episode_end": terminated or truncated})
        if terminated or truncated:
            env.reset()
    return infos


def test_intervened_steps_execute_the_experts_action():
    given = []

    def expert(env, obs, info):
        given.append(env.unwrapped.scripted_action())
        return given[-1]

    env = SimulatedHuman(PickPlaceEnv(), expert=expert, intervention_prob=1.0, intervention_steps=4, decay_steps=10**6)
    twin = PickPlaceEnv()  # replays the executed actions: same observations if they were executed
    obs, _ = env.reset(seed=3)
    twin_obs, _ = twin.reset(seed=3)
    for _ in range(12):
        obs, reward, terminated, truncated, info = env.step(neutral(env))
        assert info["is_intervention"] is True and env.action_space.contains(info["teleop_action"])
        assert info["teleop_action"] is given[-1]
        twin_obs, twin_reward, *_ = twin.step(info["teleop_action"])
        np.testing.assert_array_equal(obs, twin_obs)
        assert reward == twin_reward
        if terminated or truncated:
            break
    assert env.intervention_stats()["intervened"] == len(given) > 0


def test_interventions_come_in_blocks_and_fade_out():
    env = SimulatedHuman(PickPlaceEnv(), intervention_prob=0.2, intervention_steps=5, decay_steps=1_000)
    infos = run(env, 1_500)
    flags = [info["is_intervention"] for info in infos]
    early, late = np.mean(flags[:300]), np.mean(flags[1_000:])
    assert early > 0.3 and late == 0.0, (early, late)
    assert all(info["teleop_action"] is None for info in infos[1_000:])
    assert env.start_probability() == 0.0 and env.intervention_stats()["steps"] == 1_500
    # Within an episode, an intervened stretch is whole blocks of 5 (blocks may follow each
    # other at once); only the episode's end cuts one short.
    stretches, length = [], 0
    for info in infos:
        if info["is_intervention"]:
            length += 1
        if length and (not info["is_intervention"] or info["_episode_end"]):
            stretches.append((length, info["_episode_end"] and info["is_intervention"]))  # (steps, cut short)
            length = 0
    whole = [n for n, cut in stretches if not cut]
    assert whole and all(n % 5 == 0 for n in whole), whole


def test_on_error_the_human_takes_over_only_after_the_policy_strays():
    """trigger="on_error": a policy that does what the expert would is never interrupted; one that
    strays is, after ``patience`` wrong steps in a row, for ``intervention_steps`` steps."""
    env = SimulatedHuman(
        PickPlaceEnv(), trigger="on_error", intervention_prob=1.0, intervention_steps=4, patience=3, decay_steps=10**6
    )
    env.reset(seed=0)
    for _ in range(25):  # the expert's own action: never wrong
        _, _, terminated, truncated, info = env.step(env.unwrapped.scripted_action())
        assert info["is_intervention"] is False
        if terminated or truncated:
            env.reset()
    env.reset(seed=1)
    flags = []
    for _ in range(14):  # a policy that never moves and keeps the gripper on "stay"
        _, _, terminated, truncated, info = env.step(neutral(env))
        flags.append(info["is_intervention"])
        if terminated or truncated:
            break
    # 2 wrong steps pass; at the 3rd the human takes over for 4; then 2 more, and again (the
    # expert then finishes the task within the second takeover, at the 11th step).
    assert flags[:10] == [False, False, True, True, True, True, False, False, True, True], flags


def test_action_discrepancy():
    import gymnasium as gym

    from rllib_sac_hybrid.envs.simulated_human import action_discrepancy

    tuple_space = gym.spaces.Tuple((gym.spaces.Box(-1.0, 1.0, (2,)), gym.spaces.Discrete(3)))
    assert action_discrepancy(tuple_space, (np.array([0.0, 0.5]), 1), (np.array([0.0, -0.5]), 1)) == 0.5
    assert action_discrepancy(tuple_space, (np.zeros(2), 1), (np.zeros(2), 2)) == 1.0
    flat = gym.spaces.Box(np.array([-1.0, -1.0, 0.0]), np.array([1.0, 1.0, 2.0]))  # gym-hil: gripper index last
    assert action_discrepancy(flat, np.array([0.0, 0.0, 1.0]), np.array([0.1, 0.0, 2.0])) == 0.5
    dict_space = gym.spaces.Dict({"arm": gym.spaces.Box(-2.0, 2.0, (1,)), "grip": gym.spaces.Discrete(2)})
    assert action_discrepancy(dict_space, {"arm": [1.0], "grip": 0}, {"arm": [-1.0], "grip": 0}) == 0.5


@pytest.mark.parametrize(
    "settings,field",
    [
        ({"intervention_prob": 1.5}, "intervention_prob"),
        ({"intervention_steps": 0}, "intervention_steps"),
        ({"decay_steps": 0}, "decay_steps"),
        ({"trigger": "sometimes"}, "trigger='sometimes' is unknown; allowed"),
        ({"error_threshold": 0.0}, "error_threshold"),
        ({"patience": 0}, "patience"),
    ],
)
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(ValueError, match=field):
        SimulatedHuman(PickPlaceEnv(), **settings)


def test_an_env_without_a_scripted_expert_needs_one():
    import gymnasium as gym

    with pytest.raises(ValueError, match="scripted expert"):
        SimulatedHuman(gym.make("Pendulum-v1"))


def test_gym_hil_pick_cube_with_a_simulated_human():
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless: mujoco reads it when first imported
    pytest.importorskip("gym_hil")
    import gymnasium as gym

    import rllib_sac_hybrid.envs  # noqa: F401

    env = gym.make(
        "rllib_sac_hybrid/GymHilPickCube-v0",
        reward_type="sparse",
        simulated_human={"intervention_prob": 1.0, "intervention_steps": 100, "decay_steps": 10**6},
    )
    try:
        env.reset(seed=0)
        for _ in range(40):  # the scripted controller lifts the cube in about 10 steps
            _, reward, terminated, truncated, info = env.step(np.array([0, 0, 0, 1], np.float32))
            assert info["is_intervention"] and env.action_space.contains(info["teleop_action"])
            if terminated or truncated:
                break
        assert info["succeed"] and reward == 1.0
    finally:
        env.close()
    with pytest.raises(ValueError, match="simulated_human"):
        gym.make("rllib_sac_hybrid/GymHilPickCube-v0", simulated_human=0.5)


def test_hybrid_sac_keeps_what_the_simulated_human_drove(ray_session):
    register_env(
        "pick_place_with_human",
        lambda config: SimulatedHuman(PickPlaceEnv(), intervention_prob=0.1, intervention_steps=3, decay_steps=300),
    )
    config = (
        HybridSACConfig()
        .environment("pick_place_with_human")
        .training(**TINY_NETS, num_random_steps=100, train_batch_size_per_learner=16)
        .env_runners(rollout_fragment_length=10)
        .reporting(min_sample_timesteps_per_iteration=300)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        first = algo.train()
        human = algo.env_runner.env.unwrapped.envs[0]
        while not isinstance(human, SimulatedHuman):  # under RLlib's own wrappers
            human = human.env
        intervened = human.intervention_stats()["intervened"]
        second = algo.train()  # past decay_steps: the policy alone
    finally:
        algo.stop()
    assert 0 < intervened < first["num_env_steps_sampled_lifetime"]
    assert first["learners"][DEFAULT_MODULE_ID]["demo_replay_size"] == intervened
    assert second["learners"][DEFAULT_MODULE_ID]["demo_replay_size"] == intervened  # nothing new
    assert second["learners"][DEFAULT_MODULE_ID]["utd_ratio"] == 4  # "auto": the batches mix in the human's steps
    assert human.intervention_stats()["start_probability"] == 0.0
