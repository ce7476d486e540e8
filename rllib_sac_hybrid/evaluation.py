"""Greedy (deterministic) evaluation on fresh episodes: what a robot would run.

``greedy_evaluation`` drives a HybridSAC module's ``forward_inference`` (tanh of the actor's
mean, the discrete critic's argmax) in a new env instance, one episode at a time, from reset
seeds no training episode used. It needs no EnvRunner, so it measures exactly the weights it
is given.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns

from rllib_sac_hybrid.callbacks import SUCCESS_INFO_KEYS

EVALUATION_SEED_OFFSET = 1_000_000  # reset seeds of evaluation episodes start here (+ the caller's seed)


def greedy_evaluation(
    module,
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
        ``success_rate`` (NaN if the env reports no success flag), ``return_mean``, ``len_mean``.
    """
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is invalid; allowed: an integer >= 1.")
    made = isinstance(env, str)
    env = gym.make(env, **(env_config or {})) if made else env
    returns, lengths, successes = [], [], []
    was_training = module.training
    module.eval()
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=EVALUATION_SEED_OFFSET + seed + episode)
            total, steps = 0.0, 0
            while True:
                batch = {Columns.OBS: _tree(obs, lambda x: torch.as_tensor(np.asarray(x))[None])}
                action = _tree(module.forward_inference(batch)[Columns.ACTIONS], lambda x: x[0].cpu().numpy())
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                steps += 1
                if terminated or truncated:
                    break
            returns.append(total)
            lengths.append(steps)
            flag = next((info[key] for key in SUCCESS_INFO_KEYS if key in info), None)
            if flag is not None:
                successes.append(float(bool(flag)))
    finally:
        module.train(was_training)
        if made:
            env.close()
    return {
        "success_rate": float(np.mean(successes)) if successes else math.nan,
        "return_mean": float(np.mean(returns)),
        "len_mean": float(np.mean(lengths)),
    }


def _tree(x, fn):
    if isinstance(x, dict):
        return {k: _tree(v, fn) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_tree(v, fn) for v in x)
    return fn(x)
