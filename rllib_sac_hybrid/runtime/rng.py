"""A process's random number generators as one state: saved with checkpoints (learner and
EnvRunners), so that a restored run draws what the uninterrupted one would have."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    """This process's torch, numpy and Python RNG states."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restores ``rng_state()``'s output."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
