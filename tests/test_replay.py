"""Tensor replay: ring-buffer order, episode chunks to transitions, termination vs truncation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_sac_hybrid.data.replay import TensorReplayBuffer
from rllib_sac_hybrid.data.transitions import episodes_to_transitions
from rllib_sac_hybrid.spaces import ActionLayout

OBS = gym.spaces.Box(-10, 10, (2,))
ACT = gym.spaces.Box(np.array([-2.0, 0.0]), np.array([2.0, 1.0]), dtype=np.float32)
LAYOUT = ActionLayout.from_space(ACT)


def transitions(start: int, n: int) -> dict:
    ids = np.arange(start, start + n, dtype=np.float32)
    return {
        "obs": np.stack([ids, ids], 1),
        "next_obs": np.stack([ids + 1, ids + 1], 1),
        "action": np.zeros((n, 2), np.float32),
        "reward": ids,
        "done": np.zeros(n, np.float32),
    }


def test_ring_buffer_overwrites_oldest_first():
    buffer = TensorReplayBuffer(5, OBS, LAYOUT)
    buffer.add(transitions(0, 3))
    assert len(buffer) == 3
    buffer.add(transitions(3, 4))  # wraps around
    assert len(buffer) == 5 and buffer.num_added == 7
    assert sorted(buffer.reward.tolist()) == [2, 3, 4, 5, 6]
    buffer.add(transitions(100, 12))  # more than capacity: newest kept
    assert sorted(buffer.reward.tolist()) == [107, 108, 109, 110, 111]
    batch = buffer.sample(64)
    torch.testing.assert_close(batch.obs[:, 0], batch.reward)
    torch.testing.assert_close(batch.next_obs[:, 0], batch.reward + 1)


def test_sampling_is_uniform_over_stored_rows():
    buffer = TensorReplayBuffer(100, OBS, LAYOUT)
    buffer.add(transitions(0, 10))
    idx = buffer.sample_indices(50, 200, torch.Generator().manual_seed(0))
    assert idx.shape == (50, 200) and idx.max() < 10
    counts = torch.bincount(idx.flatten(), minlength=10)
    assert counts.min() > 800  # 1000 expected each


def test_empty_buffer_refuses_to_sample():
    with pytest.raises(RuntimeError, match="empty"):
        TensorReplayBuffer(10, OBS, LAYOUT).sample(4)


def test_dict_observations_are_stored_per_key():
    space = gym.spaces.Dict(
        {"agent_pos": gym.spaces.Box(-1, 1, (3,)), "env": gym.spaces.Dict({"cube": gym.spaces.Box(-1, 1, (2,))})}
    )
    buffer = TensorReplayBuffer(8, space, ActionLayout.from_space(gym.spaces.Box(-1, 1, (1,))), next_obs_slots=2)
    obs = {"agent_pos": np.ones((4, 3)), "env/cube": np.full((4, 2), 2.0)}
    buffer.add({"obs": obs, "next_obs": obs, "action": np.zeros((4, 1)), "reward": np.zeros(4), "done": np.zeros(4)})
    batch = buffer.sample(3)
    assert set(batch.obs) == {"agent_pos", "env/cube"}
    assert batch.obs["env/cube"].shape == (3, 2) and torch.all(batch.obs["env/cube"] == 2.0)
    # frames: 8 rows + 2 extra, 5 floats each; per row: next-frame pointer (int64), action, reward, done
    assert buffer.nbytes_per_transition() == 4 * (3 + 2) * (8 + 2) / 8 + 8 + 4 * (1 + 1 + 1)


def make_episode(num_steps: int, terminated: bool, truncated: bool, space: gym.Space = OBS) -> SingleAgentEpisode:
    episode = SingleAgentEpisode(observation_space=space, action_space=ACT)
    episode.add_env_reset(observation=np.zeros(2, np.float32))
    for t in range(num_steps):
        last = t == num_steps - 1
        episode.add_env_step(
            observation=np.full(2, t + 1, np.float32),
            action=np.array([2.0 * (t % 2) - 1.0, 0.5], np.float32),
            reward=float(t),
            terminated=terminated and last,
            truncated=truncated and last,
        )
    return episode


@pytest.mark.parametrize("terminated,truncated", [(True, False), (False, True), (False, False)])
def test_episode_to_transitions(terminated, truncated):
    layout = ActionLayout.from_space(ACT)
    data = episodes_to_transitions([make_episode(4, terminated, truncated).to_numpy()], OBS, layout)
    np.testing.assert_array_equal(data["obs"][:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(data["next_obs"][:, 0], [1, 2, 3, 4])  # the true last obs, never a reset
    np.testing.assert_array_equal(data["reward"], [0, 1, 2, 3])
    # only termination stops bootstrapping; time-limit truncation does not
    np.testing.assert_array_equal(data["done"], [0, 0, 0, 1.0 if terminated else 0.0])
    # stored in env units, exactly as the env got them
    np.testing.assert_array_equal(data["action"], [[-1.0, 0.5], [1.0, 0.5], [-1.0, 0.5], [1.0, 0.5]])
    # and rescaled to the actor's [-1, 1] range when gathered: x in [-2, 2] -> x / 2; y in [0, 1] -> 2y - 1
    buffer = TensorReplayBuffer(10, OBS, layout)
    buffer.add(data)
    torch.testing.assert_close(buffer.gather(torch.arange(4)).action, torch.tensor([[-0.5, 0.0], [0.5, 0.0]] * 2))


def test_chunked_episode_continues_from_last_observation():
    episode = make_episode(3, False, False)
    successor = episode.cut()
    successor.add_env_step(observation=np.full(2, 9, np.float32), action=np.array([0.0, 0.5], np.float32), reward=1.0)
    data = episodes_to_transitions([episode.to_numpy(), successor.to_numpy()], OBS, ActionLayout.from_space(ACT))
    np.testing.assert_array_equal(data["obs"][:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(data["next_obs"][:, 0], [1, 2, 3, 9])


# ---- each observation stored once ----------------------------------------------------------
def test_chunks_of_one_step_link_across_adds_and_free_their_extra_frame():
    """rollout_fragment_length=1: every chunk's next obs waits in an extra frame until the
    episode's next chunk arrives; then the pointer moves to that chunk's row."""
    buffer = TensorReplayBuffer(100, WIDE, LAYOUT, next_obs_slots=3)
    episode = make_episode(1, False, False, WIDE)
    for step in range(10):  # 10 one-step chunks of one episode, next obs (t+1, t+1)
        buffer.add(episodes_to_transitions([episode.to_numpy()], WIDE, LAYOUT))
        successor = episode.cut()
        successor.add_env_step(
            observation=np.full(2, step + 2, np.float32), action=np.zeros(2, np.float32), reward=float(step + 1)
        )
        episode = successor
        assert len(buffer) == step + 1  # 3 extra frames suffice for a 10-step episode: nothing dropped
    batch = buffer.gather(torch.arange(10))
    torch.testing.assert_close(batch.obs[:, 0], torch.arange(10.0))
    torch.testing.assert_close(batch.next_obs[:, 0], torch.arange(1.0, 11.0))
    assert buffer.next_frame[:9].tolist() == list(range(1, 10))  # rows point at their successors' rows


WIDE = gym.spaces.Box(-1e6, 1e6, (2,))


def numbered_episodes(rng, runners: int, rounds: int, max_len: int):
    """Chunks as RLlib's EnvRunners send them: `runners` interleaved episode streams, chunks of
    1-3 steps, episodes of 1..max_len steps ending terminated or truncated. Observation =
    (global episode number, step): a next obs is right iff it is (same episode, step + 1)."""
    counter = iter(range(10**6))
    streams = []
    for _ in range(runners):
        episode = SingleAgentEpisode(observation_space=WIDE, action_space=ACT)
        number = next(counter)
        episode.add_env_reset(observation=np.array([number, 0], np.float32))
        streams.append([episode, number, int(rng.integers(1, max_len + 1))])
    for _ in range(rounds):
        chunks = []
        for stream in streams:
            episode, number, length = stream
            for _ in range(int(rng.integers(1, 4))):
                t = episode.t
                last = t + 1 == length
                episode.add_env_step(
                    observation=np.array([number, t + 1], np.float32),
                    action=np.zeros(2, np.float32),
                    reward=float(number),
                    terminated=last and bool(rng.integers(2)),
                    truncated=last,
                )
                if episode.is_done:
                    break
            chunks.append(episode.to_numpy())
            if episode.is_done:
                episode = SingleAgentEpisode(observation_space=WIDE, action_space=ACT)
                number = next(counter)
                episode.add_env_reset(observation=np.array([number, 0], np.float32))
                stream[:] = [episode, number, int(rng.integers(1, max_len + 1))]
            else:
                stream[0] = episode.cut()
        yield episodes_to_transitions(chunks, WIDE, LAYOUT)


@pytest.mark.parametrize("max_len,slots", [(40, 16), (3, 4)])
def test_every_sampled_next_obs_is_right_with_interleaved_runners(max_len, slots):
    """Three interleaved runners, random chunking, a buffer that wraps many times. With long
    episodes nothing is dropped; with 1-3 step episodes the extra frames run out and the window
    shrinks - but no sampled row ever has a wrong next observation."""
    buffer = TensorReplayBuffer(60, WIDE, LAYOUT, next_obs_slots=slots)
    sizes = []
    for data in numbered_episodes(np.random.default_rng(0), runners=3, rounds=150, max_len=max_len):
        buffer.add(data)
        sizes.append(len(buffer))
        batch = buffer.gather(buffer.sample_indices(1, 256, torch.Generator().manual_seed(len(sizes)))[0])
        torch.testing.assert_close(batch.next_obs[:, 0], batch.obs[:, 0])  # same episode
        torch.testing.assert_close(batch.next_obs[:, 1], batch.obs[:, 1] + 1)  # the next step
        torch.testing.assert_close(batch.reward, batch.obs[:, 0])  # the row's own data
    assert buffer.num_added > 3 * buffer.capacity
    if max_len == 40:
        assert min(sizes[30:]) == buffer.capacity
    else:
        assert 0 < min(sizes[30:]) < buffer.capacity


def test_observations_are_stored_once():
    layout = ActionLayout.from_space(gym.spaces.Box(-1, 1, (3,)))
    hopper = TensorReplayBuffer(100_000, gym.spaces.Box(-np.inf, np.inf, (11,)), layout)
    # 11 floats x 1.29 frames (capacity // 4 + 4096 extra) + pointer + action + reward + done
    assert hopper.nbytes_per_transition() < 4 * 11 * 1.3 + 8 + 4 * 5
    assert hopper.nbytes_per_transition() < 4 * 11 * 2  # less than obs and next obs stored apart


def test_dropped_rows_keep_next_observations_right():
    """Drop a middle row of a chunk and the last row of another: every kept row's next obs is
    still its true successor, and nothing links across the gaps in later calls."""
    from rllib_sac_hybrid.data.transitions import drop_transitions, non_finite_rows

    episode = make_episode(4, False, False, WIDE)
    data = episodes_to_transitions([episode.to_numpy()], WIDE, LAYOUT)
    data["reward"][1] = np.nan
    bad, fields = non_finite_rows(data)
    assert bad.tolist() == [False, True, False, False] and set(fields) == {"reward"}
    kept = drop_transitions(data, ~bad)
    assert kept["next_is_next_row"].tolist() == [False, True, False]  # row 0 lost its successor
    assert kept["episode_end"].tolist() == [True, False, False]  # ... and links no further
    assert kept["episode_id"][0] == episode.id_ and kept["episode_id"][1] != episode.id_
    buffer = TensorReplayBuffer(20, WIDE, LAYOUT, next_obs_slots=4)
    buffer.add(kept)
    successor = episode.cut()  # the episode goes on in the next call
    successor.add_env_step(observation=np.full(2, 5, np.float32), action=np.zeros(2, np.float32), reward=9.0)
    buffer.add(episodes_to_transitions([successor.to_numpy()], WIDE, LAYOUT))
    batch = buffer.gather(torch.arange(4))
    torch.testing.assert_close(batch.obs[:, 0], torch.tensor([0.0, 2.0, 3.0, 4.0]))
    torch.testing.assert_close(batch.next_obs[:, 0], torch.tensor([1.0, 3.0, 4.0, 5.0]))


def test_non_finite_rows_name_dict_keys():
    from rllib_sac_hybrid.data.transitions import non_finite_rows

    obs = {"pos": np.zeros((3, 2)), "goal": np.array([[0.0], [np.inf], [0.0]])}
    data = {"obs": obs, "next_obs": obs, "reward": np.zeros(3), "action": np.zeros((3, 1))}
    bad, fields = non_finite_rows(data)
    assert bad.tolist() == [False, True, False]
    assert set(fields) == {"obs/goal", "next_obs/goal"}
