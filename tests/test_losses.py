"""Each loss against an independent hand computation on a tiny network and a fixed batch.

The hand computation uses the raw weights, one head at a time, with explicit formulas (no
batched ensemble, no shared helpers from the package), so a bug in the batched code, the
subsetting, the entropy backup or the reductions shows up as a mismatch.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rllib_sac_hybrid import losses
from rllib_sac_hybrid.data.batch import Batch
from rllib_sac_hybrid.networks import two_hot
from tests.conftest import make_module

B, OBS, ACT = 5, 2, 2


def fixed_batch() -> Batch:
    g = torch.Generator().manual_seed(123)
    return Batch(
        obs=torch.randn(B, OBS, generator=g),
        action=torch.rand(B, ACT, generator=g) * 2 - 1,
        reward=torch.randn(B, generator=g),
        next_obs=torch.randn(B, OBS, generator=g),
        done=torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]),
    )


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def encoder_by_hand(enc, obs):
    linear, norm, _ = enc.projections[0]
    return torch.tanh(layer_norm(obs @ linear.weight.T + linear.bias, norm.weight, norm.bias))


def actor_by_hand(actor, latent, eps):
    linear, norm, _ = actor.trunk
    h = layer_norm(latent @ linear.weight.T + linear.bias, norm.weight, norm.bias)
    h = h * torch.sigmoid(h)  # SiLU
    mean = h @ actor.mean.weight.T + actor.mean.bias
    std = torch.exp(h @ actor.log_std.weight.T + actor.log_std.bias).clamp(1e-5, 10.0)
    u = mean + std * eps
    action = torch.tanh(u)
    normal_logp = -0.5 * ((u - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)
    log_pi = (normal_logp - torch.log(1 - action**2)).sum(-1)
    return action, log_pi


def q_head_by_hand(critic, n, x):
    (linear,), (norm,), out = critic.linears, critic.norms, critic.out
    h = x @ linear.weight[n] + linear.bias[n, 0]
    h = layer_norm(h, norm.weight[n, 0], norm.bias[n, 0])
    h = h * torch.sigmoid(h)
    return (h @ out.weight[n] + out.bias[n, 0]).squeeze(-1)


def perturb(module):
    """Make online and target weights differ so a mix-up cannot go unnoticed."""
    with torch.no_grad():
        for p in module.target_critic.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for p in module.target_encoder.parameters():
            p.add_(0.1 * torch.randn_like(p))


@pytest.mark.parametrize("heads", [None, [2, 0]])
@pytest.mark.parametrize("use_backup_entropy", [True, False])
def test_critic_loss_matches_hand_computation(heads, use_backup_entropy):
    torch.manual_seed(0)
    module = make_module(num_critics=3, critic_value_bins=None)  # scalar heads (categorical: below)
    perturb(module)
    batch, alpha, gamma = fixed_batch(), torch.tensor(0.3), 0.9
    target_heads = None if heads is None else torch.tensor(heads)

    torch.manual_seed(7)
    loss, _ = losses.critic_loss(
        module, batch, module.encode_batch(batch), alpha, gamma, target_heads, use_backup_entropy
    )

    torch.manual_seed(7)
    eps = torch.randn(B, ACT)  # the same noise the actor sample draws first
    with torch.no_grad():
        next_action, next_log_pi = actor_by_hand(module.actor, encoder_by_hand(module.encoder, batch.next_obs), eps)
        target_x = torch.cat([encoder_by_hand(module.target_encoder, batch.next_obs), next_action], -1)
        chosen = range(3) if heads is None else heads
        next_q = torch.stack([q_head_by_hand(module.target_critic, n, target_x) for n in chosen]).min(0).values
        if use_backup_entropy:
            next_q = next_q - 0.3 * next_log_pi
        y = batch.reward + (1 - batch.done) * gamma * next_q
        x = torch.cat([encoder_by_hand(module.encoder, batch.obs), batch.action], -1)
        expected = sum(((q_head_by_hand(module.critic, n, x) - y) ** 2).mean() for n in range(3))

    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)


def categorical_head_by_hand(critic, n, x):
    """Head n's logits (B, K): the scalar head's layers with a K-wide output."""
    (linear,), (norm,), out = critic.linears, critic.norms, critic.out
    h = layer_norm(x @ linear.weight[n] + linear.bias[n, 0], norm.weight[n, 0], norm.bias[n, 0])
    return (h * torch.sigmoid(h)) @ out.weight[n] + out.bias[n, 0]


def test_two_hot_splits_a_value_between_its_neighbours():
    support = torch.tensor([-4.0, -1.0, 0.0, 0.5, 2.0, 10.0])
    values = torch.tensor([-9.0, -4.0, -2.5, 0.0, 0.2, 1.25, 9.0, 10.0, 30.0])
    probs = two_hot(values, support)
    expected = torch.zeros(len(values), len(support))
    for row, value in enumerate(values.clamp(-4.0, 10.0).tolist()):
        for k in range(len(support) - 1):
            low, high = support[k].item(), support[k + 1].item()
            if low <= value <= high:
                expected[row, k], expected[row, k + 1] = (high - value) / (high - low), (value - low) / (high - low)
                break
    torch.testing.assert_close(probs, expected)
    torch.testing.assert_close(probs @ support, values.clamp(-4.0, 10.0))  # unbiased inside the support


def test_categorical_critic_loss_matches_hand_computation():
    """critic_value_bins: cross-entropy of every head against the two-hot split of one target
    built from the target heads' means, and Q the mean of each head's distribution."""
    torch.manual_seed(0)
    module = make_module(num_critics=3, critic_value_bins=7)
    with torch.no_grad():  # the output layers start at zero (uniform distributions): move them
        for critic in (module.critic, module.target_critic):
            critic.out.weight.normal_()
            critic.out.bias.normal_()
    perturb(module)
    batch, alpha, gamma, heads = fixed_batch(), torch.tensor(0.3), 0.9, [2, 0]
    support = module.value_support

    torch.manual_seed(7)
    loss, info = losses.critic_loss(module, batch, module.encode_batch(batch), alpha, gamma, torch.tensor(heads), True)

    torch.manual_seed(7)
    eps = torch.randn(B, ACT)
    with torch.no_grad():
        next_action, next_log_pi = actor_by_hand(module.actor, encoder_by_hand(module.encoder, batch.next_obs), eps)
        target_x = torch.cat([encoder_by_hand(module.target_encoder, batch.next_obs), next_action], -1)
        means = [F.softmax(categorical_head_by_hand(module.target_critic, n, target_x), -1) @ support for n in heads]
        y = batch.reward + (1 - batch.done) * gamma * (torch.stack(means).min(0).values - 0.3 * next_log_pi)
        x = torch.cat([encoder_by_hand(module.encoder, batch.obs), batch.action], -1)
        logits = [categorical_head_by_hand(module.critic, n, x) for n in range(3)]
        target_probs = two_hot(y, support)
        expected = sum(-(target_probs * F.log_softmax(lg, -1)).sum(-1).mean() for lg in logits)
        expected_q = torch.stack([F.softmax(lg, -1) @ support for lg in logits])

    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(info["q"], expected_q, rtol=1e-5, atol=1e-5)
    q_values = module.q_values(module.encode(batch.obs), batch.action)
    torch.testing.assert_close(q_values, expected_q, rtol=1e-5, atol=1e-5)


def test_categorical_critic_support_spans_small_and_large_values():
    """The fixed support is fine near 0 (shaping of hundredths) and reaches thousands."""
    support = make_module(critic_value_bins=101).value_support
    assert support[0] == -support[-1] and support[-1] > 1000
    assert torch.all(support[1:] > support[:-1])
    assert (support[51] - support[50]) < 0.2  # the bin above 0


def test_critic_loss_subset_changes_target():
    """With distinct target heads, different subsets must give different losses."""
    torch.manual_seed(0)
    # Scalar heads: categorical ones start uniform, and against a uniform prediction any target has the same loss.
    module = make_module(num_critics=3, critic_value_bins=None)
    perturb(module)
    values = set()
    for heads in ([0], [1], [2]):
        torch.manual_seed(7)
        b = fixed_batch()
        loss, _ = losses.critic_loss(
            module, b, module.encode_batch(b), torch.tensor(0.3), 0.9, torch.tensor(heads), True
        )
        values.add(round(loss.item(), 6))
    assert len(values) == 3


@pytest.mark.parametrize("value_bins", [None, 7])
@pytest.mark.parametrize("reduction", ["min", "mean"])
def test_actor_loss_matches_hand_computation(reduction, value_bins):
    torch.manual_seed(0)
    module = make_module(num_critics=3, critic_value_bins=value_bins)
    if value_bins:
        with torch.no_grad():  # away from the uniform start, where every Q is 0
            module.critic.out.weight.normal_()
    obs, alpha = fixed_batch().obs, torch.tensor(0.7)

    torch.manual_seed(11)
    loss, log_pi = losses.actor_loss(module, obs, alpha, reduction)

    torch.manual_seed(11)
    eps = torch.randn(B, ACT)
    latent = encoder_by_hand(module.encoder, obs)
    action, expected_log_pi = actor_by_hand(module.actor, latent, eps)
    x = torch.cat([latent, action], -1)
    if value_bins:  # each head's Q is the mean of its distribution over the support
        probs = [F.softmax(categorical_head_by_hand(module.critic, n, x), -1) for n in range(3)]
        q = torch.stack([p @ module.value_support for p in probs])
    else:
        q = torch.stack([q_head_by_hand(module.critic, n, x) for n in range(3)])
    q_pi = q.min(0).values if reduction == "min" else q.mean(0)
    expected = (0.7 * expected_log_pi - q_pi).mean()

    torch.testing.assert_close(log_pi, expected_log_pi, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-4)


def test_actor_loss_does_not_train_encoder():
    torch.manual_seed(0)
    module = make_module(num_critics=2)
    loss, _ = losses.actor_loss(module, fixed_batch().obs, torch.tensor(0.5))
    loss.backward()
    assert all(p.grad is None for p in module.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.actor.parameters())


def test_temperature_loss_matches_hand_computation():
    log_alpha = torch.tensor(math.log(0.4), requires_grad=True)
    log_pi = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    loss = losses.temperature_loss(log_alpha, log_pi, target_entropy=-1.5)
    expected = -0.4 * ((0.5 - 1.5) + (-1.0 - 1.5) + (2.0 - 1.5)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert log_pi.grad is None  # log pi is detached
    # d/dlog_alpha = -alpha * mean(log_pi + target_entropy)
    assert log_alpha.grad.item() == pytest.approx(expected, rel=1e-6)


def test_squashed_log_prob_matches_change_of_variables():
    mean, std = torch.tensor([[0.3, -1.2]]), torch.tensor([[0.5, 2.0]])
    u = torch.tensor([[0.1, 0.7]])
    from rllib_sac_hybrid.networks import squashed_gaussian_log_prob

    expected = (torch.distributions.Normal(mean, std).log_prob(u) - torch.log(1 - torch.tanh(u) ** 2)).sum(-1)
    torch.testing.assert_close(squashed_gaussian_log_prob(u, mean, std), expected)
    # stable where the naive formula is not
    big = torch.tensor([[30.0, -30.0]])
    assert torch.isfinite(squashed_gaussian_log_prob(big, mean, std)).all()
    assert F.softplus(torch.tensor(0.0)).item() == pytest.approx(math.log(2))
