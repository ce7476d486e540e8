"""Demonstrations and interventions: what a human drove is what gets stored (and becomes a
demonstration); batches mix online and demonstration rows by online_ratio; the demonstration
replay survives a checkpoint; recorded files round-trip, RLlib's own recordings load, and
malformed ones fail with a clear error."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.data.demonstrations import demonstration_transitions, read_episodes
from rllib_sac_hybrid.data.transitions import episodes_to_transitions
from rllib_sac_hybrid.envs import PICK_PLACE_ID, SIM_ROBOT_ID
from rllib_sac_hybrid.robot.record import record
from rllib_sac_hybrid.spaces import ActionLayout
from tests.conftest import TINY_NETS

# One xdist worker runs this file: its tests share a module-scoped fixture (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("demos")

SPARSE_ID = "rllib_sac_hybrid/PickPlaceSparse-v0"
TUPLE_ACTIONS = gym.spaces.Tuple((gym.spaces.Box(-1.0, 1.0, (2,), np.float32), gym.spaces.Discrete(3)))
OBS = gym.spaces.Box(-10.0, 10.0, (3,), np.float32)


@pytest.fixture(scope="module")
def demo_dir(ray_session, tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("demos") / "pick_place")
    summary = record(SPARSE_ID, episodes=4, out=path, policy="scripted", seed=0)
    assert summary["episodes"] == 4 and summary["success_rate"] == 1.0
    return path


# ---- interventions --------------------------------------------------------------------------------
def _episode_with_interventions() -> SingleAgentEpisode:
    episode = SingleAgentEpisode(observation_space=OBS, action_space=TUPLE_ACTIONS)
    episode.add_env_reset(observation=np.zeros(3, np.float32), infos={})
    for t in range(4):
        human = t in (1, 2)
        teleop = (np.array([0.5, -0.5], np.float32), 2) if human else None
        policy_action = (np.array([0.1 * t, 0.0], np.float32), 0)
        info = {"is_intervention": human, "teleop_action": teleop}
        episode.add_env_step(np.full(3, t + 1, np.float32), policy_action, 0.0, infos=info)
    return episode.to_numpy()


def test_intervention_steps_store_the_teleop_action():
    layout = ActionLayout.from_space(TUPLE_ACTIONS)
    out = episodes_to_transitions([_episode_with_interventions()], OBS, layout)
    np.testing.assert_array_equal(out["is_intervention"], [False, True, True, False])
    np.testing.assert_allclose(out["action"][[1, 2]], [[0.5, -0.5], [0.5, -0.5]])  # the human's, not the policy's
    np.testing.assert_array_equal(out["discrete_action"], [[0], [2], [2], [0]])  # (n, P): one part
    np.testing.assert_allclose(out["action"][[0, 3]], [[0.0, 0.0], [0.3, 0.0]])  # the policy's where no human


def test_intervention_without_teleop_action_is_an_error():
    episode = SingleAgentEpisode(observation_space=OBS, action_space=TUPLE_ACTIONS)
    episode.add_env_reset(observation=np.zeros(3, np.float32), infos={})
    episode.add_env_step(np.ones(3, np.float32), (np.zeros(2, np.float32), 1), 0.0, infos={"is_intervention": True})
    with pytest.raises(ValueError, match="teleop_action"):
        episodes_to_transitions([episode.to_numpy()], OBS, ActionLayout.from_space(TUPLE_ACTIONS))


def test_interventions_become_demonstrations_and_their_rate_is_a_metric(ray_session):
    config = (
        HybridSACConfig()
        .environment(SIM_ROBOT_ID, env_config={"control_hz": 5000.0, "intervention_prob": 0.1, "intervention_steps": 3})
        .training(**TINY_NETS, num_random_steps=100, train_batch_size_per_learner=16)
        .env_runners(rollout_fragment_length=10)
        .reporting(min_sample_timesteps_per_iteration=300)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        result = algo.train()
        stats = algo.env_runner.env.unwrapped.envs[0].unwrapped.robot_stats()
        online, from_demos = algo.learner_group._learner.batch_sizes(DEFAULT_MODULE_ID)
    finally:
        algo.stop()
    learners = result["learners"][DEFAULT_MODULE_ID]
    assert 0 < stats["interventions"] < result["num_env_steps_sampled_lifetime"]
    assert learners["demo_replay_size"] == stats["interventions"]  # every step a human drove, and only those
    assert learners["replay_size"] == result["num_env_steps_sampled_lifetime"]  # and still online rows too
    assert 0 < result["env_runners"]["episode_intervention_rate"] < 1
    assert (online, from_demos) == (8, 8)  # online_ratio 0.5 once demonstrations exist


# ---- mixing -----------------------------------------------------------------------------------------
def _rows(n: int, reward: float) -> dict:
    obs = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    return {
        "obs": obs,
        "next_obs": obs,
        "action": np.zeros((n, 1), np.float32),
        "reward": np.full(n, reward, np.float32),
        "done": np.zeros(n, np.float32),
    }


@pytest.mark.parametrize("online_ratio,expected_online", [(0.5, 16), (0.25, 8), (1.0, 32)])
def test_batch_composition_matches_online_ratio(ray_session, online_ratio, expected_online):
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .training(**TINY_NETS, train_batch_size_per_learner=32, online_ratio=online_ratio, utd_ratio=3)
    )
    algo = config.build_algo()
    try:
        learner = algo.learner_group._learner
        learner.update_from_transitions({DEFAULT_MODULE_ID: _rows(200, 0.0)}, num_updates=0)  # online: reward 0
        updater = learner.updater(DEFAULT_MODULE_ID)
        batches, demo_counts = [], []

        def update(next_batch, demo_rows=0, utd_ratio=None):
            assert utd_ratio == 3
            demo_counts.append(demo_rows)
            batches.extend(next_batch() for _ in range(3))
            return []

        updater.update = update
        learner._run_updates(DEFAULT_MODULE_ID, learner.replay(DEFAULT_MODULE_ID), 2)
        assert all(int((b.reward == 0).sum()) == 32 for b in batches)  # no demonstrations yet: all online
        learner.add_demonstrations(DEFAULT_MODULE_ID, _rows(50, 1.0))  # demonstrations: reward 1
        batches.clear()
        demo_counts.clear()
        learner._run_updates(DEFAULT_MODULE_ID, learner.replay(DEFAULT_MODULE_ID), 2)
    finally:
        algo.stop()
    assert demo_counts == [32 - expected_online] * 2  # the update knows which rows bc_weight clones
    assert len(batches) == 6  # every UTD step of every update
    for batch in batches:
        assert batch.reward.shape == (32,)
        assert int((batch.reward == 0).sum()) == expected_online
        assert int((batch.reward == 1).sum()) == 32 - expected_online


# ---- loading, checkpoints ---------------------------------------------------------------------------
def test_recorded_demonstrations_round_trip(demo_dir):
    episodes = read_episodes(demo_dir)
    assert len(episodes) == 4
    env = gym.make(SPARSE_ID)
    layout = ActionLayout.from_space(env.action_space)
    transitions = demonstration_transitions(episodes, env.observation_space, layout, "discrete_penalty")
    assert len(transitions["reward"]) == sum(len(e) for e in episodes)
    assert transitions["reward"].sum() == 4  # sparse: one success per episode
    assert transitions["done"].sum() == 4
    # Replaying the recorded actions from the same reset (episode i was reset with seed i)
    # reproduces each recorded episode: observations, rewards, success.
    for episode in episodes:
        starts = {seed: env.reset(seed=seed)[0] for seed in range(4)}
        (seed,) = [s for s, obs in starts.items() if np.array_equal(obs, episode.get_observations(0))]
        env.reset(seed=seed)
        actions = episode.get_actions(slice(0, len(episode)))
        for t in range(len(episode)):
            obs, reward, *_ = env.step((actions[0][t], int(actions[1][t])))
            np.testing.assert_allclose(obs, episode.get_observations(t + 1), rtol=1e-6)
            assert reward == episode.get_rewards(t)


@pytest.mark.parametrize("online_ratio,with_demos", [(0.5, 4), (1.0, 1)])
def test_auto_utd_ratio_rises_while_batches_mix_in_demonstrations(ray_session, online_ratio, with_demos):
    """utd_ratio="auto" (the default): 1 critic step per update on the online replay alone, 4 once the
    demonstration replay holds rows that the batches mix in (not with online_ratio=1)."""
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .training(**TINY_NETS, train_batch_size_per_learner=16, online_ratio=online_ratio)
    )
    assert config.utd_ratio == "auto"
    algo = config.build_algo()
    try:
        learner = algo.learner_group._learner
        updater = learner.updater(DEFAULT_MODULE_ID)
        trained = learner.update_from_transitions({DEFAULT_MODULE_ID: _rows(200, 0.0)}, 3, reduce_metrics=False)
        assert (updater.num_critic_steps, updater.num_policy_steps, trained) == (3, 3, 3 * 16)
        learner.add_demonstrations(DEFAULT_MODULE_ID, _rows(50, 1.0))  # as a human's interventions would
        trained = learner.update_from_transitions({}, 3, reduce_metrics=False)
        assert (updater.num_critic_steps, updater.num_policy_steps) == (3 + 3 * with_demos, 6)
        assert trained == 3 * with_demos * 16
        assert learner.reduce_metrics()[DEFAULT_MODULE_ID]["utd_ratio"] == with_demos  # reported as it is now
    finally:
        algo.stop()


def test_demonstration_replay_survives_checkpoint_and_restore(demo_dir, tmp_path):
    def config(**training):
        return (
            HybridSACConfig()
            .environment(SPARSE_ID)
            .training(**TINY_NETS, num_random_steps=20, train_batch_size_per_learner=16, **training)
            .reporting(min_sample_timesteps_per_iteration=50)
            .debugging(seed=0)
        )

    algo = config(demonstrations=demo_dir, checkpoint_replay=False).build_algo()
    try:
        algo.train()
        saved = algo.learner_group._learner.demo_replay(DEFAULT_MODULE_ID).get_state()
        algo.save_to_path(str(tmp_path))
    finally:
        algo.stop()
    restored = config().build_algo()  # no demonstrations configured: they come from the checkpoint
    try:
        assert restored.learner_group._learner.demo_replay(DEFAULT_MODULE_ID) is None
        restored.restore_from_path(str(tmp_path))
        replay = restored.learner_group._learner.demo_replay(DEFAULT_MODULE_ID)
        assert len(replay) == saved["size"] > 0
        state = replay.get_state()
        np.testing.assert_array_equal(state["frames"], saved["frames"])
        np.testing.assert_array_equal(state["fields"]["reward"], saved["fields"]["reward"])
        result = restored.train()  # and training mixes them in
        assert result["learners"][DEFAULT_MODULE_ID]["demo_replay_size"] == saved["size"]
    finally:
        restored.stop()


def test_episodes_recorded_by_rllib_load(ray_session, tmp_path):
    from ray.rllib.offline.offline_env_runner import OfflineSingleAgentEnvRunner

    config = (
        HybridSACConfig()
        .environment(PICK_PLACE_ID)
        .env_runners(rollout_fragment_length=5)  # RLlib records chunks: they are joined again
        .offline_data(output=str(tmp_path), output_write_episodes=True)
    )
    runner = OfflineSingleAgentEnvRunner(config=config)
    sampled = runner.sample(num_timesteps=60, random_actions=True)
    runner.stop()  # writes what is left
    episodes = read_episodes(str(tmp_path))
    env = gym.make(PICK_PLACE_ID)
    transitions = demonstration_transitions(
        episodes, env.observation_space, ActionLayout.from_space(env.action_space), "discrete_penalty"
    )
    assert len(transitions["reward"]) == sum(len(chunk) for chunk in sampled) == 60
    assert len(episodes) == len({chunk.id_ for chunk in sampled})  # chunks of an episode joined


def _write_table(path, columns: dict) -> str:
    path.mkdir()
    pq.write_table(pa.table(columns), str(path / "part-0.parquet"))
    return str(path)


def test_malformed_demonstrations_fail_clearly(ray_session, tmp_path, demo_dir):
    with pytest.raises(ValueError, match="no such file or directory"):
        read_episodes(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="directory is empty"):
        read_episodes(str(tmp_path / "empty"))
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="could not be read as Parquet"):
        read_episodes(str(tmp_path / "text"))
    with pytest.raises(ValueError, match="not 'item'"):
        read_episodes(_write_table(tmp_path / "columns", {"obs": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="row 0 is not a packed SingleAgentEpisode"):
        read_episodes(_write_table(tmp_path / "bytes", {"item": [b"\x93garbage", b"x"]}))
    with pytest.raises(ValueError, match="demonstration_format='d4rl' is unknown"):
        read_episodes(demo_dir, source="d4rl")
    # Demonstrations of another env: a clear error when the algorithm loads them.
    config = HybridSACConfig().environment("Pendulum-v1").training(**TINY_NETS, demonstrations=demo_dir)
    with pytest.raises(ValueError, match="observations of sizes"):
        config.build_algo()
    # More transitions than the demonstration replay holds.
    config = HybridSACConfig().environment(SPARSE_ID).training(**TINY_NETS, demonstrations=demo_dir, demo_capacity=5)
    with pytest.raises(ValueError, match="more than demo_capacity=5"):
        config.build_algo()


def test_torch_batches_concatenate():
    from rllib_sac_hybrid.data.batch import Batch, concat_batches

    a = Batch(torch.zeros(2, 3), torch.zeros(2, 1), torch.zeros(2), {"x": torch.zeros(2, 1)}, torch.zeros(2))
    b = Batch(torch.ones(1, 3), torch.ones(1, 1), torch.ones(1), {"x": torch.ones(1, 1)}, torch.ones(1))
    out = concat_batches(a, b)
    assert out.obs.shape == (3, 3) and out.next_obs["x"].shape == (3, 1) and out.discrete_action is None


def test_minari_datasets_load(tmp_path, monkeypatch):
    import minari  # the minari extra; make test installs it
    from minari.data_collector import EpisodeBuffer

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    env = gym.make("Pendulum-v1", max_episode_steps=20)
    buffers, rewards = [], []
    for i in range(3):
        obs, _ = env.reset(seed=i)
        observations, actions, step_rewards = [obs], [], []
        for _ in range(20):
            action = env.action_space.sample()
            obs, reward, *_ = env.step(action)
            observations.append(obs), actions.append(action), step_rewards.append(float(reward))
        rewards += step_rewards
        buffers.append(
            EpisodeBuffer(id=i, seed=i, observations=np.array(observations), actions=np.array(actions),
                          rewards=step_rewards, terminations=[False] * 20, truncations=[False] * 19 + [True], infos={})
        )  # fmt: skip
    minari.create_dataset_from_buffers(
        dataset_id="test/pendulum-random-v0", buffer=buffers, env=env, algorithm_name="random", data_format="arrow"
    )
    episodes = read_episodes("test/pendulum-random-v0", source="minari")
    transitions = demonstration_transitions(
        episodes, env.observation_space, ActionLayout.from_space(env.action_space), "discrete_penalty"
    )
    assert len(episodes) == 3 and len(transitions["reward"]) == 60
    np.testing.assert_allclose(np.sort(transitions["reward"]), np.sort(np.float32(rewards)), rtol=1e-6)
    assert transitions["done"].sum() == 0 and transitions["episode_end"].sum() == 3  # truncated: bootstraps
    with pytest.raises(ValueError, match="no local Minari dataset"):
        read_episodes("test/missing-v0", source="minari")


def test_teleop_recording_keeps_what_the_human_did(ray_session, tmp_path):
    """--policy teleop steps with 'stay' and records info['teleop_action']: here the simulated
    robot's scripted human drives every step, so the recorded episodes are the expert's."""
    config = {"control_hz": 1000.0, "intervention_prob": 1.0, "intervention_steps": 1000}
    summary = record(SIM_ROBOT_ID, episodes=3, out=str(tmp_path), policy="teleop", seed=0, env_config=config)
    assert summary["success_rate"] == 1.0  # a neutral action never moves; the human's commands succeed
    episodes = read_episodes(str(tmp_path))
    env = gym.make(SIM_ROBOT_ID, **config)
    transitions = demonstration_transitions(
        episodes, env.observation_space, ActionLayout.from_space(env.action_space), "discrete_penalty"
    )
    assert transitions["is_intervention"].all()
    assert set(transitions["discrete_action"][:, 0].tolist()) >= {0, 2}  # the human closed and opened the gripper


def test_writing_twice_into_a_directory_appends_and_half_written_files_are_skipped(ray_session, tmp_path, demo_dir):
    """Local directories are written and read by pyarrow in this process: a second write adds a
    file next to the first (as Ray Data does), and a file still being written (``.tmp``) or a hidden
    one is not read."""
    from rllib_sac_hybrid.data.demonstrations import write_episodes

    episodes = read_episodes(demo_dir)
    out = str(tmp_path / "out")
    assert write_episodes(episodes[:2], out) == 2 and write_episodes(episodes[2:3], out) == 1
    (tmp_path / "out" / "episodes_partial.parquet.tmp").write_bytes(b"half a file")
    (tmp_path / "out" / "_SUCCESS").write_text("")
    read = read_episodes(out)
    assert sorted(e.id_ for e in read) == sorted(e.id_ for e in episodes[:3])
    for a, b in zip(sorted(read, key=lambda e: e.id_), sorted(episodes[:3], key=lambda e: e.id_), strict=True):
        np.testing.assert_array_equal(a.get_observations(), b.get_observations())
        np.testing.assert_array_equal(a.get_rewards(), b.get_rewards())


def test_recording_twice_with_one_seed_gives_the_same_episodes_in_the_same_order(ray_session, tmp_path, demo_dir):
    """Episode ids come from the reset seed and the content, so a fresh recording with the same
    seed loads in the same order (the demonstration replay, and a seeded run on it, repeat);
    with RLlib's random ids the readers' order by id reshuffled the episodes at each recording."""
    again = str(tmp_path / "again")
    record(SPARSE_ID, episodes=4, out=again, policy="scripted", seed=0)
    first, second = read_episodes(demo_dir), read_episodes(again)
    assert [e.id_ for e in first] == [e.id_ for e in second]
    assert [e.id_.split("-")[1] for e in first] == [f"{seed:012d}" for seed in range(4)]  # reset-seed order
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.get_observations(), b.get_observations())
    other = str(tmp_path / "other")
    record(SPARSE_ID, episodes=1, out=other, policy="random", seed=0)
    assert read_episodes(other)[0].id_ != first[0].id_  # same reset seed, other content: another id


def test_action_noise_perturbs_the_continuous_part_within_bounds_and_records_what_ran(ray_session, tmp_path):
    """--action-noise: the scripted expert's motions get Gaussian noise, clipped to the bounds; the
    gripper index is the expert's; the recorded actions are the executed ones (so replaying them
    from the same reset gives the same observations)."""
    clean, noisy = str(tmp_path / "clean"), str(tmp_path / "noisy")
    record(PICK_PLACE_ID, episodes=3, out=clean, policy="scripted", seed=0)
    summary = record(PICK_PLACE_ID, episodes=3, out=noisy, policy="scripted", seed=0, action_noise=0.5)
    assert summary["action_noise"] == 0.5
    first_clean, first_noisy = read_episodes(clean)[0], read_episodes(noisy)[0]
    motions = np.stack([np.asarray(a[0]) for a in first_noisy.get_actions()])
    assert np.all(np.abs(motions) <= 1.0) and np.abs(motions).max() == 1.0  # clipped to Box(-1, 1)
    assert not np.allclose(motions[:3], np.stack([np.asarray(a[0]) for a in first_clean.get_actions()])[:3])
    assert {int(a[1]) for a in first_noisy.get_actions()} <= {0, 1, 2}
    env = gym.make(PICK_PLACE_ID)
    obs, _ = env.reset(seed=int(first_noisy.id_.split("-")[1]))
    for action, expected in zip(first_noisy.get_actions(), first_noisy.get_observations()[1:]):
        obs, *_ = env.step(action)
        np.testing.assert_allclose(obs, expected)
    # gym-hil's flat layout: noise on the motion, never on the gripper index in the last component.
    from rllib_sac_hybrid.robot.record import with_action_noise

    flat = gym.spaces.Box(np.array([-1, -1, 0], np.float32), np.array([1, 1, 2], np.float32))
    act = with_action_noise(lambda env, obs, info: np.array([0.0, 0.0, 2.0], np.float32), flat, 0.5, seed=0)
    actions = np.stack([act(None, None, {}) for _ in range(50)])
    assert np.all(actions[:, 2] == 2.0) and actions[:, :2].std() > 0.2


def test_action_noise_bad_values_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="action-noise"):
        record(PICK_PLACE_ID, episodes=1, out=str(tmp_path / "a"), policy="scripted", action_noise=-0.1)
    with pytest.raises(ValueError, match="a scripted or exported policy"):
        record(PICK_PLACE_ID, episodes=1, out=str(tmp_path / "b"), policy="random", action_noise=0.2)


def test_action_noise_on_unbounded_components_is_sigma_in_action_units():
    from rllib_sac_hybrid.robot.record import with_action_noise

    space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    act = with_action_noise(lambda env, obs, info: np.zeros(2, np.float32), space, 0.3, seed=0)
    actions = np.stack([act(None, None, {}) for _ in range(2000)])
    assert np.all(np.isfinite(actions)) and actions.std() == pytest.approx(0.3, rel=0.1)
