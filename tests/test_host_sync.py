"""No host sync in the update's hot path: a CPU-side check (issue 46's rule, "nothing that forces
a host sync per critic step on CUDA").

On CUDA a sync comes from reading a tensor's value on the host: ``.item()``, ``.tolist()``,
``bool()`` / ``float()`` / ``int()`` of a tensor (an ``if`` on it), ``.cpu()``, ``.numpy()``. The
test counts those calls made from this package's code while ``SACUpdater.update`` runs whole
UTD rounds, on every action layout and loss variant; torch's own internals are not counted
(fused Adam skips a non-finite step inside its kernel). On a GPU, torch's own sync check
(``torch.cuda.set_sync_debug_mode("error")``) runs the same rounds, eager and CUDA-graphed, and
counts torch's internals as well."""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import gymnasium as gym
import pytest
import torch

from rllib_sac_hybrid.data.batch import Batch
from tests.test_update import make_updater

PACKAGE = str(Path(__file__).resolve().parents[1] / "rllib_sac_hybrid")
READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy")


@contextmanager
def host_reads_from_the_package():
    """Counts the tensor-to-host reads whose caller is a file of this package, by caller line."""
    seen: Counter = Counter()
    originals = {name: getattr(torch.Tensor, name) for name in READS}

    def counting(name, original):
        def wrapper(self, *args, **kwargs):
            caller = sys._getframe(1).f_code
            if caller.co_filename.startswith(PACKAGE):
                seen[f"{Path(caller.co_filename).name}:{sys._getframe(1).f_lineno} .{name}()"] += 1
            return original(self, *args, **kwargs)

        return wrapper

    for name, original in originals.items():
        setattr(torch.Tensor, name, counting(name, original))
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def _batch(updater, b: int = 16, n_step: bool = False) -> Batch:
    layout = updater.module.layout
    discrete = None
    if layout.has_discrete:
        discrete = torch.stack([torch.randint(0, k, (b,)) for k in layout.discrete_sizes], -1)
    batch = Batch(
        obs=torch.randn(b, 2),
        action=torch.rand(b, layout.continuous_dim) * 2 - 1,
        reward=torch.randn(b),
        next_obs=torch.randn(b, 2),
        done=(torch.rand(b) < 0.2).float(),
        discrete_action=discrete,
        discrete_penalty=torch.zeros(b, layout.num_parts) if layout.has_discrete else None,
        discount=torch.full((b,), 0.97**3) if n_step else None,
    )
    device = updater.module.log_alpha.device
    return Batch(*(None if t is None else t.to(device) for t in batch))


BOX = gym.spaces.Box(-1.0, 1.0, (2,))
CASES = {
    "box, random target subset": dict(num_critics=5, m=2),
    "target subsets drawn as data-parallel learners do": dict(
        num_critics=5, m=2, head_generator=torch.Generator().manual_seed(0)
    ),
    "box, categorical heads, n-step": dict(critic_value_bins=11),
    "one gripper": dict(action_space=gym.spaces.Tuple([BOX, gym.spaces.Discrete(3)])),
    "two grippers, reading the arm": dict(
        action_space=gym.spaces.Tuple([BOX, gym.spaces.Discrete(3), gym.spaces.Discrete(2)]),
        discrete_critic_reads_arm=True,
    ),
    "discrete only": dict(action_space=gym.spaces.MultiDiscrete([3, 2])),
    "cloning demonstrations": dict(bc_weight=1.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_update_reads_nothing_back_to_the_host(case):
    updater = make_updater(utd=4, **CASES[case])
    batches = iter([_batch(updater, n_step="n-step" in case) for _ in range(8)])
    updater.update(lambda: next(batches), demo_rows=4)  # the first round (lazy state) outside the count
    with host_reads_from_the_package() as reads:
        metrics = updater.update(lambda: next(batches), demo_rows=4)
    assert len(metrics) == 5  # four critic steps and one policy step
    assert not reads, f"host reads in the update: {dict(reads)}"


def _filled_replay(updater, n: int = 300, n_step: int = 1):
    """A replay of ``n`` transitions of one long episode (each next obs the following row's)."""
    import numpy as np

    from rllib_sac_hybrid.data.replay import TensorReplayBuffer

    layout = updater.module.layout
    replay = TensorReplayBuffer(1000, BOX, layout, n_step=n_step, discount=0.97)
    obs = np.random.randn(n + 1, 2).astype(np.float32)
    data = {
        "obs": obs[:-1],
        "next_obs": obs[1:],
        "next_is_next_row": np.ones(n, bool),
        "action": np.random.uniform(-1, 1, (n, layout.continuous_dim)).astype(np.float32),
        "reward": np.random.randn(n).astype(np.float32),
        "done": (np.random.rand(n) < 0.05).astype(np.float32),
    }
    if layout.has_discrete:
        data["discrete_action"] = np.stack([np.random.randint(0, k, n) for k in layout.discrete_sizes], -1)
        data["discrete_penalty"] = np.zeros((n, layout.num_parts), np.float32)
    replay.add(data)
    return replay


@pytest.mark.parametrize("n_step", [1, 3])
def test_the_batch_pipeline_reads_nothing_back_either(n_step):
    """What the learner runs per critic step: rows gathered from the online replay (n-step returns
    made there) and the demonstration replay, concatenated and reward-scaled, then the update."""
    from rllib_sac_hybrid.data.pipeline import batch_stream

    updater = make_updater(utd=4, bc_weight=1.0, **CASES["two grippers, reading the arm"])
    online, demos = _filled_replay(updater, n_step=n_step), _filled_replay(updater, n_step=n_step)  # as the learner
    updater.update(batch_stream(4, [(online, 12), (demos, 4)], reward_scale=0.5), demo_rows=4)
    with host_reads_from_the_package() as reads:
        next_batch = batch_stream(4, [(online, 12), (demos, 4)], reward_scale=0.5)
        metrics = updater.update(next_batch, demo_rows=4)
    assert len(metrics) == 5 and "actor_bc_error" in metrics[-1]
    assert not reads, f"host reads in the pipeline or the update: {dict(reads)}"


# Graphed: the hybrid and the discrete-only losses (each compiles for tens of seconds on a GPU).
ON_CUDA = [(case, "eager") for case in CASES] + [(case, "reduce-overhead") for case in ("one gripper", "discrete only")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: the CPU-side check above stands in")
@pytest.mark.parametrize(("case", "mode"), ON_CUDA)
def test_an_update_on_cuda_does_not_sync(case, mode):
    compile_kwargs = {} if mode == "eager" else {"torch_compile": True, "compile_mode": mode}
    updater = make_updater(utd=4, device="cuda", **compile_kwargs, **CASES[case])
    batches = iter([_batch(updater, n_step="n-step" in case) for _ in range(16)])
    for _ in range(3):  # lazy state, compilation and graph recording outside the check
        updater.update(lambda: next(batches), demo_rows=4)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        metrics = updater.update(lambda: next(batches), demo_rows=4)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(metrics) == 5 and metrics[0]["critic_loss"].is_cuda


def test_the_check_sees_a_host_read():
    """The counter is not blind: a read from the package's code during the update is counted."""
    updater = make_updater()
    original = updater.polyak_update

    def reading_polyak() -> None:
        original()
        updater.module.log_alpha.item()  # a read, as if a metric were logged per step

    updater.polyak_update = reading_polyak
    batches = iter([_batch(updater) for _ in range(2)])
    with host_reads_from_the_package() as reads:
        updater.update(lambda: next(batches))
    assert sum(reads.values()) == 0  # the test file is not the package ...
    import rllib_sac_hybrid.update as update_module

    source = "def read(t):\n    return t.item()\n"
    code = compile(source, update_module.__file__, "exec")  # ... a function compiled as the package's is
    namespace: dict = {}
    exec(code, namespace)
    with host_reads_from_the_package() as reads:
        namespace["read"](torch.ones(()))
    assert sum(reads.values()) == 1
