"""The exported policy (``python -m rllib_sac_hybrid.robot.export``): one file, torch or onnxruntime only."""

from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns

import rllib_sac_hybrid.envs as envs
from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.robot.export import ExportedPolicy, export, flat_observation, main
from rllib_sac_hybrid.robot.record import record
from tests.conftest import TINY_NETS

# The tests share one trained checkpoint per task (module fixture), so they run on one worker.
pytestmark = pytest.mark.xdist_group("export")
HAS_GYM_HIL = importlib.util.find_spec("gym_hil") is not None
HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))  # the export extra
FORMATS = [("torchscript", "policy.pt")] + ([("onnx", "policy.onnx")] if HAS_ONNX else [])
TASKS = [
    (envs.PICK_PLACE_ID, {}),
    (envs.PICK_PLACE_SPARSE_ID, {}),
    (envs.PICK_PLACE_PIXELS_ID, {}),
    (envs.GRASP_CARRY_ID, {}),
    (envs.SIM_ROBOT_ID, {}),
    (envs.BIMANUAL_ID, {}),  # Tuple(Box, Discrete, Discrete): two grippers
    ("CartPole-v1", {}),  # Discrete only
    pytest.param(
        envs.GYM_HIL_PICK_CUBE_ID,
        {"discrete_action_in_last_dim": True},
        marks=pytest.mark.skipif(not HAS_GYM_HIL, reason="needs the gym-hil extra"),
    ),
]


@pytest.fixture(scope="module")
def checkpoint(ray_session, tmp_path_factory):
    """``checkpoint(env_id, training)`` -> (path, learner module), trained once per task."""
    made: dict = {}

    def get(env_id: str, training: dict | None = None):
        if env_id not in made:
            path = tmp_path_factory.mktemp("ckpt")
            made[env_id] = (path, trained_checkpoint(env_id, training or {}, path))
        return made[env_id]

    return get


def trained_checkpoint(env_id: str, training: dict, path):
    """A checkpoint after one short iteration of real updates (weights and normalisation moved);
    returns the learner's module."""
    state_task = env_id != envs.PICK_PLACE_PIXELS_ID
    config = (
        HybridSACConfig()
        .environment(env_id)
        .training(
            **TINY_NETS,
            **training,
            num_random_steps=40,
            train_batch_size_per_learner=16,
            observation_normalization="running" if state_task else None,
        )
        .reporting(min_sample_timesteps_per_iteration=80)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        algo.train()
        algo.save_to_path(str(path))
        module = algo.learner_group._learner.module[DEFAULT_MODULE_ID]
        if state_task:  # the running statistics are in the module, and not the identity
            assert not torch.allclose(module.obs_normalizer.std_0, torch.ones_like(module.obs_normalizer.std_0))
        return module
    finally:
        algo.stop()


def observations(env_id: str, n: int) -> list:
    """``n`` observations the env produced under random actions (several episodes)."""
    env = gym.make(env_id)
    env.action_space.seed(1)
    obs, _ = env.reset(seed=1)
    out = []
    while len(out) < n:
        out.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return out


def reference_actions(module, batch: list) -> list:
    """``forward_inference`` of the trained module, one observation at a time, in env format."""
    from ray.rllib.utils.spaces.space_utils import batch as stack

    actions = module.forward_inference({Columns.OBS: _tensors(stack(batch))})[Columns.ACTIONS]
    return [_index(actions, i) for i in range(len(batch))]


def _tensors(x):
    return {k: _tensors(v) for k, v in x.items()} if isinstance(x, dict) else torch.as_tensor(np.asarray(x))


def _index(action, i):
    if isinstance(action, tuple):
        return tuple(_index(a, i) for a in action)
    if isinstance(action, dict):
        return {k: _index(a, i) for k, a in action.items()}
    return action[i].numpy()


def assert_same_actions(got, want) -> None:
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same_actions(g, w)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want)
        for key in want:
            assert_same_actions(got[key], want[key])
    elif np.ndim(want) == 0:  # a discrete index: exactly
        assert int(got) == int(want)
    else:
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


@pytest.mark.parametrize(("env_id", "training"), TASKS)
def test_exported_actions_equal_forward_inference_on_every_built_in_task(checkpoint, tmp_path, env_id, training):
    path, module = checkpoint(env_id, training)
    batch = observations(env_id, 100)
    want = reference_actions(module, batch)
    env = gym.make(env_id)
    for fmt, name in FORMATS:
        summary = export(path, tmp_path / name, fmt)
        assert summary["bytes"] > 0 and summary["us_per_action"] > 0
        policy = ExportedPolicy(tmp_path / name)
        for obs, action in zip(batch, want, strict=True):
            got = policy(obs)
            assert_same_actions(got, action)
            assert env.action_space.contains(got), (got, env.action_space)  # the env's own format
    env.close()


LOADER = textwrap.dedent(
    """
    import importlib.abc, pickle, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def __init__(self, names):
            self.names = names
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in self.names:
                raise ImportError(f"{name} must not be needed to run an exported policy")

    fmt, policy_file, obs_file, out_file = sys.argv[1:]
    sys.meta_path.insert(0, Refuse({"ray", "rllib_sac_hybrid"} | ({"torch"} if fmt == "onnx" else set())))
    for name in ("ray", "rllib_sac_hybrid", "torch"):
        try:
            __import__(name)
            assert name == "torch" and fmt == "torchscript", name
        except ImportError:
            pass
    with open(obs_file, "rb") as f:
        batch = pickle.load(f)  # flat observations: arrays, or dicts of arrays keyed by observation_keys
    actions = []
    if fmt == "torchscript":
        import torch
        policy = torch.jit.load(policy_file)
        def tensors(o):
            return {k: torch.as_tensor(v) for k, v in o.items()} if isinstance(o, dict) else torch.as_tensor(o)
        def array(a):
            return tuple(array(x) for x in a) if isinstance(a, tuple) else a.numpy()
        with torch.no_grad():
            actions = [array(policy(tensors(o))) for o in batch]
    else:
        import onnxruntime
        session = onnxruntime.InferenceSession(policy_file)
        names = [i.name for i in session.get_inputs()]
        for o in batch:
            feed = o if isinstance(o, dict) else {names[0]: o}
            actions.append(tuple(session.run(None, feed)))
    with open(out_file, "wb") as f:
        pickle.dump(actions, f)
    """
)


@pytest.mark.parametrize(
    "fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="the export extra"))]
)
def test_the_file_runs_where_ray_and_this_package_cannot_be_imported(checkpoint, tmp_path, fmt):
    """Camera images and a vector key in, a Tuple action out, with only torch (or onnxruntime)."""
    env_id = envs.PICK_PLACE_PIXELS_ID
    path, module = checkpoint(env_id)
    batch = observations(env_id, 20)
    want = reference_actions(module, batch)
    out = tmp_path / ("policy.onnx" if fmt == "onnx" else "policy.pt")
    main([str(path), "--out", str(out), "--format", fmt])
    space = module.observation_space
    flat = [{k: v.numpy() for k, v in flat_observation(obs, space).items()} for obs in batch]
    (tmp_path / "obs.pkl").write_bytes(pickle.dumps(flat))
    (tmp_path / "loader.py").write_text(LOADER)
    result = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "loader.py"),
            fmt,
            str(out),
            str(tmp_path / "obs.pkl"),
            str(tmp_path / "a.pkl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    got = pickle.loads((tmp_path / "a.pkl").read_bytes())
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g[0], w[0], atol=1e-5)
        assert int(g[1]) == int(w[1])


def test_record_drives_episodes_with_an_exported_policy(checkpoint, tmp_path):
    """``record --policy exported:FILE`` writes episodes the demonstration replay reads, with the
    exported policy's own (greedy) actions."""
    from rllib_sac_hybrid.data.demonstrations import read_episodes

    env_id = envs.PICK_PLACE_ID
    path, _ = checkpoint(env_id)
    export(path, tmp_path / "policy.pt")
    summary = record(env_id, 2, str(tmp_path / "rec"), f"exported:{tmp_path / 'policy.pt'}", seed=3)
    assert summary["episodes"] == 2 and summary["steps"] > 0
    episodes = read_episodes(str(tmp_path / "rec"))
    policy = ExportedPolicy(tmp_path / "policy.pt")
    first = episodes[0]
    for t in range(5):
        recorded = tuple(first.get_actions(t))  # Tuple actions read back from Parquet as lists
        assert_same_actions(recorded, policy(first.get_observations(t)))


def test_clear_errors(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="format='keras' is unknown; allowed"):
        export(tmp_path, tmp_path / "p.pt", "keras")
    with pytest.raises(ValueError, match="does not exist"):
        export(tmp_path / "missing", tmp_path / "p.pt")
    with pytest.raises(ValueError, match="holds no HybridSAC module"):
        export(tmp_path, tmp_path / "p.pt")  # an empty directory
    path, _ = checkpoint(envs.PICK_PLACE_ID)
    with pytest.raises(ValueError, match=r"holds no HybridSAC module 'arm'.*\['default_policy'\]"):
        export(path, tmp_path / "p.pt", module_id="arm")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a TorchScript file"):
        ExportedPolicy(tmp_path / "junk.pt")
    export(path, tmp_path / "p.pt")
    metadata = ExportedPolicy(tmp_path / "p.pt").metadata
    assert json.loads(json.dumps(metadata)) == metadata and metadata["action_names"] == ["action/0", "action/1"]
    with pytest.raises(ValueError, match="was exported for the observation space"):
        record(envs.PICK_PLACE_PIXELS_ID, 1, str(tmp_path / "r"), f"exported:{tmp_path / 'p.pt'}")
    with pytest.raises(ValueError, match="--policy='exported:' is unknown"):
        record(envs.PICK_PLACE_ID, 1, str(tmp_path / "r"), "exported:")
