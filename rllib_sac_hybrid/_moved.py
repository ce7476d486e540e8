"""Module paths of version 0.1.0, before the package moved into sub-packages (``CHANGELOG.md``).

``import rllib_sac_hybrid.replay``, ``from rllib_sac_hybrid.export import load_module``,
``python -m rllib_sac_hybrid.record`` and checkpoints that pickled a class under its old path
(``rllib_sac_hybrid.env_runner.HybridSACEnvRunner``) keep working: each old name resolves to the
module that holds its code now, the same module object (one class, not a copy), with a
``DeprecationWarning`` that names the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

PACKAGE = "rllib_sac_hybrid"
# old module (below the package) -> its home now
MOVED: dict[str, str] = {
    "replay": "data",  # split into data.batch, data.transitions, data.augment, data.replay
    "demos": "data.demonstrations",
    "observation_normalization": "data.observation_normalization",
    "reward_scale": "data.reward_scale",
    "callbacks": "runtime.callbacks",
    "distributed": "runtime.distributed",
    "env_runner": "runtime.env_runner",
    "episode_window": "runtime.episode_window",
    "evaluation": "runtime.evaluation",
    "local_cluster": "runtime.local_cluster",
    "placement": "runtime.placement",
    "export": "robot.export",
    "pretrain": "robot.pretrain",
    "record": "robot.record",
    "reward": "robot.reward_classifier",
    "warm_start": "robot.warm_start",
}


class _Alias(importlib.abc.Loader):
    """Loads an old module name as the new module itself; runs it as ``__main__`` for ``-m``."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{self.old} moved to {self.new}; import it from there.", DeprecationWarning, stacklevel=2)
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the new module ran when it was imported

    def get_code(self, fullname: str):
        """The new module's code, for ``python -m <old name>`` (runpy asks for it)."""
        spec = importlib.util.find_spec(self.new)
        if spec is None or spec.origin is None:
            return None
        return importlib.machinery.SourceFileLoader(fullname, spec.origin).get_code(fullname)

    def is_package(self, fullname: str) -> bool:
        return False


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        prefix = PACKAGE + "."
        if not fullname.startswith(prefix) or fullname[len(prefix) :] not in MOVED:
            return None
        new = prefix + MOVED[fullname[len(prefix) :]]
        new_spec = importlib.util.find_spec(new)
        origin = new_spec.origin if new_spec is not None else None  # runpy's sys.argv[0] for -m
        return importlib.machinery.ModuleSpec(fullname, _Alias(fullname, new), origin=origin)


def install() -> None:
    """Puts the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())


install()
