"""Shared fixtures: one Ray instance per test session (2 CPUs), torch on one thread."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless MuJoCo: set before anything imports mujoco

import gymnasium as gym
import pytest
import ray
import torch

from rllib_sac_hybrid import HybridSACConfig, HybridSACTorchRLModule

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def ray_session():
    """Starts Ray once for the session and shuts down only what it started."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


TINY_NETS = dict(
    encoder_latent_dim=3,
    actor_hidden_dims=(4,),
    critic_hidden_dims=(5,),
)


def make_module(
    obs_space: gym.Space | None = None,
    action_space: gym.Space | None = None,
    inference_only: bool = False,
    **training,
) -> HybridSACTorchRLModule:
    """A learner-side module built from HybridSACConfig's model config, without Ray."""
    config = HybridSACConfig().training(**{**TINY_NETS, **training})
    return HybridSACTorchRLModule(
        observation_space=obs_space or gym.spaces.Box(-1.0, 1.0, (2,)),
        action_space=action_space or gym.spaces.Box(-2.0, 2.0, (2,)),
        inference_only=inference_only,
        model_config=config._model_config_auto_includes,
    )


def train_until_return(algo, target: float, max_iterations: int) -> list[float]:
    """Trains until the windowed return reaches ``target`` or ``max_iterations`` iterations have
    run; returns the windowed return after each iteration."""
    returns: list[float] = []
    while not returns or (returns[-1] < target and algo.iteration < max_iterations):
        returns.append(algo.train()["env_runners"]["episode_return_windowed"])
    return returns


def train_until_success(algo, target: float | None, max_env_steps: int) -> list[tuple[int, float]]:
    """Trains until the windowed training success reaches ``target`` (None: never, the whole
    budget) or ``max_env_steps`` env steps have run; returns (env steps, success rounded to 0.01)
    after each iteration."""
    curve: list[tuple[int, float]] = []
    while not curve or ((target is None or curve[-1][1] < target) and curve[-1][0] < max_env_steps):
        result = algo.train()
        steps = int(result["num_env_steps_sampled_lifetime"])
        curve.append((steps, round(result["env_runners"]["episode_success_rate_windowed"], 2)))
    return curve


def tensorboard_scalars(folder) -> dict[str, list[float]]:
    """Every scalar in the TensorBoard event files under ``folder``: tag -> values in step order.

    Reads the TFRecord framing (length, CRC, record, CRC) with tensorboardX's Event protobuf, so no
    TensorFlow or tensorboard install is needed."""
    import struct
    from pathlib import Path

    from tensorboardX.proto.event_pb2 import Event

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in Path(folder).rglob("events.out.tfevents*"):
        data = path.read_bytes()
        offset = 0
        while offset + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return {tag: [v for _, v in sorted(values)] for tag, values in scalars.items()}
