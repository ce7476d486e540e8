"""The package's house rules: imports run one way (the one loop is config <-> algorithm), no import
inside a function dodges a loop, and the module paths of 0.1.0 still import, run and unpickle."""

from __future__ import annotations

import ast
import importlib
import pathlib
import subprocess
import sys
import warnings

import pytest

import rllib_sac_hybrid
from rllib_sac_hybrid._moved import MOVED

PACKAGE_DIR = pathlib.Path(rllib_sac_hybrid.__file__).parent
ALLOWED_LOOP = {"rllib_sac_hybrid.config", "rllib_sac_hybrid.algorithm"}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _own_imports(tree: ast.AST, *, top_level: bool) -> set[str]:
    """Modules of this package imported at module level (or, top_level=False, inside functions)."""
    found = set()
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inner = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        if (id(node) in inner) == top_level or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rllib_sac_hybrid"):
            for alias in node.names:  # `from pkg import sub` imports a submodule
                sub = f"{node.module}.{alias.name}"
                found.add(
                    sub
                    if (PACKAGE_DIR.parent / sub.replace(".", "/")).exists()
                    or (PACKAGE_DIR.parent / (sub.replace(".", "/") + ".py")).exists()
                    else node.module
                )
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rllib_sac_hybrid")}
    return found


def _graph(top_level: bool = True) -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        name = _module_name(path)
        graph[name] = {m for m in _own_imports(ast.parse(path.read_text()), top_level=top_level) if m != name}
    return graph


def test_no_import_loop_but_config_and_algorithm():
    graph = {k: set(v) for k, v in _graph(top_level=True).items()}
    for k, v in _graph(top_level=False).items():
        graph[k] |= v
    # a package imports its __init__ on the way: edges into a package's own modules are not loops
    loops = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start and not set(path) <= ALLOWED_LOOP and len(path) > 1:
                    loops.append(path + [start])
                elif nxt not in seen and nxt in graph and not nxt.endswith("rllib_sac_hybrid"):
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    assert not loops, f"import loops: {loops[:3]}"


def test_imports_inside_functions_are_only_the_config_algorithm_loop():
    inner = {k: v for k, v in _graph(top_level=False).items() if v}
    assert inner == {"rllib_sac_hybrid.config": {"rllib_sac_hybrid.algorithm"}}


def test_wings_do_not_import_benchmarks_or_tuning():
    for name, imports in _graph().items():
        if not name.startswith("rllib_sac_hybrid.tuning"):
            assert not any(m.startswith("rllib_sac_hybrid.tuning") for m in imports), name
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("benchmarks"), path
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("benchmarks") for a in node.names), path


def test_no_top_level_tuning_package_is_installed():
    import tomllib

    pyproject = tomllib.loads((PACKAGE_DIR.parent / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["rllib_sac_hybrid*"]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_module_path_of_0_1_0_imports_the_same_module_with_a_warning(old):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"rllib_sac_hybrid.{old}")
    assert module is importlib.import_module(f"rllib_sac_hybrid.{MOVED[old]}")
    assert any(issubclass(w.category, DeprecationWarning) and MOVED[old] in str(w.message) for w in caught) or (
        f"rllib_sac_hybrid.{old}" in sys.modules  # imported (and warned) earlier in this process
    )


def test_documented_imports_of_0_1_0_keep_working():
    from rllib_sac_hybrid.evaluation import greedy_evaluation
    from rllib_sac_hybrid.export import ExportedPolicy, load_module  # noqa: F401
    from rllib_sac_hybrid.local_cluster import local_cluster  # noqa: F401
    from rllib_sac_hybrid.record import record, with_action_noise  # noqa: F401
    from rllib_sac_hybrid.replay import Batch, TensorReplayBuffer, episodes_to_transitions, shift_images  # noqa: F401
    from rllib_sac_hybrid.reward import RewardClassifierVectorWrapper, load_classifier  # noqa: F401
    from rllib_sac_hybrid.warm_start import load_initial_policy  # noqa: F401

    from rllib_sac_hybrid import HybridSACConfig, HybridSACTorchRLModule, losses  # noqa: F401
    from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS
    from rllib_sac_hybrid.envs import PICK_PLACE_ID, SIM_ROBOT_ID, PickPlaceEnv  # noqa: F401
    from rllib_sac_hybrid.runtime.evaluation import greedy_evaluation as new
    from rllib_sac_hybrid.spaces import ActionLayout  # noqa: F401
    from rllib_sac_hybrid.update import SACUpdater, UpdateSettings, frozen, make_optimizer, param_groups  # noqa: F401

    assert greedy_evaluation is new and HYBRID_SAC_DEFAULTS["num_critics"] == 2


@pytest.mark.parametrize("old", ["record", "export", "reward", "pretrain"])
def test_python_m_with_a_0_1_0_path_runs_the_tool(old):
    done = subprocess.run(
        [sys.executable, "-m", f"rllib_sac_hybrid.{old}", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
