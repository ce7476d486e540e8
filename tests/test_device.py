"""Everything the learner keeps follows its device: module, targets, replay (online and
demonstrations), optimizer states, the update's metrics. Runs on CPU here and on CUDA where a
GPU is present (``num_gpus_per_learner=1``)."""

from __future__ import annotations

import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PICK_PLACE_SPARSE_ID
from rllib_sac_hybrid.robot.record import record
from tests.conftest import TINY_NETS

DEVICES = [
    pytest.param("cpu"),
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")),
]


def _tensors(x):
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, dict):
        for value in x.values():
            yield from _tensors(value)
    elif isinstance(x, (list, tuple)):
        for value in x:
            yield from _tensors(value)


@pytest.mark.parametrize("device", DEVICES)
def test_the_learner_keeps_everything_on_its_device(ray_session, tmp_path, device):
    record(PICK_PLACE_SPARSE_ID, 3, str(tmp_path / "demos"), "scripted", seed=0)
    config = (
        HybridSACConfig()
        .environment(PICK_PLACE_SPARSE_ID)
        .training(
            **TINY_NETS,
            num_critics=4,
            num_subsample_critics=2,  # the head generator's draws go to the device
            demonstrations=str(tmp_path / "demos"),
            bc_pretrain_steps=5,
            bc_weight=0.5,
            num_random_steps=50,
            train_batch_size_per_learner=16,
        )
        .learners(num_gpus_per_learner=1 if device == "cuda" else 0)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        result = algo.train()
        learner = algo.learner_group._learner
        module = learner.module[DEFAULT_MODULE_ID].unwrapped()
        on_device = [t.device.type == device for t in _tensors(dict(module.state_dict()))]
        assert on_device and all(on_device)
        for replay in (learner.replay(DEFAULT_MODULE_ID), learner.demo_replay(DEFAULT_MODULE_ID)):
            assert len(replay) > 0 and replay.device.type == device
            rows = replay.gather(next(iter(replay.sample_indices(1, 4))))
            assert all(t.device.type == device for t in _tensors(tuple(rows)))
        states = [t for optimizer in learner._updaters[DEFAULT_MODULE_ID].optimizers.values()
                  for t in _tensors(list(optimizer.state.values()))]  # fmt: skip
        assert states and all(t.device.type == device for t in states)
        metrics = result["learners"][DEFAULT_MODULE_ID]
        assert metrics["critic_loss"] == metrics["critic_loss"] and "actor_bc_error" in metrics
    finally:
        algo.stop()
