"""Reading HybridSAC checkpoints: the module of an Algorithm checkpoint (or of a Learner's,
an RLModule's in one), for export, warm starts and evaluation on the robot."""

from __future__ import annotations

from pathlib import Path

from ray.rllib.core.rl_module.rl_module import RLModule

DEFAULT_MODULE_ID = "default_policy"


def load_module(checkpoint: str | Path, module_id: str = DEFAULT_MODULE_ID):
    """The HybridSAC module of an Algorithm checkpoint (or of an RLModule checkpoint in one).

    Raises:
        ValueError: when ``checkpoint`` holds no such module, naming what it does hold.
    """
    path = Path(checkpoint).expanduser().resolve()
    if not path.exists():
        raise ValueError(f"checkpoint={str(checkpoint)!r} does not exist.")
    candidates = [
        path / "learner_group" / "learner" / "rl_module" / module_id,  # an Algorithm checkpoint
        path / "learner" / "rl_module" / module_id,  # a LearnerGroup checkpoint
        path / "rl_module" / module_id,  # a Learner checkpoint
        path / module_id,  # a MultiRLModule checkpoint
        path,  # the RLModule itself
    ]
    for candidate in candidates:
        if _is_single_module_checkpoint(candidate):
            module = RLModule.from_checkpoint(candidate)
            if not hasattr(module, "layout"):
                raise ValueError(f"{candidate} holds a {type(module).__name__}, not a HybridSAC module.")
            return module
    modules = sorted(p.name for p in (path / "learner_group" / "learner" / "rl_module").glob("*") if p.is_dir())
    hint = f"; its modules: {modules} (pass --module-id)" if modules else ""
    raise ValueError(f"checkpoint={str(checkpoint)!r} holds no HybridSAC module {module_id!r}{hint}.")


def _is_single_module_checkpoint(path: Path) -> bool:
    """An RLModule's own checkpoint: its state and constructor, and no sub-checkpoints (an
    Algorithm, Learner or MultiRLModule checkpoint has them)."""
    files = ("class_and_ctor_args.pkl", "module_state.pkl")
    return all((path / f).is_file() for f in files) and not any(p.is_dir() for p in path.iterdir())
