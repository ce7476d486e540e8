"""Discrete-only actions (SAC for discrete actions) and several discrete parts (two grippers,
MultiDiscrete): the losses against hand counts, acting, penalties per part, and whole training
runs with checkpoints, demonstrations and multi-agent mixed layouts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.tune.registry import register_env

from rllib_sac_hybrid import HybridSACConfig, losses
from rllib_sac_hybrid.data.batch import Batch
from rllib_sac_hybrid.data.transitions import episodes_to_transitions
from rllib_sac_hybrid.envs import BIMANUAL_ID
from rllib_sac_hybrid.spaces import ActionLayout
from rllib_sac_hybrid.update import param_groups
from tests.conftest import TINY_NETS, make_module

BOX = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
TWO_GRIPPERS = gym.spaces.Tuple([BOX, gym.spaces.Discrete(3), gym.spaces.Discrete(2, start=1)])


def discrete_module(space=gym.spaces.Discrete(3), **kwargs):
    torch.manual_seed(0)
    return make_module(action_space=space, num_critics=3, **kwargs)


def discrete_batch(layout: ActionLayout, b: int = 6) -> Batch:
    g = torch.Generator().manual_seed(3)
    parts = torch.stack([torch.randint(0, k, (b,), generator=g) for k in layout.discrete_sizes], -1)
    return Batch(
        obs=torch.randn(b, 2, generator=g),
        action=torch.zeros(b, layout.continuous_dim),
        reward=torch.randn(b, generator=g),
        next_obs=torch.randn(b, 2, generator=g),
        done=torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])[:b],
        discrete_action=parts,
    )


# ---- discrete-only: SAC for discrete actions ------------------------------------------------------
@pytest.mark.parametrize("backup_entropy", [True, False])
def test_discrete_sac_critic_target_is_the_exact_soft_value(backup_entropy):
    """y = r + gamma (1 - done) sum_a pi(a|s') (min over the chosen target heads Q'(s', a) - alpha log pi(a|s'))."""
    module = discrete_module(gym.spaces.MultiDiscrete([3, 2]))
    with torch.no_grad():
        for p in module.target_critic.parameters():
            p.add_(0.2 * torch.randn_like(p))
    layout, batch, alpha, gamma = module.layout, discrete_batch(module.layout), torch.tensor(0.3), 0.9
    heads = torch.tensor([0, 2])
    joint = layout.joint_index(batch.discrete_action)
    loss, info = losses.discrete_sac_critic_loss(
        module, batch, module.encode_batch(batch), alpha, gamma, heads, backup_entropy, joint
    )
    with torch.no_grad():
        log_pi = module.actor(module.actor_latent(batch.next_obs))  # (B, 6)
        target_q = module.target_critic(module.target_encoder(batch.next_obs))[heads].min(0).values
        soft = target_q - (alpha * log_pi if backup_entropy else 0.0)
        y = batch.reward + gamma * (1 - batch.done) * (log_pi.exp() * soft).sum(-1)
        q = module.critic(module.encoder(batch.obs))[:, torch.arange(6), joint]  # (N, B)
    torch.testing.assert_close(info["td_target"], y)
    torch.testing.assert_close(loss, (q - y).pow(2).mean(1).sum())


def test_discrete_sac_actor_loss_and_entropy_are_exact_expectations():
    module = discrete_module()
    obs, alpha = torch.randn(5, 2), torch.tensor(0.2)
    loss, expected_log_pi = losses.discrete_sac_actor_loss(module, obs, alpha, "min")
    with torch.no_grad():
        log_pi = module.actor(module.actor_latent(obs))
        q = module.critic(module.encoder(obs)).min(0).values
        pi = log_pi.exp()
    torch.testing.assert_close(loss, (pi * (alpha * log_pi - q)).sum(-1).mean())
    torch.testing.assert_close(expected_log_pi, (pi * log_pi).sum(-1))
    assert torch.all(-expected_log_pi <= np.log(3) + 1e-6)  # an entropy over 3 choices


def test_discrete_only_acts_greedy_at_inference_and_samples_pi_when_exploring():
    space = gym.spaces.MultiDiscrete([3, 2], start=[-1, 4])
    module = discrete_module(space)
    with torch.no_grad():  # pi = softmax(0, 0, 0, 0, log 3, 0): joint choice 4 = parts (2, 0)
        module.actor.logits.weight.zero_()
        module.actor.logits.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, np.log(3.0), 0.0]))
    module.eval()
    obs = {"obs": torch.randn(8000, 2)}
    greedy = module.forward_inference(obs)["actions"]
    assert greedy.shape == (8000, 2) and torch.all(greedy == torch.tensor([1, 4]))  # index + start
    torch.manual_seed(0)
    explored = module.forward_exploration(obs, t=0)["actions"]
    assert all(space.contains(a.numpy()) for a in explored[:50])
    first_is_2 = (explored[:, 0] == 1) & (explored[:, 1] == 4)
    assert first_is_2.float().mean().item() == pytest.approx(3 / 8, abs=0.02)


def test_discrete_only_module_shape_optimizers_and_refused_settings():
    module = discrete_module(gym.spaces.Discrete(4))
    assert module.discrete_only and not module.has_discrete_critic
    assert module.critic(module.encoder(torch.zeros(7, 2))).shape == (3, 7, 4)  # (N, B, K): one Q per choice
    assert set(param_groups(module)) == {"critic", "actor", "temperature"}
    runner = discrete_module(gym.spaces.Discrete(4), inference_only=True)
    runner.set_state(module.get_state(inference_only=True))
    assert not hasattr(runner, "critic")
    with pytest.raises(ValueError, match=r"critic_value_bins=51 .* discrete only"):
        HybridSACConfig().training(critic_value_bins=51).validate_action_space(gym.spaces.Discrete(3))
    with pytest.raises(ValueError, match="fixed_discrete_action=1 would leave"):
        HybridSACConfig().training(fixed_discrete_action=1).validate_action_space(gym.spaces.Discrete(3))


def test_behaviour_cloning_of_a_discrete_only_actor_learns_the_demonstrated_choice():
    # A wider (random, untrained: BC reads the critic's latent detached) encoder than TINY_NETS's 3.
    module = discrete_module(gym.spaces.MultiDiscrete([2, 2]), encoder_latent_dim=32, actor_hidden_dims=(32,))
    obs = torch.randn(64, 2)
    parts = torch.stack([(obs[:, 0] > 0).long(), (obs[:, 1] > 0).long()], -1)  # the choice each state demands
    batch = Batch(obs=obs, action=torch.zeros(64, 0), reward=torch.zeros(64), next_obs=obs, done=torch.zeros(64),
                  discrete_action=parts)  # fmt: skip
    optimizer = torch.optim.Adam(param_groups(module)["actor"], lr=3e-2)
    for _ in range(300):
        loss, info = losses.behaviour_cloning_loss(module, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert info["bc_discrete_accuracy"] > 0.9
    module.eval()
    greedy = module.forward_inference({"obs": obs})["actions"]
    assert (greedy == parts).all(-1).float().mean() > 0.9


def test_the_actor_step_adds_bc_weight_times_the_demonstrated_choices_nll():
    """With demonstration rows, a discrete-only actor's loss is SAC's plus bc_weight * mean -log pi(a_demo|s)."""
    from rllib_sac_hybrid.update import SACUpdater, UpdateSettings, make_optimizer

    module = discrete_module(gym.spaces.MultiDiscrete([3, 2]))
    settings = UpdateSettings(utd_ratio=1, policy_update_freq=1, discount=0.9, tau=0.005, num_critics=3,
                              num_subsample_critics=None, use_backup_entropy=True, actor_q_reduction="min",
                              grad_clip_norm=None, target_entropy=-1.0, bc_weight=2.5)  # fmt: skip
    updater = SACUpdater(module, {k: make_optimizer(v, 0.0) for k, v in param_groups(module).items()}, settings)
    batch = discrete_batch(module.layout)
    alpha = updater.alpha()
    sac, _ = losses.discrete_sac_actor_loss(module, batch.obs, alpha, "min")
    nll = losses.demonstrated_choice_error(module, batch.obs, batch.discrete_action).mean()
    metrics = updater.policy_step(batch.obs, demonstrations=batch)
    torch.testing.assert_close(metrics["actor_bc_error"], nll.detach())
    torch.testing.assert_close(metrics["actor_loss"], (sac + 2.5 * nll).detach())


# ---- several discrete parts next to a Box ---------------------------------------------------------
def test_each_part_has_its_own_double_dqn_target_and_penalty():
    module = discrete_module(TWO_GRIPPERS, discrete_critic_reads_arm=False)  # Q_d(s): the targets below
    assert module.has_discrete_critic and module.discrete_critic.part_sizes == (3, 2)
    with torch.no_grad():
        for p in module.target_discrete_critic.parameters():
            p.add_(0.3 * torch.randn_like(p))
    batch = discrete_batch(module.layout)._replace(
        action=torch.rand(6, 2) * 2 - 1, discrete_penalty=torch.tensor([[0.0, -0.1]] * 3 + [[-0.2, 0.0]] * 3)
    )
    gamma = 0.9
    loss, info = losses.discrete_critic_loss(module, batch, module.encode_batch(batch), gamma)
    with torch.no_grad():
        online = module.discrete_critic(module.encoder(batch.next_obs))
        target = module.target_discrete_critic(module.target_encoder(batch.next_obs))
        q_now = module.discrete_critic(module.encoder(batch.obs))
        expected = 0.0
        for p, cols in enumerate((slice(0, 3), slice(3, 5))):
            best = online[:, cols].argmax(-1)
            y = (
                batch.reward
                + batch.discrete_penalty[:, p]
                + gamma * (1 - batch.done) * target[:, cols][torch.arange(6), best]
            )
            q = q_now[:, cols][torch.arange(6), batch.discrete_action[:, p]]
            expected += (q - y).pow(2).mean()
    torch.testing.assert_close(loss, expected)
    assert info["q"].shape == (6, 2)


def test_greedy_is_the_argmax_per_part_and_epsilon_explores_each_part():
    module = discrete_module(TWO_GRIPPERS, epsilon_start=1.0, epsilon_end=0.0, epsilon_decay_steps=100)
    with torch.no_grad():
        module.discrete_critic.out.weight.zero_()
        module.discrete_critic.out.bias.copy_(torch.tensor([0.0, 5.0, 0.0, 0.0, 5.0]))  # part 0: 1, part 1: 1
    module.eval()
    obs = {"obs": torch.randn(3000, 2)}
    _, first, second = module.forward_inference(obs)["actions"]
    assert torch.all(first == 1) and torch.all(second == 2)  # Discrete(2, start=1): index 1 is 2
    _, first, second = module.forward_exploration(obs, t=0)["actions"]  # epsilon 1: uniform per part
    assert torch.bincount(first, minlength=3).min() > 900
    assert set(second.tolist()) == {1, 2}


def test_fixed_discrete_actions_take_one_index_per_part():
    module = discrete_module(TWO_GRIPPERS, fixed_discrete_action=[2, 0])
    assert not module.has_discrete_critic
    _, first, second = module.forward_exploration({"obs": torch.randn(4, 2)}, t=0)["actions"]
    assert first.tolist() == [2] * 4 and second.tolist() == [1] * 4
    config = HybridSACConfig()
    with pytest.raises(ValueError, match=r"one index per part in \[0, 2\] x \[0, 1\]"):
        config.training(fixed_discrete_action=[2, 2]).validate_action_space(TWO_GRIPPERS)
    with pytest.raises(ValueError, match="one index per part"):
        config.training(fixed_discrete_action=1).validate_action_space(TWO_GRIPPERS)
    with pytest.raises(ValueError, match="fixed_discrete_action=.* is invalid"):
        config.training(fixed_discrete_action=[1, -1]).validate()


def test_penalties_are_kept_per_part_from_a_number_or_one_value_per_part():
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    layout = ActionLayout.from_space(TWO_GRIPPERS)
    obs_space = gym.spaces.Box(-1, 1, (2,))
    episode = SingleAgentEpisode(observation_space=obs_space, action_space=TWO_GRIPPERS)
    episode.add_env_reset(np.zeros(2, np.float32))
    for penalty in (0.0, [-0.1, 0.0], -0.05):
        action = (np.zeros(2, np.float32), 1, 2)
        episode.add_env_step(np.zeros(2, np.float32), action, 0.0, infos={"discrete_penalty": penalty})
    out = episodes_to_transitions([episode.to_numpy()], obs_space, layout)
    np.testing.assert_allclose(out["discrete_penalty"], [[0, 0], [-0.1, 0], [-0.05, -0.05]])
    np.testing.assert_array_equal(out["discrete_action"], [[1, 1]] * 3)  # start=1: value 2 is index 1
    episode = SingleAgentEpisode(observation_space=obs_space, action_space=TWO_GRIPPERS)
    episode.add_env_reset(np.zeros(2, np.float32))
    episode.add_env_step(np.zeros(2, np.float32), action, 0.0, infos={"discrete_penalty": [0.0, 0.1, 0.2]})
    with pytest.raises(ValueError, match="3 values for 2 discrete parts"):
        episodes_to_transitions([episode.to_numpy()], obs_space, layout)


# ---- whole runs -------------------------------------------------------------------------------------
def test_cartpole_trains_and_a_checkpoint_restores_it(ray_session, tmp_path):
    config = (
        HybridSACConfig()
        .environment("CartPole-v1")
        .training(**TINY_NETS, num_random_steps=50, train_batch_size_per_learner=16)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        metrics = algo.train()["learners"][DEFAULT_MODULE_ID]
        assert np.isfinite(metrics["critic_loss"]) and 0 < metrics["entropy"] <= np.log(2) + 1e-6
        replay = algo.learner_group._learner.replay(DEFAULT_MODULE_ID)
        batch = replay.gather(torch.arange(len(replay)))
        assert batch.action.shape == (len(replay), 0) and set(batch.discrete_action.unique().tolist()) == {0, 1}
        algo.save_to_path(str(tmp_path))
        weights = {k: v.clone() for k, v in algo.get_module().state_dict().items()}
    finally:
        algo.stop()
    restored = config.build_algo()
    try:
        restored.restore_from_path(str(tmp_path))
        now = restored.get_module().state_dict()
        assert all(torch.equal(weights[k], now[k]) for k in weights)
        restored.train()
    finally:
        restored.stop()


@pytest.mark.parametrize("layout", ["tuple", "dict", "multi_discrete"])
def test_bimanual_trains_with_demonstrations_of_both_grippers(ray_session, tmp_path, layout):
    from rllib_sac_hybrid.robot.record import record

    demos = tmp_path / "demos"
    summary = record(BIMANUAL_ID, 3, str(demos), "scripted", seed=0, env_config={"action_layout": layout})
    assert summary["success_rate"] == 1.0
    algo = (
        HybridSACConfig()
        .environment(BIMANUAL_ID, env_config={"action_layout": layout})
        .training(
            **TINY_NETS,
            demonstrations=str(demos),
            num_random_steps=40,
            train_batch_size_per_learner=16,
            bc_pretrain_steps=5,
        )  # fmt: skip
        .reporting(min_sample_timesteps_per_iteration=80)
        .debugging(seed=0)
        .build_algo()
    )
    try:
        metrics = algo.train()["learners"][DEFAULT_MODULE_ID]
        learner = algo.learner_group._learner
        assert np.isfinite(metrics["discrete_critic_loss"])
        demo_replay = learner.demo_replay(DEFAULT_MODULE_ID)
        stored = demo_replay.gather(torch.arange(len(demo_replay)))
        assert stored.discrete_action.shape[1] == 2 and stored.discrete_penalty.shape[1] == 2
        closes = (stored.discrete_action == 0).any(0)  # the expert closed each gripper at least once
        assert closes.all()
        flips = (stored.discrete_penalty != 0).sum(0)
        assert (flips > 0).all()  # each gripper's own flips, penalised on its own part
    finally:
        algo.stop()


class MixedLayouts(MultiAgentEnv):
    """Two agents with different action layouts: a CartPole (Discrete) and the bimanual arms
    (Tuple(Box, Discrete, Discrete)); the episode ends when both are done."""

    def __init__(self, config=None) -> None:
        super().__init__()
        self.envs = {"cart": gym.make("CartPole-v1"), "arms": gym.make(BIMANUAL_ID)}
        self.agents = self.possible_agents = list(self.envs)
        self.observation_spaces = {k: e.observation_space for k, e in self.envs.items()}
        self.action_spaces = {k: e.action_space for k, e in self.envs.items()}
        self._done: set = set()

    def reset(self, *, seed=None, options=None):
        self._done = set()
        out = {k: e.reset(seed=None if seed is None else seed + i) for i, (k, e) in enumerate(self.envs.items())}
        return {k: o for k, (o, _) in out.items()}, {k: i for k, (_, i) in out.items()}

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = {}, {}, {}, {}, {}
        for agent, action in actions.items():
            obs[agent], rewards[agent], terminated[agent], truncated[agent], infos[agent] = self.envs[agent].step(
                action
            )
            if terminated[agent] or truncated[agent]:
                self._done.add(agent)
        terminated["__all__"] = len(self._done) == len(self.envs)
        truncated["__all__"] = False
        return obs, rewards, terminated, truncated, infos


register_env("mixed-layouts", lambda config: MixedLayouts(config))


def test_multi_agent_with_a_discrete_only_and_a_two_gripper_policy(ray_session):
    algo = (
        HybridSACConfig()
        .environment("mixed-layouts")
        .multi_agent(policies={"cart", "arms"}, policy_mapping_fn=lambda agent, episode, **kw: agent)
        .training(**TINY_NETS, num_random_steps=50, train_batch_size_per_learner=16)
        .env_runners(rollout_fragment_length=4)
        .reporting(min_sample_timesteps_per_iteration=120)
        .debugging(seed=0)
        .build_algo()
    )
    try:
        result = algo.train()["learners"]
        learner = algo.learner_group._learner
        assert learner.module["cart"].unwrapped().discrete_only
        assert learner.module["arms"].unwrapped().discrete_critic.part_sizes == (3, 3)
        assert np.isfinite(result["cart"]["critic_loss"]) and np.isfinite(result["arms"]["discrete_critic_loss"])
        assert learner.replay("arms").discrete_action.shape[1] == 2
    finally:
        algo.stop()


def test_discrete_only_sac_learns_a_contextual_choice_over_two_parts(ray_session):
    """One-step episodes: the observation says which joint choice of MultiDiscrete([3, 2]) pays 1
    (the others 0). A joint-index mix-up between the replay, the critics and the env's parts
    pays nothing; the greedy policy must pick the paid choice on at least 90% of fresh states."""
    register_env("contextual-choice", lambda config: ContextualChoice())
    algo = (
        HybridSACConfig()
        .environment("contextual-choice")
        .training(num_random_steps=300, actor_hidden_dims=(64,), critic_hidden_dims=(64,), encoder_latent_dim=16)
        .reporting(min_sample_timesteps_per_iteration=500)
        .debugging(seed=0)
        .build_algo()
    )
    try:
        for _ in range(3):
            algo.train()
        module = algo.get_module()
        env = ContextualChoice()
        paid = []
        for seed in range(200):
            obs, _ = env.reset(seed=10_000 + seed)
            action = module.forward_inference({"obs": torch.as_tensor(obs)[None]})["actions"][0].numpy()
            paid.append(env.step(action)[1])
        assert np.mean(paid) >= 0.9, np.mean(paid)
    finally:
        algo.stop()


class ContextualChoice(gym.Env):
    """Observation: a one-hot of the paid joint choice of MultiDiscrete([3, 2], start=[1, 0]);
    reward 1 for that choice, else 0; every episode one step."""

    def __init__(self) -> None:
        self.action_space = gym.spaces.MultiDiscrete([3, 2], start=[1, 0])
        self.observation_space = gym.spaces.Box(0.0, 1.0, (6,), np.float32)
        self._paid = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._paid = int(self.np_random.integers(6))
        return np.eye(6, dtype=np.float32)[self._paid], {}

    def step(self, action):
        first, second = int(action[0]) - 1, int(action[1])
        reward = float(first * 2 + second == self._paid)
        return np.zeros(6, np.float32), reward, True, False, {}


def test_bimanual_env_grasps_own_objects_and_succeeds_only_with_both_released_at_the_goal():
    env = gym.make(BIMANUAL_ID).unwrapped
    env.reset(seed=0)
    env._grippers = np.array([[0.5, 0.0], [-0.5, 0.0]])  # each gripper on the other arm's object
    env._objects = np.array([[-0.5, 0.0], [0.5, 0.0]])
    env._goal = np.array([-0.3, 0.1])  # one step from the left object
    _, _, _, _, info = env.step((np.zeros(4, np.float32), 0, 0))  # close both
    assert not info["holding"].any()  # closing on the other arm's object grasps nothing
    np.testing.assert_allclose(info["discrete_penalty"], [-0.05, -0.05])  # each gripper's own flip
    env._grippers, env._closed[:] = env._objects.copy(), False
    _, _, _, _, info = env.step((np.zeros(4, np.float32), 0, 1))  # only the left closes
    assert info["holding"].tolist() == [True, False]
    np.testing.assert_allclose(info["discrete_penalty"], [-0.05, 0.0])
    env._grippers[1], env._objects[1], env._closed[1], env._holding[1] = env._goal, env._goal, False, False
    motion = np.concatenate([(env._goal - env._grippers[0]) / env.step_size, [0.0, 0.0]]).astype(np.float32)
    _, reward, terminated, _, info = env.step((np.clip(motion, -1, 1), 1, 1))  # carry the left object there
    assert not terminated and info["holding"][0]  # still held: no success
    _, reward, terminated, _, info = env.step((np.zeros(4, np.float32), 2, 1))  # release it
    assert terminated and info["is_success"] and reward == 1.0
    with pytest.raises(ValueError, match="action_layout='flat' is invalid"):
        gym.make(BIMANUAL_ID, action_layout="flat")
    with pytest.raises(ValueError, match="shaping_scale=0 is invalid"):
        gym.make(BIMANUAL_ID, shaping_scale=0)


@pytest.mark.parametrize("layout", ["tuple", "dict", "multi_discrete"])
def test_interventions_and_lerobot_vectors_carry_every_part(layout):
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    from rllib_sac_hybrid.robot.lerobot_dataset import action_size, env_action, flat_action

    env = gym.make(BIMANUAL_ID, action_layout=layout)
    space, obs_space = env.action_space, env.observation_space
    obs, _ = env.reset(seed=0)
    policy_action, human_action = _bimanual_action(layout, (1, 1)), _bimanual_action(layout, (0, 2))
    episode = SingleAgentEpisode(observation_space=obs_space, action_space=space)
    episode.add_env_reset(obs)
    for intervened in (False, True):
        info = {"is_intervention": intervened, "teleop_action": human_action} if intervened else {}
        episode.add_env_step(obs, policy_action, 0.0, infos=info)
    out = episodes_to_transitions([episode.to_numpy()], obs_space, ActionLayout.from_space(space))
    np.testing.assert_array_equal(out["discrete_action"], [[1, 1], [0, 2]])  # the person's grippers on step 2
    vector = flat_action(human_action, space)  # LeRobot's flat float vector: motion, then each part
    assert vector.shape == (action_size(space),) == (6,)  # in the space's entry order (a Dict sorts its keys)
    again = env_action(vector, space)
    assert space.contains(again)
    np.testing.assert_array_equal(ActionLayout.from_space(space).split_one(again)[1], [0, 2])


def _bimanual_action(layout: str, grippers: tuple[int, int]):
    motion = np.full(4, 0.5, np.float32)
    if layout == "tuple":
        return motion, grippers[0], grippers[1]
    if layout == "dict":
        return {"motion": motion, "left_gripper": grippers[0], "right_gripper": grippers[1]}
    return motion, np.asarray(grippers, dtype=np.int64)
