"""The update loop: Polyak math, head subsampling, step counts, optimizer ownership."""

from __future__ import annotations

import itertools

import pytest
import torch

from rllib_sac_hybrid import losses
from rllib_sac_hybrid.data.batch import Batch, last_rows
from rllib_sac_hybrid.update import SACUpdater, UpdateSettings, frozen, make_optimizer, param_groups
from tests.conftest import make_module


def make_updater(
    num_critics=3,
    m=None,
    utd=1,
    freq=1,
    tau=0.005,
    torch_compile=False,
    compile_mode="default",
    bc_weight=0.0,
    critic_actor_ratio=None,
    device="cpu",
    head_generator=None,
    **module_kwargs,
):
    torch.manual_seed(0)
    module = make_module(num_critics=num_critics, **module_kwargs).to(device)
    optimizers = {k: make_optimizer(v, 1e-3) for k, v in param_groups(module).items()}
    settings = UpdateSettings(
        utd_ratio=utd,
        policy_update_freq=freq,
        discount=0.99,
        tau=tau,
        num_critics=num_critics,
        num_subsample_critics=m,
        use_backup_entropy=True,
        actor_q_reduction="min",
        grad_clip_norm=40.0,
        target_entropy=-1.0,
        torch_compile=torch_compile,
        torch_compile_mode=compile_mode,
        bc_weight=bc_weight,
        critic_actor_ratio=critic_actor_ratio,
    )
    return SACUpdater(module, optimizers, settings, head_generator=head_generator)


def batch(b=8):
    return Batch(torch.randn(b, 2), torch.rand(b, 2) * 2 - 1, torch.randn(b), torch.randn(b, 2), torch.zeros(b))


def test_polyak_update_is_lerp_towards_online():
    updater = make_updater(tau=0.25)
    module = updater.module
    with torch.no_grad():
        for p in itertools.chain(module.critic.parameters(), module.encoder.parameters()):
            p.add_(torch.randn_like(p))
    online = [p.detach().clone() for m in (module.encoder, module.critic) for p in m.parameters()]
    before = [p.detach().clone() for m in (module.target_encoder, module.target_critic) for p in m.parameters()]
    updater.polyak_update()
    after = [p for m in (module.target_encoder, module.target_critic) for p in m.parameters()]
    assert len(online) == len(before) == len(after) > 0
    for o, t0, t1 in zip(online, before, after):
        torch.testing.assert_close(t1, 0.25 * o + 0.75 * t0)


def test_polyak_tau_one_copies():
    updater = make_updater(tau=1.0)
    with torch.no_grad():
        for p in updater.module.critic.parameters():
            p.add_(1.0)
    updater.polyak_update()
    for o, t in zip(updater.module.critic.parameters(), updater.module.target_critic.parameters()):
        torch.testing.assert_close(o, t)


def test_subsampling_picks_m_distinct_heads_uniformly():
    updater = make_updater(num_critics=10, m=2)
    counts = torch.zeros(10)
    for _ in range(2000):
        heads = updater.choose_target_heads()
        assert heads.shape == (2,)
        assert heads.unique().numel() == 2
        assert 0 <= heads.min() and heads.max() < 10
        counts[heads] += 1
    assert counts.min() > 300 and counts.max() < 500  # expectation 400 each


def test_no_subset_when_m_is_none_or_n():
    assert make_updater(num_critics=4, m=None).choose_target_heads() is None
    assert make_updater(num_critics=4, m=4).choose_target_heads() is None


def test_only_chosen_target_heads_are_evaluated():
    """Poison the heads not chosen: their weights must not reach the output."""
    module = make_updater(num_critics=5).module
    with torch.no_grad():
        for p in module.target_critic.parameters():
            if p.dim() == 3:
                p[[1, 3, 4]] = float("nan")
    heads = torch.tensor([2, 0])
    latent = module.target_encoder(torch.randn(6, 2))
    q = module.target_q_values(latent, torch.zeros(6, 2), heads)
    assert q.shape == (2, 6)
    assert torch.isfinite(q).all()
    assert not torch.isfinite(module.target_q_values(latent, torch.zeros(6, 2), None)).all()


def test_batched_ensemble_equals_each_head_alone():
    module = make_updater(num_critics=4).module
    x = torch.randn(7, module.encoder.out_dim + 2)
    all_heads = module.critic(x)
    for n in range(4):
        torch.testing.assert_close(module.critic(x, torch.tensor([n]))[0], all_heads[n])


@pytest.mark.parametrize("utd,freq", [(1, 1), (5, 1), (3, 2)])
def test_update_counts(utd, freq):
    updater = make_updater(utd=utd, freq=freq)
    calls = []

    def next_batch():
        calls.append(1)
        return batch()

    for _ in range(4):
        updater.update(next_batch)
    assert len(calls) == 4 * utd  # a fresh batch per critic step
    assert updater.num_critic_steps == 4 * utd
    # updates 0 and 2 run `freq` policy steps each when freq=2; every update when freq=1
    assert updater.num_policy_steps == (4 if freq == 1 else 2 * freq)


@pytest.mark.parametrize("utd,ratio", [(4, 2), (1, 2), (3, 2), (2, 1)])
def test_critic_actor_ratio_puts_an_actor_step_after_every_kth_critic_step(utd, ratio):
    """The order of steps, across updates whose critic steps the ratio does not divide, and the
    batch each actor step sees: the one its critic step has just used."""
    updater = make_updater(utd=utd, critic_actor_ratio=ratio)
    order, batches = [], []
    critic_step, policy_step = updater.critic_step, updater.policy_step

    def record_critic(b):
        order.append("c")
        batches.append(b.obs)
        return critic_step(b)

    def record_policy(obs, clone=None):
        order.append("a")
        assert obs is batches[-1]
        return policy_step(obs, clone)

    updater.critic_step, updater.policy_step = record_critic, record_policy
    for _ in range(4):
        updater.update(batch)
    expected = []
    for k in range(1, 4 * utd + 1):
        expected += ["c", "a"] if k % ratio == 0 else ["c"]
    assert order == expected
    assert updater.num_critic_steps == 4 * utd
    assert updater.num_policy_steps == 4 * utd // ratio


def test_every_parameter_in_exactly_one_optimizer():
    for shared in (True, False):
        module = make_module(shared_encoder=shared)
        groups = param_groups(module)
        ids = [id(p) for params in groups.values() for p in params]
        assert len(ids) == len(set(ids))
        trainable = {id(p) for p in module.parameters() if p.requires_grad}
        assert set(ids) == trainable


def test_actor_step_leaves_critic_untouched_and_flags_restored():
    updater = make_updater()
    module = updater.module
    module.critic.out.bias.requires_grad_(False)  # a user-frozen parameter stays frozen
    critic_before = [p.detach().clone() for p in module.critic.parameters()]
    encoder_before = [p.detach().clone() for p in module.encoder.parameters()]
    actor_before = [p.detach().clone() for p in module.actor.parameters()]
    updater.policy_step(batch().obs)
    for a, b in zip(critic_before, module.critic.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(encoder_before, module.encoder.parameters()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(actor_before, module.actor.parameters()))
    assert all(p.grad is None for p in module.critic.parameters())
    flags = [p.requires_grad for p in module.critic.parameters()]
    assert flags.count(False) == 1


def test_frozen_restores_flags_on_error():
    module = make_module()
    with pytest.raises(RuntimeError):
        with frozen(module.critic):
            raise RuntimeError("boom")
    assert all(p.requires_grad for p in module.critic.parameters())


def test_critic_step_moves_critic_and_encoder_not_actor():
    updater = make_updater()
    module = updater.module
    actor_before = [p.detach().clone() for p in module.actor.parameters()]
    enc_before = [p.detach().clone() for p in module.encoder.parameters()]
    # Two steps: the categorical heads' output layers start at zero, so the first step's gradient
    # reaches only them; the second reaches the layers below and the encoder.
    updater.critic_step(batch())
    metrics = updater.critic_step(batch())
    for a, b in zip(actor_before, module.actor.parameters()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(enc_before, module.encoder.parameters()))
    assert set(metrics) >= {"critic_loss", "critic_grad_norm", "q_mean", "q_min", "q_max", "td_error_mean"}


def test_gradient_clipping_bounds_the_step():
    updater = make_updater()
    updater.settings = UpdateSettings(**{**updater.settings.__dict__, "grad_clip_norm": 1e-3})
    huge = batch()
    huge = huge._replace(reward=huge.reward * 1e6)
    norm = updater.critic_step(huge)["critic_grad_norm"]
    assert norm > 1.0  # reported norm is the pre-clip one
    grads = [p.grad for p in updater.params["critic"] if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert total <= 1e-3 * 1.01


def test_policy_step_gives_each_optimizer_its_own_losss_gradient():
    """One backward of actor + temperature loss: the actor gets d(actor loss), log_alpha gets
    d(temperature loss) - as two separate steps would give them."""
    updater = make_updater()
    module = updater.module
    obs = batch().obs
    torch.manual_seed(4)
    with frozen(module.critic):
        actor_loss, log_pi = losses.actor_loss(module, obs, updater.alpha(), "min")
        actor_grads = torch.autograd.grad(actor_loss, list(module.actor.parameters()))
    temp_loss = losses.temperature_loss(module.log_alpha, log_pi, updater.settings.target_entropy)
    (alpha_grad,) = torch.autograd.grad(temp_loss, [module.log_alpha])
    # the optimizers' steps would change the parameters: look at the gradients only
    for opt in updater.optimizers.values():
        opt.step = lambda *a, **k: None
    torch.manual_seed(4)
    metrics = updater.policy_step(obs)
    for g, p in zip(actor_grads, module.actor.parameters()):
        torch.testing.assert_close(p.grad, g)
    torch.testing.assert_close(module.log_alpha.grad, alpha_grad)
    torch.testing.assert_close(metrics["temperature_loss"], temp_loss.detach())


def test_bc_weight_adds_the_demonstration_rows_action_error_to_the_actor_loss():
    """update(demo_rows=k) clones the last k rows of the policy step's batch: the actor's gradient
    is that of actor loss + bc_weight * mean ||tanh(mean(s)) - a_demo||^2 over those rows; the temperature's
    is unchanged. Without demonstration rows, or at bc_weight=0, the step is plain SAC."""
    updater = make_updater(bc_weight=2.5)
    module = updater.module
    rows = batch(8)
    demos = last_rows(rows, 3)
    torch.manual_seed(4)
    with frozen(module.critic):
        actor_loss, log_pi = losses.actor_loss(module, rows.obs, updater.alpha(), "min")
        error = losses.demonstrated_action_error(module, demos.obs, demos.action).mean()
        expected = torch.autograd.grad(actor_loss + 2.5 * error, list(module.actor.parameters()))
    for opt in updater.optimizers.values():
        opt.step = lambda *a, **k: None
    torch.manual_seed(4)
    updater.policy_step(rows.obs, demos)
    for g, p in zip(expected, module.actor.parameters()):
        torch.testing.assert_close(p.grad, g)
    metrics = updater.update(lambda: rows, demo_rows=3)[-1]  # the critic step draws noise first
    torch.testing.assert_close(metrics["actor_bc_error"], error.detach())  # no noise in it
    assert "actor_bc_error" not in updater.update(lambda: rows, demo_rows=0)[-1]
    assert "actor_bc_error" not in make_updater().update(lambda: rows, demo_rows=3)[-1]


def test_bc_weight_pulls_the_actor_towards_the_demonstrated_actions():
    """Policy steps on one batch: the greedy action moves to the demonstrated one with bc_weight;
    without it the policy goes where the (random) critic takes it."""
    rows = batch(64)._replace(action=torch.full((64, 2), 0.7))
    gains = {}
    for weight in (0.0, 1.0):
        updater = make_updater(bc_weight=weight)
        module = updater.module
        before = losses.demonstrated_action_error(module, rows.obs, rows.action).mean().item()
        for _ in range(200):
            updater.policy_step(rows.obs, rows if weight else None)
        gains[weight] = before - losses.demonstrated_action_error(module, rows.obs, rows.action).mean().item()
    assert gains[1.0] > 0.5 and gains[1.0] > gains[0.0] + 0.3, gains


def test_q_filter_keeps_only_rows_whose_demonstrated_action_the_critics_value_higher():
    """bc_q_filter: each row's error counts where min_n Q_n(s, a_demo) > min_n Q_n(s, greedy), else 0."""
    module = make_updater(critic_value_bins=None).module  # categorical heads start uniform: Q = 0 for all
    rows = batch(64)
    plain = losses.demonstrated_action_error(module, rows.obs, rows.action)
    filtered = losses.demonstrated_action_error(module, rows.obs, rows.action, q_filter=True)
    with torch.no_grad():
        latent = module.encode(rows.obs)
        greedy = torch.tanh(module.actor(module.actor_latent(rows.obs, latent))[0])
        keep = module.q_values(latent, rows.action).min(0).values > module.q_values(latent, greedy).min(0).values
    assert 0 < keep.sum() < 64  # a random critic prefers some demonstrated actions, not all
    torch.testing.assert_close(filtered, plain * keep)


def test_non_finite_loss_skips_the_step_and_leaves_weights_and_adam_state_alone():
    updater = make_updater()
    module = updater.module
    updater.critic_step(batch())  # Adam has state now
    params = {n: p.detach().clone() for n, p in module.named_parameters()}
    adam = {
        n: {k: v.clone() for k, v in state.items()}
        for opt in updater.optimizers.values()
        for n, state in zip(range(10**6), opt.state.values())
    }
    poisoned = batch()._replace(reward=torch.full((8,), float("nan")))
    metrics = updater.critic_step(poisoned)
    assert metrics["critic_steps_skipped"].item() == 1.0
    assert not torch.isfinite(metrics["critic_grad_norm"])
    for name, p in module.named_parameters():
        assert torch.equal(p, params[name]), name
    after = {n: state for opt in updater.optimizers.values() for n, state in zip(range(10**6), opt.state.values())}
    for n, state in adam.items():
        for k, v in state.items():
            assert torch.equal(after[n][k], v), (n, k)
    # and the next finite batch steps normally
    assert updater.critic_step(batch())["critic_steps_skipped"].item() == 0.0
    assert any(not torch.equal(p, params[n]) for n, p in module.critic.named_parameters(prefix="critic"))


def test_non_finite_policy_loss_is_skipped_too():
    updater = make_updater()
    module = updater.module
    obs = batch().obs
    obs[0, 0] = float("inf")
    actor = [p.detach().clone() for p in module.actor.parameters()]
    log_alpha = module.log_alpha.detach().clone()
    metrics = updater.policy_step(obs)
    assert metrics["actor_steps_skipped"].item() == 1.0
    assert all(torch.equal(a, b) for a, b in zip(actor, module.actor.parameters()))
    assert torch.equal(module.log_alpha, log_alpha) or metrics["temperature_steps_skipped"].item() == 0.0
    assert torch.isfinite(module.log_alpha)
