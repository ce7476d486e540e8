"""rllib_sac_hybrid: Soft Actor-Critic with a critic ensemble, subsampled targets and a UTD loop,
as a Ray RLlib (new API stack) algorithm plugin.

Importing the package registers ``"HybridSAC"`` with Ray Tune, so ``tune.Tuner("HybridSAC", ...)``
works; ``HybridSACConfig().environment(...).build_algo()`` builds it directly.
"""

from __future__ import annotations

from rllib_sac_hybrid import (
    _moved,  # noqa: F401  (the module paths of 0.1.0 resolve to their new homes)
    envs,  # noqa: F401  (registers the built-in gymnasium envs)
)
from rllib_sac_hybrid.algorithm import HybridSAC
from rllib_sac_hybrid.config import HybridSACConfig
from rllib_sac_hybrid.learner import HybridSACTorchLearner
from rllib_sac_hybrid.module import HybridSACTorchRLModule

__version__ = "0.3.0"
ALGORITHM_NAME = "HybridSAC"


def register() -> None:
    """Registers ``HybridSAC`` with Ray Tune under the name ``"HybridSAC"`` (idempotent)."""
    from ray.tune.registry import register_trainable

    register_trainable(ALGORITHM_NAME, HybridSAC)


register()

__all__ = [
    "ALGORITHM_NAME",
    "__version__",
    "HybridSAC",
    "HybridSACConfig",
    "HybridSACTorchLearner",
    "HybridSACTorchRLModule",
    "register",
]
