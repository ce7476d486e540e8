"""Warm starts: the policy of an earlier run or an imitation model as the starting point
(``initial_policy``); behaviour cloning on the demonstrations before the first online step
(``bc_pretrain_steps``, in ``HybridSACTorchLearner.pretrain_from_demonstrations``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from rllib_sac_hybrid.robot.checkpoints import load_module

# What acting reads, and what an initial policy therefore sets: the actor, the encoder it reads
# (the shared critic encoder, or its own), the discrete critic (the gripper's greedy policy) and
# the observation statistics those were trained with. The continuous critics start anew.
POLICY_PARTS = ("actor", "actor_encoder", "encoder", "discrete_critic", "obs_normalizer")


def initial_state_dict(source: str | Path) -> dict[str, torch.Tensor]:
    """The module state of ``source``: a HybridSAC checkpoint directory (an Algorithm's, or an
    RLModule's in one), or a file of ``torch.save(state_dict)`` (a whole module's, or only its
    policy parts, keyed like ``module.state_dict()``).

    Raises:
        ValueError: naming what is wrong with ``source``.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise ValueError(
            f"initial_policy={str(source)!r} does not exist; allowed: a HybridSAC checkpoint or a state dict file."
        )
    if path.is_dir():
        try:
            return load_module(path).state_dict()
        except ValueError as error:
            raise ValueError(f"initial_policy={str(source)!r}: {error}") from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"initial_policy={str(source)!r} is not a torch state dict file: {error}") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"initial_policy={str(source)!r} holds a {type(state).__name__}, not a state dict of tensors; allowed: "
            "torch.save(module.state_dict(), path) of a HybridSAC module, or a HybridSAC checkpoint directory."
        )
    return state


def load_initial_policy(module: nn.Module, source: str | Path) -> list[str]:
    """Copies the policy parts of ``source`` into ``module`` (and the targets of the copied
    encoder and discrete critic); returns the parts copied.

    Every tensor of a part must match in name and shape: a checkpoint of other spaces or
    network sizes is refused, with the mismatches listed, before anything is copied.
    """
    state = initial_state_dict(source)
    own = module.state_dict()
    parts = [p for p in POLICY_PARTS if hasattr(module, p) and getattr(module, p) is not None]
    wanted = {k: v for k, v in own.items() if k.split(".")[0] in parts}
    given = {k: v for k, v in state.items() if k.split(".")[0] in parts}
    if not any(k.startswith("actor.") for k in given):
        raise ValueError(
            f"initial_policy={str(source)!r} has no actor weights (keys 'actor.*'); it holds "
            f"{sorted({k.split('.')[0] for k in state})}."
        )
    given_parts = {k.split(".")[0] for k in given}
    problems = [f"{k}: missing" for k in wanted if k.split(".")[0] in given_parts and k not in given]
    problems += [
        f"{k}: {tuple(given[k].shape)} in the file, {tuple(v.shape)} here"
        for k, v in wanted.items()
        if k in given and given[k].shape != v.shape
    ]
    problems += [f"{k}: not in this module" for k in given if k not in wanted]
    if problems:
        shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
        raise ValueError(
            f"initial_policy={str(source)!r} does not fit this module (other observation / action spaces or network "
            f"settings?): {shown}."
        )
    with torch.no_grad():
        for key, value in given.items():
            own[key].copy_(value)
    copied = sorted({k.split(".")[0] for k in given})
    for online, target in (("encoder", "target_encoder"), ("discrete_critic", "target_discrete_critic")):
        if online in copied and hasattr(module, target):
            getattr(module, target).load_state_dict(getattr(module, online).state_dict())
    return copied


def summary(metrics: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of each behaviour-cloning metric over the last tenth of the pretraining steps."""
    tail = metrics[-max(1, len(metrics) // 10) :]
    keys = {k for m in tail for k in m}
    return {k: float(torch.stack([m[k] for m in tail if k in m]).float().mean()) for k in sorted(keys)}
