"""torch.compile (config ``torch_compile``): the compiled losses equal eager ones on a fixed batch.

Stated tolerance: losses, diagnostics and gradients within 1e-5 absolute + 1e-4 relative of
eager (float32; the compiled kernels reorder sums). Random ops are made to draw exactly as in
eager (``fallback_random``) so that both paths sample the same actions.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
import torch._inductor.config as inductor_config

from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS
from rllib_sac_hybrid.update import frozen
from tests.test_hybrid import GRIPPER, hybrid_batch
from tests.test_update import make_updater

TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}
HYBRID = gym.spaces.Tuple([gym.spaces.Box(-1, 1, (2,)), GRIPPER])
SMALL = {"action_space": HYBRID, "discrete_critic_hidden_dims": (6,)}


@pytest.fixture
def eager_random_in_compiled_code():
    previous = inductor_config.fallback_random
    inductor_config.fallback_random = True
    yield
    inductor_config.fallback_random = previous


def grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def test_compiled_losses_and_gradients_equal_eager(eager_random_in_compiled_code):
    mode = HYBRID_SAC_DEFAULTS["torch_compile_mode"]
    eager = make_updater(num_critics=3, m=2, **SMALL)
    compiled = make_updater(num_critics=3, m=2, torch_compile=True, compile_mode=mode, **SMALL)
    batch, alpha, heads = hybrid_batch(), torch.tensor(0.3), torch.tensor([0, 2])

    results = {}
    for name, updater in (("eager", eager), ("compiled", compiled)):
        torch.manual_seed(1)
        critic_loss, metrics = updater._critic_losses(batch, alpha, heads)
        critic_loss.backward()
        out = {
            "critic_loss": critic_loss,
            **metrics,
            **{f"critic grad {k}": g for k, g in grads(updater.module).items()},
        }
        updater.module.zero_grad(set_to_none=True)
        torch.manual_seed(2)
        with frozen(updater.module.critic):
            actor_loss, temperature_loss, log_pi = updater._policy_losses(batch.obs, alpha)
            (actor_loss + temperature_loss).backward()
        out.update(actor_loss=actor_loss, temperature_loss=temperature_loss, log_pi=log_pi)
        out.update({f"policy grad {k}": g for k, g in grads(updater.module).items()})
        results[name] = out

    e, c = results["eager"], results["compiled"]
    assert c.keys() == e.keys()
    assert {"discrete_critic_loss", "critic grad critic.linears.0.weight", "policy grad log_alpha"} <= e.keys()
    for key in e:
        torch.testing.assert_close(c[key], e[key], **TOLERANCE, msg=lambda m, k=key: f"{k}: {m}")


def test_compiled_updates_track_eager_updates(eager_random_in_compiled_code):
    """Three full updates (optimizer steps, Polyak) leave both modules with the same weights.

    Within 1e-4 absolute here: Adam divides by the gradient's running scale, so a rounding
    difference in a near-zero gradient can move a weight by a sizeable fraction of lr (1e-3).
    """
    eager = make_updater(num_critics=3, m=2, utd=2, **SMALL)
    compiled = make_updater(num_critics=3, m=2, utd=2, torch_compile=True, **SMALL)
    for updater in (eager, compiled):
        torch.manual_seed(3)
        for _ in range(3):
            updater.update(hybrid_batch)
    for (name, p_eager), p_compiled in zip(eager.module.state_dict().items(), compiled.module.state_dict().values()):
        torch.testing.assert_close(p_compiled, p_eager, atol=1e-4, rtol=1e-4, msg=lambda m, n=name: f"{n}: {m}")
