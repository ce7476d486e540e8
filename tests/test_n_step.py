"""n-step returns: the replay's sampled targets against a brute-force count over random episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_sac_hybrid import HybridSACConfig, losses
from rllib_sac_hybrid.data.replay import TensorReplayBuffer
from rllib_sac_hybrid.data.transitions import concat_transitions, episodes_to_transitions
from rllib_sac_hybrid.spaces import ActionLayout

OBS = gym.spaces.Box(-1e6, 1e6, (2,))
ACT = gym.spaces.Tuple((gym.spaces.Box(-1, 1, (1,)), gym.spaces.Discrete(3)))
LAYOUT = ActionLayout.from_space(ACT)
GAMMA = 0.9


def random_rounds(rng, runners: int, rounds: int, max_len: int):
    """Rounds of chunks from interleaved runners, as RLlib sends them, and the truth so far.

    Observation = (episode number, step). Each round yields the round's transitions and a dict
    number -> [rewards of the steps sent so far, penalties, ended terminated?] (None while running).
    """
    counter = iter(range(10**6))
    truth: dict[int, list] = {}

    def new_episode():
        number = next(counter)
        episode = SingleAgentEpisode(observation_space=OBS, action_space=ACT)
        episode.add_env_reset(observation=np.array([number, 0], np.float32))
        truth[number] = [[], [], None]
        return [episode, number, int(rng.integers(1, max_len + 1)), bool(rng.integers(2))]

    streams = [new_episode() for _ in range(runners)]
    for _ in range(rounds):
        chunks = []
        for stream in streams:
            episode, number, length, terminates = stream
            for _ in range(int(rng.integers(1, 5))):
                t = episode.t
                last = t + 1 == length
                reward, penalty = float(rng.normal()), float(-0.5 * rng.integers(2))
                episode.add_env_step(
                    observation=np.array([number, t + 1], np.float32),
                    action=(np.zeros(1, np.float32), int(rng.integers(3))),
                    reward=reward,
                    infos={"discrete_penalty": penalty},
                    terminated=last and terminates,
                    truncated=last and not terminates,
                )
                truth[number][0].append(reward)
                truth[number][1].append(penalty)
                if last:
                    truth[number][2] = terminates
                    break
            chunks.append(episode.to_numpy())
            stream[:] = new_episode() if episode.is_done else [episode.cut(), number, length, terminates]
        yield concat_transitions([episodes_to_transitions([c], OBS, LAYOUT) for c in chunks]), truth


def brute_force(truth: dict, number: int, t: int, n: int) -> tuple[float, float, float, float, float]:
    """(reward, penalty, done, next step, discount) of the n-step return from step t of an episode,
    over the steps sent so far."""
    rewards, penalties, terminated = truth[number]
    reward = penalty = 0.0
    k = 0
    while k < n and t + k < len(rewards):
        reward += GAMMA**k * rewards[t + k]
        penalty += GAMMA**k * penalties[t + k]
        k += 1
    done = float(terminated is True and t + k == len(rewards))
    return reward, penalty, done, float(t + k), GAMMA**k


@pytest.mark.parametrize("n,capacity", [(1, 5000), (3, 5000), (5, 70)])
def test_n_step_targets_match_a_brute_force_count(n, capacity):
    """Three runners, chunks of 1-4 steps, episodes of 1-12 steps ending terminated or truncated;
    every stored row is checked after every round (so also rows whose episode's next chunk has not
    arrived yet). capacity 70 wraps the ring buffer many times."""
    buffer = TensorReplayBuffer(capacity, OBS, LAYOUT, next_obs_slots=40, n_step=n, discount=GAMMA)
    checked = 0
    for transitions, truth in random_rounds(np.random.default_rng(n), runners=3, rounds=120, max_len=12):
        buffer.add(transitions)
        idx = (buffer.position - 1 - torch.arange(len(buffer))) % buffer.capacity  # every row in the window
        batch = buffer.gather(idx)
        expected = torch.tensor(
            [brute_force(truth, int(o[0]), int(o[1]), n) for o in batch.obs.tolist()], dtype=torch.float32
        )
        torch.testing.assert_close(batch.reward, expected[:, 0])
        torch.testing.assert_close(batch.discrete_penalty[:, 0], expected[:, 1])  # (B, P): one part
        torch.testing.assert_close(batch.done, expected[:, 2])
        torch.testing.assert_close(batch.next_obs[:, 0], batch.obs[:, 0])  # the same episode ...
        torch.testing.assert_close(batch.next_obs[:, 1], expected[:, 3])  # ... k steps on
        if n == 1:
            assert batch.discount is None
        else:
            torch.testing.assert_close(batch.discount, expected[:, 4])
        checked += len(idx)
    assert checked > 5000
    if capacity < 100:
        assert buffer.num_added > 5 * capacity


def test_n_step_bootstraps_with_gamma_to_the_k():
    """The critic target uses the batch's per-row discount when it has one."""
    from tests.conftest import make_module

    module = make_module(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Box(-1, 1, (1,)))
    latents = module.encode_batch(
        batch := losses.Batch(
            obs=torch.zeros(3, 2),
            action=torch.zeros(3, 1),
            reward=torch.tensor([1.0, 2.0, 3.0]),
            next_obs=torch.ones(3, 2),
            done=torch.tensor([0.0, 1.0, 0.0]),
            discount=torch.tensor([0.5, 0.25, 0.125]),
        )
    )
    torch.manual_seed(0)
    _, info = losses.critic_loss(module, batch, latents, torch.tensor(0.0), 0.99, None, use_backup_entropy=False)
    torch.manual_seed(0)
    one_step = batch._replace(discount=None)
    _, info_1 = losses.critic_loss(module, one_step, latents, torch.tensor(0.0), 1.0, None, use_backup_entropy=False)
    next_q = info_1["td_target"] - one_step.reward  # (1 - done) * q' with gamma 1
    torch.testing.assert_close(info["td_target"], batch.reward + next_q * batch.discount)


def test_n_step_is_validated_and_reaches_the_replays(ray_session):
    with pytest.raises(ValueError, match="n_step=0"):
        HybridSACConfig().training(n_step=0).validate_hybrid_sac_settings()
    algo = (
        HybridSACConfig()
        .environment("rllib_sac_hybrid/PickPlace-v0")
        .training(
            n_step=3,
            discount=0.9,
            encoder_latent_dim=8,
            actor_hidden_dims=(8,),
            critic_hidden_dims=(8,),
            discrete_critic_hidden_dims=(8,),
            num_random_steps=50,
        )  # fmt: skip
        .reporting(min_sample_timesteps_per_iteration=100)
        .build_algo()
    )
    try:
        result = algo.train()
        replay = algo.learner_group._learner.replay("default_policy")
        assert (replay.n_step, replay.discount) == (3, 0.9)
        assert np.isfinite(result["learners"]["default_policy"]["critic_loss"])
    finally:
        algo.stop()
