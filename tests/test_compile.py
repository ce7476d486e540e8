"""torch.compile (config ``torch_compile``): the compiled losses equal eager ones on a fixed batch,
in the default mode and in the CUDA-graph mode ("reduce-overhead"), whose replay runs on CUDA only.

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


@pytest.mark.parametrize("mode", [HYBRID_SAC_DEFAULTS["torch_compile_mode"], "reduce-overhead"])
def test_compiled_losses_and_gradients_equal_eager(eager_random_in_compiled_code, mode):
    """Both the default mode and the CUDA-graph one ("reduce-overhead": on a CPU the same compiled
    graphs, run without graph replay)."""
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


@pytest.mark.parametrize("mode", [HYBRID_SAC_DEFAULTS["torch_compile_mode"], "reduce-overhead"])
def test_compiled_updates_track_eager_updates(eager_random_in_compiled_code, mode):
    """Three full updates (optimizer steps, Polyak) leave both modules with the same weights.

    Within 1e-4 absolute here: Adam divides by the gradient's running scale, so a rounding
    difference in a near-zero gradient can move a weight by a sizeable fraction of lr (1e-3).
    """
    eager = make_updater(num_critics=3, m=2, utd=2, **SMALL)
    compiled = make_updater(num_critics=3, m=2, utd=2, torch_compile=True, compile_mode=mode, **SMALL)
    _track(eager, compiled, lambda: hybrid_batch())


def _track(eager, compiled, next_batch, updates: int = 3) -> None:
    """``updates`` updates of each; then the weights and every step's metrics agree."""
    runs = {}
    for name, updater in (("eager", eager), ("compiled", compiled)):
        torch.manual_seed(3)
        runs[name] = [m for _ in range(updates) for m in updater.update(next_batch)]
    for step, (m_eager, m_compiled) in enumerate(zip(runs["eager"], runs["compiled"])):
        assert m_compiled.keys() == m_eager.keys()
        for key in m_eager:
            torch.testing.assert_close(m_compiled[key], m_eager[key], atol=1e-4, rtol=1e-3,
                                       msg=lambda m, k=key, s=step: f"step {s} {k}: {m}")  # fmt: skip
    for (name, p_eager), p_compiled in zip(eager.module.state_dict().items(), compiled.module.state_dict().values()):
        torch.testing.assert_close(p_compiled, p_eager, atol=1e-4, rtol=1e-4, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: CUDA graphs replay on a GPU only")
def test_cuda_graphed_updates_replay_graphs_and_track_eager(eager_random_in_compiled_code):
    """On CUDA, "reduce-overhead" replays CUDA graphs (none skipped) and every step's metrics,
    kept across the UTD loop while later replays reuse the graph's memory, equal eager's."""
    from torch._dynamo.utils import counters

    eager = make_updater(num_critics=3, m=2, utd=4, device="cuda", **SMALL)
    graphed = make_updater(num_critics=3, m=2, utd=4, device="cuda", torch_compile=True,
                           compile_mode="reduce-overhead", **SMALL)  # fmt: skip
    assert graphed.cuda_graphs
    counters.clear()
    _track(eager, graphed, lambda: hybrid_batch()._replace(**{k: v.cuda() for k, v in hybrid_batch()._asdict().items()
                                                               if v is not None}))  # fmt: skip
    assert not counters["inductor"]["cudagraph_skips"], dict(counters["inductor"])
