"""The built-in pick-and-place task, and HybridSAC end to end on every hybrid action layout."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PICK_PLACE_ID, PICK_PLACE_SPARSE_ID, PickPlaceEnv
from rllib_sac_hybrid.envs.grasp_carry import GraspCarryEnv


@pytest.mark.parametrize("layout", ["tuple", "dict", "flat"])
def test_env_follows_the_gymnasium_api(layout):
    check_env(PickPlaceEnv(action_layout=layout), skip_render_check=True)


@pytest.mark.parametrize("layout", ["tuple", "dict", "flat"])
def test_scripted_expert_succeeds_and_random_mostly_fails(layout):
    env = gym.make(PICK_PLACE_SPARSE_ID, action_layout=layout)
    successes, penalties = 0, []
    for seed in range(50):
        env.reset(seed=seed)
        while True:
            _, reward, terminated, truncated, info = env.step(env.unwrapped.scripted_action())
            penalties.append(info["discrete_penalty"])
            if terminated or truncated:
                successes += info["is_success"]
                assert reward == float(info["is_success"])  # sparse: 1 on success only
                break
    assert successes == 50
    assert min(penalties) == -0.05 and max(penalties) == 0.0  # each flip is penalised

    env.action_space.seed(0)
    random_successes = 0
    for seed in range(50):
        env.reset(seed=100 + seed)
        while True:
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            if terminated or truncated:
                random_successes += info["is_success"]
                break
    assert random_successes <= 5


def test_pick_place_grasp_carry_release_and_flip_penalty():
    env = PickPlaceEnv(action_layout="tuple", reward_type="dense")
    env.reset(seed=0)
    env._gripper, env._object, env._goal = np.array([0.0, 0.0]), np.array([0.1, 0.0]), np.array([0.6, 0.0])
    _, r_open, *_ = env.step((np.zeros(2, np.float32), 1))  # stay: not holding, costs reach + carry
    _, r_grasp, _, _, info = env.step((np.zeros(2, np.float32), 0))  # close next to the object: grasp
    assert info["holding"] and info["discrete_penalty"] == -0.05 and r_grasp > r_open
    for _ in range(2):
        env.step((np.array([1.0, 0.0], np.float32), 1))  # carry towards the goal
    assert np.allclose(env._object, env._gripper)
    _, reward, terminated, truncated, info = env.step((np.zeros(2, np.float32), 2))  # open at the goal
    assert terminated and not truncated and info["is_success"] and reward == 1.0


def test_bad_env_arguments_raise():
    with pytest.raises(ValueError, match="reward_type.*allowed"):
        PickPlaceEnv(reward_type="shaped")
    with pytest.raises(ValueError, match="action_layout.*allowed"):
        PickPlaceEnv(action_layout="multi")
    with pytest.raises(ValueError, match="max_episode_steps"):
        PickPlaceEnv(max_episode_steps=0)


@pytest.mark.parametrize(
    "layout,extra",
    [("tuple", {}), ("dict", {}), ("flat", {"discrete_action_in_last_dim": True})],
)
def test_hybrid_sac_trains_on_each_action_layout(ray_session, layout, extra):
    config = (
        HybridSACConfig()
        .environment(PICK_PLACE_ID, env_config={"action_layout": layout})
        .training(
            encoder_latent_dim=16,
            actor_hidden_dims=(16,),
            critic_hidden_dims=(16,),
            discrete_critic_hidden_dims=(16,),
            num_random_steps=40,
            train_batch_size_per_learner=16,
            **extra,
        )
        .env_runners(rollout_fragment_length=8)
        .reporting(min_sample_timesteps_per_iteration=120)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        result = algo.train()
        learner = result["learners"][DEFAULT_MODULE_ID]
        for key in ("discrete_critic_loss", "discrete_critic_grad_norm", "discrete_q_mean", "critic_loss"):
            assert np.isfinite(learner[key]), key
        assert "episode_success_rate" in result["env_runners"]
        replay = algo.learner_group._learner.replay(DEFAULT_MODULE_ID)
        stored = replay.discrete_action[: len(replay)]
        assert stored.min() >= 0 and stored.max() <= 2 and len(stored.unique()) == 3
        assert torch.all(replay.discrete_penalty[: len(replay)] <= 0)
        assert (replay.discrete_penalty[: len(replay)] < 0).any()  # flips from info were stored
    finally:
        algo.stop()


def test_gym_hil_pick_cube_starts_from_a_random_cube_fixed_by_the_seed():
    """gym-hil's own default is one fixed cube (every episode the same episode); ours draws it,
    reproducibly per seed, without touching the process's global numpy generator."""
    import os

    os.environ.setdefault("MUJOCO_GL", "egl")  # headless: mujoco reads it when first imported
    pytest.importorskip("gym_hil")
    from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_ID

    def cubes(env, seed, resets=3):
        first = env.reset(seed=seed)[0]["environment_state"].copy()
        return [first] + [env.reset()[0]["environment_state"].copy() for _ in range(resets - 1)]

    env, twin, fixed = (gym.make(GYM_HIL_PICK_CUBE_ID), gym.make(GYM_HIL_PICK_CUBE_ID),
                        gym.make(GYM_HIL_PICK_CUBE_ID, random_block_position=False))  # fmt: skip
    try:
        np.random.seed(123)
        before = np.random.get_state()[1].copy()
        seed_1 = cubes(env, 1)
        assert np.array_equal(np.random.get_state()[1], before)  # global state restored
        np.testing.assert_array_equal(np.stack(seed_1), np.stack(cubes(twin, 1)))  # same seed, same cubes
        assert not np.allclose(seed_1[0], cubes(twin, 2)[0])  # another seed, another cube
        assert not np.allclose(seed_1[0], seed_1[1]) and not np.allclose(seed_1[1], seed_1[2])  # each reset draws
        for cube in seed_1:
            assert 0.3 <= cube[0] <= 0.5 and -0.15 <= cube[1] <= 0.15  # gym-hil's sampling bounds
        np.testing.assert_allclose(np.stack(cubes(fixed, 1))[:, :2], [[0.5, 0.0]] * 3, atol=1e-6)
    finally:
        for e in (env, twin, fixed):
            e.close()


def _grasp_carry_episode(env, seed: int) -> tuple[float, dict]:
    env.reset(seed=seed)
    total = 0.0
    while True:
        _, reward, terminated, truncated, info = env.step(env.scripted_action())
        total += reward
        if terminated or truncated:
            return total, info


def test_grasp_carry_follows_the_gymnasium_api_and_the_expert_succeeds():
    check_env(GraspCarryEnv(), skip_render_check=True)
    check_env(GraspCarryEnv(action_layout="flat", observe_grasped=True), skip_render_check=True)
    env = GraspCarryEnv()
    episodes = [_grasp_carry_episode(env, seed) for seed in range(20)]
    returns, successes = [r for r, _ in episodes], [info["is_success"] for _, info in episodes]
    assert all(successes) and 10.5 < np.mean(returns) < 11.5  # +1 grasp, +10 place, shaping


def test_grasp_carry_reward_ablations():
    # Events only off: the return is the shaping's, the potential's change over the episode.
    env = GraspCarryEnv(grasp_bonus=0.0, place_bonus=0.0)
    total, info = _grasp_carry_episode(env, seed=3)
    assert info["is_success"] and abs(total) < 0.5
    # A drop costs shaping_scale * (4 - |goal - object|) by default, and 4 * shaping_scale staged.
    for staged, near_goal_cost, far_cost in ((False, 0.05 * 3.5, 0.05 * 1.0), (True, 0.2, 0.2)):
        costs = []
        for distance in (0.5, 3.0):
            env = GraspCarryEnv(staged_potential=staged)
            env.reset(seed=0)
            env._gripper, env._goal = np.zeros(2), np.array([distance, 0.0])
            env._object = env._gripper.copy()
            env._closed = env._holding = env._grasped_once = True
            _, reward, *_ = env.step((np.zeros(2, np.float32), 2))  # open outside the goal radius: a drop
            costs.append(-reward)
        assert np.allclose(costs, [near_goal_cost, far_cost])
    # observe_grasped: the last entry says whether this episode's grasp bonus was paid.
    env = GraspCarryEnv(observe_grasped=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (13,) and obs[-1] == 0.0
    env._gripper = env._object.copy()
    obs, reward, *_ = env.step((np.zeros(2, np.float32), 0))
    assert obs[-1] == 1.0 and reward > 0.5  # +1 and the potential's change
    with pytest.raises(ValueError, match="staged_potential.*allowed"):
        GraspCarryEnv(staged_potential="yes")
    with pytest.raises(ValueError, match="place_bonus.*allowed"):
        GraspCarryEnv(place_bonus=float("nan"))


@pytest.mark.parametrize("env_cls", [PickPlaceEnv, GraspCarryEnv])
def test_an_env_pickled_by_0_1_0_unpickles_and_steps_on(env_cls):
    """0.1.0 pickled the task without the planar world's settings (an EnvRunner's state in a
    checkpoint): unpickled, the env continues as the live one does."""
    env = env_cls()
    env.reset(seed=3)
    state = dict(env.__dict__)
    for name in ("half_width", "motion_limit", "motion_scale"):
        del state[name]
    old = env_cls.__new__(env_cls)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    for _ in range(5):
        action = env.scripted_action()
        assert np.array_equal(env.step(action)[0], old.step(action)[0])


def test_gym_hil_cameras_take_a_size_and_a_render_quality():
    """The camera env: both cameras at the size asked for, plus the arm's state; "cpu" quality
    draws without shadows (darker on average) and "full" as gym-hil does; bad values are refused."""
    import os

    os.environ.setdefault("MUJOCO_GL", "egl")
    pytest.importorskip("gym_hil")
    from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_PIXELS_ID

    means = {}
    for quality in ("full", "cpu"):
        env = gym.make(GYM_HIL_PICK_CUBE_PIXELS_ID, image_size=24, render_quality=quality)
        try:
            assert set(env.observation_space.spaces) == {"agent_pos", "pixels"}
            assert set(env.observation_space["pixels"].spaces) == {"front", "wrist"}
            obs, _ = env.reset(seed=0)
            for camera in ("front", "wrist"):
                assert obs["pixels"][camera].shape == (24, 24, 3) and obs["pixels"][camera].dtype == np.uint8
                assert env.observation_space["pixels"][camera].contains(obs["pixels"][camera])
            assert obs["agent_pos"].shape == (18,)
            model = env.unwrapped._model
            assert (model.vis.quality.shadowsize == 0) == (quality == "cpu")
            means[quality] = obs["pixels"]["front"].mean()
        finally:
            env.close()
    assert means["cpu"] < means["full"]  # the shadow map's light is gone, not the scene
    for bad, field in (({"image_size": 8}, "image_size"), ({"render_quality": "fast"}, "render_quality"),
                       ({"human_input": "mouse"}, "human_input")):  # fmt: skip
        with pytest.raises(ValueError, match=f"{field}=.*allowed"):
            gym.make(GYM_HIL_PICK_CUBE_PIXELS_ID, **bad)
