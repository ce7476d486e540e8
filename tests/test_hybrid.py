"""Hybrid actions: layouts and round trips, the double-DQN discrete critic, epsilon-greedy."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from rllib_sac_hybrid import HybridSACConfig, losses
from rllib_sac_hybrid.data.batch import Batch
from rllib_sac_hybrid.spaces import ActionLayout
from rllib_sac_hybrid.update import param_groups
from tests.conftest import make_module

BOX = gym.spaces.Box(np.array([-1.0, 0.0, -3.0], np.float32), np.array([1.0, 2.0, 3.0], np.float32))
GRIPPER = gym.spaces.Discrete(3)
SUPPORTED = {  # space, discrete_action_in_last_dim, the discrete parts' sizes
    "box": (gym.spaces.Box(-2.0, 2.0, (2,), np.float32), False, ()),
    "tuple": (gym.spaces.Tuple([BOX, GRIPPER]), False, (3,)),
    "tuple_reversed": (gym.spaces.Tuple([gym.spaces.Discrete(4, start=-1), BOX]), False, (4,)),
    "dict": (gym.spaces.Dict({"arm": BOX, "gripper": GRIPPER}), False, (3,)),
    "flat_last_dim": (
        gym.spaces.Box(np.array([-1, -1, -1, 0], np.float32), np.array([1, 1, 1, 2], np.float32)),
        True,
        (3,),
    ),
    "discrete": (gym.spaces.Discrete(3, start=-1), False, (3,)),
    "multi_discrete": (gym.spaces.MultiDiscrete([3, 2], start=[1, -1]), False, (3, 2)),
    "multi_binary": (gym.spaces.MultiBinary(2), False, (2, 2)),
    "two_grippers": (gym.spaces.Tuple([BOX, GRIPPER, gym.spaces.Discrete(2, start=5)]), False, (3, 2)),
    "dict_mixed": (
        gym.spaces.Dict({"left": GRIPPER, "arm": BOX, "mode": gym.spaces.MultiDiscrete([2, 4], start=[0, 1])}),
        False,
        (3, 2, 4),
    ),
    "tuple_of_discretes": (gym.spaces.Tuple([GRIPPER, gym.spaces.Discrete(2)]), False, (3, 2)),
}


@pytest.mark.parametrize("name", list(SUPPORTED))
def test_env_actions_round_trip_exactly(name):
    space, last_dim, sizes = SUPPORTED[name]
    space.seed(0)
    layout = ActionLayout.from_space(space, discrete_action_in_last_dim=last_dim)
    assert layout.discrete_sizes == sizes
    samples = [space.sample() for _ in range(16)]
    if last_dim:  # the env's own sampler gives non-integer indices: make them the integers an env receives
        samples = [np.concatenate([s[:-1], np.rint(s[-1:])]).astype(np.float32) for s in samples]
    batch = _stack(samples, space)
    continuous, discrete = layout.split(batch)
    assert continuous.shape == (16, layout.continuous_dim) and continuous.dtype == np.float32
    if sizes:
        assert discrete.shape == (16, len(sizes)) and discrete.dtype == np.int64
        assert np.all(discrete >= 0) and np.all(discrete < np.asarray(sizes))
    again = layout.join(continuous, discrete)
    _assert_same(again, batch)


@pytest.mark.parametrize("name", list(SUPPORTED))
def test_module_actions_are_valid_env_actions(name):
    space, last_dim, sizes = SUPPORTED[name]
    layout = ActionLayout.from_space(space, discrete_action_in_last_dim=last_dim)
    cont = torch.rand(32, layout.continuous_dim) * 2 - 1
    disc = torch.stack([torch.randint(0, k, (32,)) for k in sizes], -1) if sizes else None
    env = layout.to_env(cont, disc)
    numpy_env = _to_numpy(env)
    for i in range(32):
        assert space.contains(_item(numpy_env, i)), _item(numpy_env, i)
    continuous, discrete = layout.split(numpy_env)
    torch.testing.assert_close(layout.normalize(torch.as_tensor(continuous)), cont, atol=1e-5, rtol=0)
    if sizes:
        assert np.array_equal(discrete, disc.numpy())


def test_start_values_are_honoured_in_every_part():
    """Index 0 of each part is its space's lowest value: Discrete.start and MultiDiscrete.start."""
    space = gym.spaces.Tuple([BOX, gym.spaces.Discrete(3, start=-1), gym.spaces.MultiDiscrete([2, 3], start=[10, -5])])
    layout = ActionLayout.from_space(space)
    assert layout.discrete_offsets == (-1, 10, -5)
    env = _to_numpy(layout.to_env(torch.zeros(1, 3), torch.tensor([[0, 1, 2]])))
    assert env[1][0] == -1 and env[2][0].tolist() == [11, -3]
    assert layout.split(env)[1].tolist() == [[0, 1, 2]]


def test_joint_index_round_trips_over_every_choice():
    layout = ActionLayout.from_space(gym.spaces.MultiDiscrete([3, 2, 4]))
    assert layout.discrete_only and layout.num_joint_choices == 24
    every = torch.arange(24)
    parts = layout.from_joint(every)
    assert parts.shape == (24, 3) and len({tuple(p) for p in parts.tolist()}) == 24
    torch.testing.assert_close(layout.joint_index(parts), every)


@pytest.mark.parametrize(
    "space,last_dim,why",
    [
        (gym.spaces.Tuple([BOX, BOX]), False, "both Boxes"),
        (gym.spaces.Tuple([gym.spaces.Box(-np.inf, np.inf, (2,)), GRIPPER]), False, "finite"),
        (gym.spaces.Box(np.array([-1, 0.5], np.float32), np.array([1, 2.5], np.float32)), True, "integers"),
        (gym.spaces.Box(-1, 1, (1,), np.float32), True, "at least 2"),  # nothing continuous left
        (gym.spaces.Tuple([BOX, gym.spaces.Tuple([GRIPPER, GRIPPER])]), False, "nested Tuple"),
        (gym.spaces.Dict({"arm": BOX, "hands": gym.spaces.Dict({"l": GRIPPER})}), False, "nested Tuple / Dict"),
        (gym.spaces.MultiDiscrete([[2, 3], [2, 2]]), False, "must be 1-D"),
        (gym.spaces.Tuple([BOX, gym.spaces.Discrete(1)]), False, "at least 2 choices"),
        (gym.spaces.MultiDiscrete([10] * 4), False, "10000 > 4096"),
        (gym.spaces.Tuple([]), False, "empty"),
        (gym.spaces.Tuple([BOX, gym.spaces.Text(5)]), False, "is a Text"),
        (gym.spaces.Discrete(3), True, "discrete_action_in_last_dim=True"),
    ],
)
def test_unsupported_action_spaces_raise(space, last_dim, why):
    with pytest.raises(ValueError) as err:
        ActionLayout.from_space(space, discrete_action_in_last_dim=last_dim)
    assert why in str(err.value)
    assert "action_space" in str(err.value) and "allowed" in str(err.value) or "supported:" in str(err.value)


def test_fixed_discrete_action_is_checked_against_the_space():
    config = HybridSACConfig().training(fixed_discrete_action=3)
    with pytest.raises(ValueError, match=r"fixed_discrete_action=3 is out of range.*\[0, 2\]"):
        config.validate_action_space(gym.spaces.Tuple([BOX, GRIPPER]))
    with pytest.raises(ValueError, match="fixed_discrete_action"):
        config.validate_action_space(BOX)


def test_target_entropy_counts_the_discrete_part():
    config = HybridSACConfig()
    assert config.resolved_target_entropy(gym.spaces.Tuple([BOX, GRIPPER])) == -2.0  # -(3 + 1) / 2
    assert config.resolved_target_entropy(gym.spaces.Tuple([BOX, GRIPPER, GRIPPER])) == -2.5  # -(3 + 2) / 2
    assert config.resolved_target_entropy(gym.spaces.Discrete(3)) == pytest.approx(0.5 * math.log(3))
    assert config.resolved_target_entropy(gym.spaces.MultiDiscrete([3, 2])) == pytest.approx(0.5 * math.log(6))
    assert config.resolved_target_entropy(BOX) == -3.0  # no discrete part: SAC's -dim(a)
    flat = SUPPORTED["flat_last_dim"][0]
    assert config.training(discrete_action_in_last_dim=True).resolved_target_entropy(flat) == -2.0
    assert config.training(fixed_discrete_action=1).resolved_target_entropy(flat) == -3.0  # nothing discrete learned


# ---- the discrete critic ------------------------------------------------------------------------
def hybrid_module(**kwargs):
    torch.manual_seed(0)
    return make_module(action_space=gym.spaces.Tuple([gym.spaces.Box(-1, 1, (2,)), GRIPPER]), **kwargs)


def hybrid_batch(b=6, penalty=True):
    g = torch.Generator().manual_seed(5)
    return Batch(
        obs=torch.randn(b, 2, generator=g),
        action=torch.rand(b, 2, generator=g) * 2 - 1,
        reward=torch.randn(b, generator=g),
        next_obs=torch.randn(b, 2, generator=g),
        done=torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 1.0])[:b],
        discrete_action=torch.tensor([0, 1, 2, 2, 1, 0])[:b],
        discrete_penalty=torch.tensor([0.0, -0.1, 0.0, -0.1, -0.1, 0.0])[:b] if penalty else None,
    )


@pytest.mark.parametrize(
    "penalty, beta, reads_arm", [(True, 0.0, False), (False, 0.0, False), (True, 0.5, False), (True, 0.0, True)]
)
def test_discrete_loss_matches_hand_computation(penalty, beta, reads_arm):
    module = hybrid_module(discrete_critic_reads_arm=reads_arm)
    with torch.no_grad():  # make online and target differ
        for p in module.target_discrete_critic.parameters():
            p.add_(0.3 * torch.randn_like(p))
    batch, gamma = hybrid_batch(penalty=penalty), 0.9
    # The arm action the policy would take at s' (read with reads_arm), fixed for the hand count.
    next_arm = torch.rand(6, 2, generator=torch.Generator().manual_seed(9)) * 2 - 1
    module.sample_action = lambda latent: (next_arm, torch.zeros(len(latent)))
    loss, _ = losses.discrete_critic_loss(module, batch, module.encode_batch(batch), gamma, advantage_learning=beta)

    def q(net, encoder, obs, arm):  # (B, K) written out layer by layer
        linear, norm, _ = encoder.projections[0]
        h = torch.tanh(
            torch.nn.functional.layer_norm(obs @ linear.weight.T + linear.bias, (3,), norm.weight, norm.bias)
        )
        h = torch.cat([h, arm], dim=-1) if reads_arm else h
        for layer in net.trunk:
            h = layer(h)
        return h @ net.out.weight.T + net.out.bias

    with torch.no_grad():
        rows = range(6)
        online_next = q(module.discrete_critic, module.encoder, batch.next_obs, next_arm)
        target_next = q(module.target_discrete_critic, module.target_encoder, batch.next_obs, next_arm)
        expected = 0.0
        for i in rows:
            best = int(online_next[i].argmax())
            pen = float(batch.discrete_penalty[i]) if penalty else 0.0
            y = float(batch.reward[i]) + pen + (1 - float(batch.done[i])) * gamma * float(target_next[i, best])
            q_s = q(module.discrete_critic, module.encoder, batch.obs, batch.action)[i]
            q_sa = float(q_s[batch.discrete_action[i]])
            y -= beta * (float(q_s.max()) - q_sa)  # advantage learning: the shortfall from the best choice
            expected += (q_sa - y) ** 2 / 6
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    if beta:  # the shortfall moves the target only, where the best choice's rows are unchanged
        plain, _ = losses.discrete_critic_loss(module, batch, module.encode_batch(batch), gamma)
        assert loss.item() != pytest.approx(plain.item(), rel=1e-3)


def test_advantage_learning_widens_the_gap_and_keeps_the_best_value():
    """Fitting the discrete critic on one state whose choices all lead to the end (done) with
    rewards 1.0, 0.9, 0.0: plain double DQN learns those values; advantage learning with beta
    keeps the best choice at 1.0 and puts the others at 1 - (1 - r) / (1 - beta), further below."""
    beta = 0.5
    results = {}
    for b in (0.0, beta):
        module = hybrid_module(discrete_critic_reads_arm=False)
        optimizer = torch.optim.Adam(module.discrete_critic.parameters(), lr=1e-2)
        batch = hybrid_batch(b=3, penalty=False)._replace(
            obs=torch.zeros(3, 2),
            next_obs=torch.zeros(3, 2),
            done=torch.ones(3),
            reward=torch.tensor([1.0, 0.9, 0.0]),
            discrete_action=torch.tensor([0, 1, 2]),
        )
        for _ in range(3000):
            loss, _ = losses.discrete_critic_loss(module, batch, module.encode_batch(batch), 0.9, advantage_learning=b)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            results[b] = module.discrete_q_values(module.encode(torch.zeros(1, 2)))[0]
    torch.testing.assert_close(results[0.0], torch.tensor([1.0, 0.9, 0.0]), atol=2e-3, rtol=0)
    torch.testing.assert_close(results[beta], torch.tensor([1.0, 0.8, -1.0]), atol=2e-3, rtol=0)


def test_discrete_critic_reading_the_arm_learns_a_choice_that_depends_on_the_move():
    """One-step episodes where "open" pays only when the same step's arm move is positive (a
    release that counts where the move ends): a discrete critic that reads the arm learns to
    open after a positive move and not after a negative one (one that reads only the state
    sees the two as the same state)."""
    n = 256
    g = torch.Generator().manual_seed(1)
    arm = torch.rand(n, 2, generator=g) * 2 - 1
    discrete = torch.randint(0, 3, (n,), generator=g)
    reward = torch.where(discrete == 2, torch.where(arm[:, 0] > 0, 1.0, -1.0), 0.0)
    batch = Batch(
        obs=torch.zeros(n, 2),
        action=arm,
        reward=reward,
        next_obs=torch.zeros(n, 2),
        done=torch.ones(n),
        discrete_action=discrete,
    )
    module = hybrid_module(discrete_critic_reads_arm=True)
    optimizer = torch.optim.Adam(module.discrete_critic.parameters(), lr=1e-2)
    for _ in range(500):
        loss, _ = losses.discrete_critic_loss(module, batch, module.encode_batch(batch), 0.9)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        q = module.discrete_q_values(module.encode(torch.zeros(2, 2)), torch.tensor([[0.8, 0.0], [-0.8, 0.0]]))
    assert q[0].argmax() == 2 and q[0, 2] > 0.8  # open after the positive move
    assert q[1].argmax() != 2 and q[1, 2] < -0.8  # not after the negative one


def test_discrete_critic_reading_the_arm_chooses_after_the_arm_moves():
    """Inference and exploration pick the gripper from Q_d(s, a_c) at the arm action they take:
    greedy at tanh(mean), exploring at the sampled arm."""
    module = hybrid_module(discrete_critic_reads_arm=True, epsilon_start=0.0, epsilon_end=0.0)
    with torch.no_grad():  # Q_d = (0, 0, 10 * a_c[0]): open exactly when the arm moves to +x
        module.discrete_critic.trunk = torch.nn.Identity()
        module.discrete_critic.out = torch.nn.Linear(module.encoder.out_dim + 2, 3)
        module.discrete_critic.out.weight.zero_()
        module.discrete_critic.out.bias.zero_()
        module.discrete_critic.out.weight[2, module.encoder.out_dim] = 10.0
    obs = {"obs": torch.randn(500, 2)}
    for actions in (module.forward_inference(obs)["actions"], module.forward_exploration(obs, t=0)["actions"]):
        arm, gripper = actions
        torch.testing.assert_close(gripper == 2, arm[:, 0] > 0)
    with pytest.raises(ValueError, match="discrete_critic_reads_arm"):
        module.discrete_q_values(module.encode(torch.zeros(1, 2)))
    with pytest.raises(ValueError, match="discrete_critic_reads_arm=1 is invalid"):
        HybridSACConfig().training(discrete_critic_reads_arm=1).validate()


def test_discrete_critic_reads_the_arm_when_auto_from_vectors_not_from_images():
    """The default, "several_parts": one gripper's critic reads the state alone (HIL-SERL's);
    with two grippers it is "auto". "auto": it reads the arm with vector observations (its first
    layer is dim(a_c) wider), not with camera images; never without a discrete critic."""
    images = gym.spaces.Dict(
        {"image": gym.spaces.Box(0, 255, (16, 16, 3), np.uint8), "state": gym.spaces.Box(-1, 1, (2,))}
    )
    assert HybridSACConfig().discrete_critic_reads_arm == "several_parts"
    assert not hybrid_module().discrete_critic_reads_arm
    two_grippers = gym.spaces.Tuple([gym.spaces.Box(-1, 1, (2,)), GRIPPER, GRIPPER])
    assert make_module(action_space=two_grippers).discrete_critic_reads_arm
    assert not make_module(obs_space=images, action_space=two_grippers).discrete_critic_reads_arm
    assert not make_module(action_space=two_grippers, discrete_critic_reads_arm=False).discrete_critic_reads_arm
    assert not make_module(action_space=gym.spaces.MultiDiscrete([3, 2])).discrete_critic_reads_arm  # no arm
    assert hybrid_module(discrete_critic_reads_arm="auto").discrete_critic_reads_arm
    torch.manual_seed(0)
    hybrid = gym.spaces.Tuple([gym.spaces.Box(-1, 1, (2,)), GRIPPER])
    pixels = make_module(obs_space=images, action_space=hybrid, discrete_critic_reads_arm="auto")
    assert not pixels.discrete_critic_reads_arm
    assert not make_module(discrete_critic_reads_arm=True).discrete_critic_reads_arm  # a Box action
    width = {r: hybrid_module(discrete_critic_reads_arm=r).discrete_critic.trunk[0].in_features for r in (False, True)}
    assert width[True] == width[False] + 2


def test_network_widths_auto_are_64_with_a_discrete_critic_and_256_for_a_box_action():
    """The default "auto" widths: (64, 64) for the actor and critics where a discrete critic picks part
    of the action, (256, 256) where the action is a Box (or the discrete part is fixed); a tuple is
    taken as given; anything else is refused naming the setting."""
    auto = {"actor_hidden_dims": "auto", "critic_hidden_dims": "auto"}
    assert all(getattr(HybridSACConfig(), k) == "auto" for k in auto)
    hybrid = gym.spaces.Tuple([gym.spaces.Box(-1, 1, (2,)), GRIPPER])

    def widths(module) -> tuple[int, int]:  # the first hidden layer of the actor and of the critic heads
        return next(module.actor.parameters()).shape[0], next(module.critic.parameters()).shape[-1]

    assert widths(make_module(action_space=hybrid, **auto)) == (64, 64)
    assert widths(make_module(**auto)) == (256, 256)  # Box(2)
    assert widths(make_module(action_space=hybrid, fixed_discrete_action=1, **auto)) == (256, 256)
    assert widths(make_module(action_space=hybrid, actor_hidden_dims=(8,), critic_hidden_dims=[16, 16])) == (8, 16)
    for bad in ("wide", 256, (64, 0)):
        with pytest.raises(ValueError, match=r"critic_hidden_dims=.* is invalid; allowed: .* or \"auto\""):
            HybridSACConfig().training(critic_hidden_dims=bad).validate()


def test_double_dqn_selects_with_the_online_critic():
    """Online prefers action 0, target prefers action 2: the target must be read at action 0."""
    module = hybrid_module()
    with torch.no_grad():
        for net, best in ((module.discrete_critic, 0), (module.target_discrete_critic, 2)):
            net.out.weight.zero_()
            net.out.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
            net.out.bias[best] = 10.0 if net is module.discrete_critic else 5.0
    batch = hybrid_batch(penalty=False)._replace(done=torch.zeros(6), reward=torch.zeros(6))
    _, info = losses.discrete_critic_loss(module, batch, module.encode_batch(batch), discount=1.0)
    # target critic's values are [1, 2, 5]: its own max (5, action 2) is not used, its value at 0 (1.0) is
    torch.testing.assert_close(info["td_target"], torch.ones(6, 1))  # (B, P): one part


def test_discrete_critic_is_in_the_inference_module_and_targets_are_not():
    runner_module = hybrid_module(inference_only=True)
    assert hasattr(runner_module, "discrete_critic") and hasattr(runner_module, "encoder")
    assert not hasattr(runner_module, "target_discrete_critic") and not hasattr(runner_module, "critic")
    learner_module = hybrid_module()
    state = learner_module.get_state(inference_only=True)
    assert any(k.startswith("discrete_critic.") for k in state)
    assert not any(k.startswith("target_") or k.startswith("critic.") for k in state)
    runner_module.set_state(state)  # the learner's inference state fits the runner's module


def test_discrete_critic_has_its_own_optimizer_and_shares_the_encoder():
    module = hybrid_module()
    groups = param_groups(module)
    assert set(groups) == {"critic", "actor", "temperature", "discrete_critic"}
    ids = [id(p) for params in groups.values() for p in params]
    assert len(ids) == len(set(ids))
    assert {id(p) for p in module.encoder.parameters()} <= {id(p) for p in groups["critic"]}


def test_critic_step_trains_both_critics_and_encoder_once():
    from tests.test_update import make_updater

    updater = make_updater(action_space=gym.spaces.Tuple([gym.spaces.Box(-1, 1, (2,)), GRIPPER]))
    module = updater.module
    head_before = [p.detach().clone() for p in module.discrete_critic.parameters()]
    target_before = [p.detach().clone() for p in module.target_discrete_critic.parameters()]
    metrics = updater.critic_step(hybrid_batch())
    updater.polyak_update()
    assert {"discrete_critic_loss", "discrete_critic_grad_norm", "discrete_q_mean"} <= set(metrics)
    assert any(not torch.equal(a, b) for a, b in zip(head_before, module.discrete_critic.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(target_before, module.target_discrete_critic.parameters()))
    encoder_adam = updater.optimizers["critic"].state
    assert all(int(encoder_adam[p]["step"]) == 1 for p in module.encoder.parameters())  # stepped once, one Adam


# ---- exploration --------------------------------------------------------------------------------
def test_epsilon_schedule_is_linear_then_flat():
    module = hybrid_module(epsilon_start=0.5, epsilon_end=0.1, epsilon_decay_steps=100)
    assert module.epsilon(0) == pytest.approx(0.5)
    assert module.epsilon(50) == pytest.approx(0.3)
    assert module.epsilon(100) == pytest.approx(0.1)
    assert module.epsilon(10_000) == pytest.approx(0.1)
    assert module.epsilon(None) == pytest.approx(0.1)
    assert hybrid_module(epsilon_decay_steps=0, epsilon_end=0.05).epsilon(3) == pytest.approx(0.05)


def test_inference_is_greedy_and_exploration_is_epsilon_greedy():
    module = hybrid_module(epsilon_start=1.0, epsilon_end=0.0, epsilon_decay_steps=1000)
    with torch.no_grad():
        module.discrete_critic.out.weight.zero_()
        module.discrete_critic.out.bias.copy_(torch.tensor([0.0, 0.0, 1.0]))  # greedy choice: 2
    obs = {"obs": torch.randn(2000, 2)}
    greedy = module.forward_inference(obs)["actions"][1]
    assert torch.all(greedy == 2)
    cont_a = module.forward_inference(obs)["actions"][0]
    torch.testing.assert_close(cont_a, module.forward_inference(obs)["actions"][0])  # deterministic
    fully_random = module.forward_exploration(obs, t=0)["actions"][1]  # epsilon 1
    counts = torch.bincount(fully_random, minlength=3).float() / 2000
    assert counts.min() > 0.28  # uniform over 3
    half = module.forward_exploration(obs, t=500)["actions"][1]  # epsilon 0.5: 2 w.p. 0.5 + 0.5/3
    assert (half == 2).float().mean() == pytest.approx(2 / 3, abs=0.05)
    assert torch.all(module.forward_exploration(obs, t=5000)["actions"][1] == 2)  # epsilon 0


def test_boltzmann_exploration_samples_softmax_of_q_over_alpha():
    module = hybrid_module(discrete_exploration="boltzmann", temperature_init=0.01)
    q = torch.tensor([0.0, 0.02, -0.5])  # "stay" just ahead of "close", "open" far behind
    with torch.no_grad():
        module.discrete_critic.out.weight.zero_()
        module.discrete_critic.out.bias.copy_(q)
    obs = {"obs": torch.randn(20_000, 2)}
    assert torch.all(module.forward_inference(obs)["actions"][1] == 1)  # greedy: the argmax
    torch.manual_seed(0)
    sampled = module.forward_exploration(obs, t=0)["actions"][1]
    frequencies = torch.bincount(sampled, minlength=3).float() / len(sampled)
    torch.testing.assert_close(frequencies, torch.softmax(q / 0.01, dim=0), atol=0.01, rtol=0)  # 0.12 / 0.88 / 0
    with torch.no_grad():
        module.log_alpha.fill_(math.log(10.0))  # a hot temperature: nearly uniform
    hot = torch.bincount(module.forward_exploration(obs, t=0)["actions"][1], minlength=3).float() / 20_000
    assert hot.min() > 0.3


def test_boltzmann_runners_get_the_temperature_with_the_weights():
    runner = hybrid_module(discrete_exploration="boltzmann", inference_only=True)
    learner = hybrid_module(discrete_exploration="boltzmann", temperature_init=0.3)
    state = learner.get_state(inference_only=True)
    assert "log_alpha" in state and not any(k.startswith("critic.") for k in state)
    runner.set_state(state)
    assert runner.log_alpha.item() == pytest.approx(math.log(0.3))
    assert not hasattr(hybrid_module(inference_only=True), "log_alpha")  # epsilon-greedy runners need none
    assert "log_alpha" not in hybrid_module().get_state(inference_only=True)


def test_fixed_discrete_action_replaces_the_critic():
    module = hybrid_module(fixed_discrete_action=1)
    assert not hasattr(module, "discrete_critic")
    actions = module.forward_exploration({"obs": torch.randn(10, 2)}, t=0)["actions"]
    assert torch.all(actions[1] == 1)
    assert "discrete_critic" not in param_groups(module)


# ---- helpers ------------------------------------------------------------------------------------
def _stack(samples, space):
    if isinstance(space, gym.spaces.Tuple):
        return tuple(np.stack([s[i] for s in samples]) for i in range(len(space.spaces)))
    if isinstance(space, gym.spaces.Dict):
        return {k: np.stack([s[k] for s in samples]) for k in space.spaces}
    return np.stack(samples)


def _to_numpy(x):
    if isinstance(x, tuple):
        return tuple(v.numpy() for v in x)
    if isinstance(x, dict):
        return {k: v.numpy() for k, v in x.items()}
    return x.numpy()


def _item(x, i):
    if isinstance(x, tuple):
        return tuple(np.int64(v[i]) if v.ndim == 1 else v[i] for v in x)
    if isinstance(x, dict):
        return {k: np.int64(v[i]) if v.ndim == 1 else v[i] for k, v in x.items()}
    return x[i]


def _assert_same(a, b):
    if isinstance(b, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    elif isinstance(b, dict):
        assert set(a) == set(b)
        for k in b:
            np.testing.assert_array_equal(a[k], b[k])
    else:
        np.testing.assert_array_equal(a, b)


class _EpsilonRecorder:
    """Wraps a module's epsilon schedule, keeping each env-step count it was asked about."""

    def __init__(self, module):
        self.schedule, self.steps = module.epsilon, []

    def __call__(self, t):
        self.steps.append(t)
        return self.schedule(t)


@pytest.mark.parametrize("remote", [False, True])
def test_epsilon_runs_on_the_env_steps_sampled_so_far(ray_session, remote):
    """The EnvRunners' epsilon schedule sees every round's env-step count, not one per iteration
    (RLlib only syncs the count with the connector states after an iteration)."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    from rllib_sac_hybrid.envs import PICK_PLACE_ID
    from tests.conftest import TINY_NETS

    config = (
        HybridSACConfig()
        .environment(PICK_PLACE_ID)
        .training(**TINY_NETS, num_random_steps=20, train_batch_size_per_learner=16, epsilon_decay_steps=100)
        .env_runners(num_env_runners=int(remote), rollout_fragment_length=4)
        .reporting(min_sample_timesteps_per_iteration=200)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        if remote:
            algo.env_runner_group.foreach_env_runner(
                lambda runner: (
                    setattr(runner, "_recorder", _EpsilonRecorder(runner.module))
                    or setattr(runner.module, "epsilon", runner._recorder)
                ),
                local_env_runner=False,
            )
        else:
            recorder = _EpsilonRecorder(algo.env_runner.module)
            algo.env_runner.module.epsilon = recorder
        sampled = algo.train()["num_env_steps_sampled_lifetime"]
        if remote:
            (steps,) = algo.env_runner_group.foreach_env_runner(
                lambda runner: runner._recorder.steps, local_env_runner=False
            )
        else:
            steps = recorder.steps
        assert algo.learner_group._learner.module[DEFAULT_MODULE_ID].has_discrete_critic
    finally:
        algo.stop()
    # Each exploring env step after the random warm-up asks with the count of all steps sampled
    # before it (a vector env's auto-reset step asks again with the same count).
    assert steps == sorted(steps)
    assert sorted(set(steps)) == list(range(20, int(sampled)))


def test_act_with_std_scale_spans_inference_and_exploration():
    module = make_module()  # Box actions: the exploring forward draws only the arm's noise
    module.eval()
    obs = {"obs": torch.randn(16, 2)}
    greedy = module.forward_inference(obs)["actions"]
    assert torch.equal(module.act_with_std_scale(obs, 0.0)["actions"], greedy)
    torch.manual_seed(3)
    explored = module.forward_exploration(obs, t=0)["actions"]
    torch.manual_seed(3)
    assert torch.allclose(module.act_with_std_scale(obs, 1.0)["actions"], explored)
    with pytest.raises(ValueError, match="std_scale"):
        module.act_with_std_scale(obs, -1.0)
