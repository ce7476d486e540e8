"""Greedy (deterministic) evaluation on fresh episodes: what a robot would run.

``greedy_evaluation`` drives a HybridSAC module's ``forward_inference`` (tanh of the actor's
mean, the discrete critic's argmax) in a new env instance, one episode at a time, from reset
seeds no training episode used. It needs no EnvRunner, so it measures exactly the weights it
is given.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns

from rllib_sac_hybrid.runtime.callbacks import success_flag

EVALUATION_SEED_OFFSET = 1_000_000  # reset seeds of evaluation episodes start here (+ the caller's seed)


def greedy_evaluation(
    module: torch.nn.Module,
    env: str | gym.Env,
    episodes: int,
    seed: int = 0,
    env_config: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Runs ``episodes`` deterministic episodes and returns their success rate, mean return and length.

    Args:
        module: a ``HybridSACTorchRLModule`` (e.g. ``algo.get_module()``).
        env: a registered env id (made with ``env_config`` as keyword arguments) or an env.
        episodes: how many episodes.
        seed: episode i resets with seed ``EVALUATION_SEED_OFFSET + seed + i``.

    Returns:
        ``success_rate`` (NaN if the env reports no success flag), ``return_mean``, ``len_mean``,
        and ``distinct_starts``: how many different initial observations the episodes had. An env
        whose reset ignores the seed (gym-hil's pick-cube with its fixed cube) starts every
        episode the same, a deterministic policy then repeats one episode, and the success rate
        is that one episode's: a ``UserWarning`` says so.
    """
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is invalid; allowed: an integer >= 1.")
    made = isinstance(env, str)
    env = gym.make(env, **(env_config or {})) if made else env
    returns, lengths, successes, starts = [], [], [], set()
    was_training = module.training
    module.eval()
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=EVALUATION_SEED_OFFSET + seed + episode)
            starts.add(_digest(obs))
            total, steps = 0.0, 0
            while True:
                action = single_action(module.forward_inference, obs)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                steps += 1
                if terminated or truncated:
                    break
            returns.append(total)
            lengths.append(steps)
            flag = success_flag(info)
            if flag is not None:
                successes.append(float(flag))
    finally:
        module.train(was_training)
        if made:
            env.close()
    if episodes > 1 and len(starts) == 1:
        warnings.warn(
            f"all {episodes} evaluation episodes started from the same observation: the env's reset "
            "ignores the seed, so a deterministic policy repeated one episode and the success rate is "
            "that episode's. Randomise the env's initial state (e.g. gym-hil's random_block_position=True).",
            stacklevel=2,
        )
    return {
        "success_rate": float(np.mean(successes)) if successes else math.nan,
        "return_mean": float(np.mean(returns)),
        "len_mean": float(np.mean(lengths)),
        "distinct_starts": len(starts),
    }


def _digest(obs: Any) -> str:
    """A hash of an observation (arrays, dicts, tuples) to count distinct initial states."""
    h = hashlib.sha1()
    _tree(obs, lambda x: h.update(np.ascontiguousarray(np.asarray(x)).tobytes()))
    return h.hexdigest()


def single_action(forward, obs: Any) -> Any:
    """One env observation through a module forward (``forward_inference``, or any callable of a
    batch returning ``{Columns.ACTIONS: ...}``) to one env action, dicts and tuples included."""
    batch = {Columns.OBS: observation_batch(obs)}
    return _tree(forward(batch)[Columns.ACTIONS], lambda x: x[0].cpu().numpy())


def observation_batch(obs: Any) -> Any:
    """One env observation as a batch of one, as the module's encoders read it (dicts and tuples
    of tensors included)."""
    return _tree(obs, lambda x: torch.as_tensor(np.asarray(x))[None])


def _tree(x, fn):
    if isinstance(x, dict):
        return {k: _tree(v, fn) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_tree(v, fn) for v in x)
    return fn(x)
