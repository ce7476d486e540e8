"""Exports a trained policy to one file that runs without Ray or this package.

    python -m rllib_sac_hybrid.robot.export CHECKPOINT --out policy.pt
    python -m rllib_sac_hybrid.robot.export CHECKPOINT --out policy.onnx --format onnx   # needs the export extra

``CHECKPOINT`` is an Algorithm checkpoint (``algo.save_to_path()``, a Tune trial's
``checkpoint_...``) or an RLModule checkpoint inside one. The file maps **one observation in the
env's own format** to **one action in the env's own format**, greedily (``forward_inference``:
tanh of the actor's mean and the discrete critic's argmax), with the module's observation
normalisation inside:

- observation: a tensor for a Box space; for a Dict space a dict of tensors keyed like the
  space, a nested Dict's keys joined as "a/b" (TorchScript takes one level of dict); camera
  images as uint8 (H, W, C), as the env gives them;
- action: a tensor for a Box (gym-hil's flat Box with the gripper index last included), a
  Discrete, MultiDiscrete or MultiBinary; a tuple of tensors for a Tuple space, a dict of tensors
  for a Dict space; each discrete part in the env's own numbering (``Discrete.start`` and
  ``MultiDiscrete.start`` included): an int64 scalar for a Discrete, a vector for a MultiDiscrete.

Loading needs only torch::

    policy = torch.jit.load("policy.pt")
    action = policy({k: torch.as_tensor(v) for k, v in obs.items()})

and ONNX files only onnxruntime: one input per observation key (named by the key, nested keys
joined with "/"; ``obs`` for a Box) and one output per action part (``action``; ``action/0``,
``action/1`` for a Tuple; ``action/<key>`` for a Dict). Both formats carry a JSON description of
the spaces (``policy_metadata``).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rllib_sac_hybrid.robot.checkpoints import DEFAULT_MODULE_ID, load_module
from rllib_sac_hybrid.spaces import image_shapes

FORMATS = ("torchscript", "onnx")
METADATA_NAME = "rllib_sac_hybrid.json"  # the TorchScript extra file / ONNX metadata key


class GreedyPolicy(nn.Module):
    """One observation in the env's format -> the module's greedy action in the env's format.

    Wraps a HybridSAC module without its critics, targets and temperature (what acting does not
    read), adds the batch dimension on the way in and drops it on the way out, and casts vector
    keys to float32 (envs often give float64) while camera images stay uint8."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        module = copy.deepcopy(module).cpu().eval().requires_grad_(False)
        for name in module.get_non_inference_attributes():
            if hasattr(module, name):
                delattr(module, name)
        self.module = module
        self.image_keys = {key or "obs" for key in image_shapes(module.observation_space)}

    def forward(self, obs):
        from ray.rllib.core.columns import Columns

        space = self.module.observation_space
        flat = obs if isinstance(space, gym.spaces.Dict) else {"obs": obs}
        batch = _nest({key: self._batched(key, value) for key, value in flat.items()}, space)
        action = self.module._forward_inference({Columns.OBS: batch})[Columns.ACTIONS]
        return _map_parts(action, lambda part: part[0])

    def _batched(self, key: str, value: torch.Tensor) -> torch.Tensor:
        value = value.unsqueeze(0)
        return value if key in self.image_keys else value.float()


def _map_leaves(obs, space: gym.Space, fn, prefix: str | None = None):
    """Applies ``fn(flat_key, tensor)`` to every leaf of a (nested) Dict observation."""
    if isinstance(space, gym.spaces.Dict):
        return {
            key: _map_leaves(obs[key], sub, fn, key if prefix is None else f"{prefix}/{key}")
            for key, sub in space.spaces.items()
        }
    return fn(prefix, obs)


def _map_parts(action, fn):
    if isinstance(action, tuple):
        return tuple(fn(part) for part in action)
    if isinstance(action, dict):
        return {key: fn(part) for key, part in action.items()}
    return fn(action)


def policy_metadata(module) -> dict[str, Any]:
    """What a user of the file needs to know without this package: the spaces, key order, names."""
    return {
        "format_version": 1,
        "observation_space": describe_space(module.observation_space),
        "action_space": describe_space(module.action_space),
        "observation_keys": observation_keys(module.observation_space),
        "action_names": action_names(module.action_space),
        "observation_normalization": module.model_config.get("observation_normalization"),
        "deterministic": True,
    }


def describe_space(space: gym.Space) -> Any:
    """A JSON description of a space: type, shape, dtype, bounds (Box), n and start (Discrete,
    MultiDiscrete's nvec), the shape of a MultiBinary."""
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": np.asarray(space.low).tolist(), "high": np.asarray(space.high).tolist()}  # fmt: skip
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "start": space.start.tolist()}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": list(space.shape)}
    if isinstance(space, gym.spaces.Tuple):
        return {"type": "Tuple", "spaces": [describe_space(s) for s in space.spaces]}
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: describe_space(s) for k, s in space.spaces.items()}}
    return {"type": type(space).__name__}


def observation_keys(space: gym.Space) -> list[str]:
    """The flat observation keys in the space's order ("a/b" for nested), ["obs"] for a Box."""
    keys: list[str] = []
    _map_leaves(space.sample(), space, lambda key, value: keys.append(key or "obs"))
    return keys


def action_names(space: gym.Space) -> list[str]:
    if isinstance(space, gym.spaces.Tuple):
        return [f"action/{i}" for i in range(len(space.spaces))]
    if isinstance(space, gym.spaces.Dict):
        return [f"action/{key}" for key in space.spaces]
    return ["action"]


def flat_observation(obs, space: gym.Space):
    """An env observation as the exported policy takes it: a tensor for a Box; for a Dict, a dict
    of tensors keyed by ``observation_keys`` (the env's own dict unless it nests)."""
    if not isinstance(space, gym.spaces.Dict):
        return torch.as_tensor(np.asarray(obs))
    flat: dict[str, torch.Tensor] = {}
    _map_leaves(obs, space, lambda key, value: flat.__setitem__(key, torch.as_tensor(np.asarray(value))))
    return flat


def _example_observation(space: gym.Space):
    """A sample of the space as the exported policy takes it, to trace with."""
    return flat_observation(space.sample(), space)


def _nest(by_key: dict[str, torch.Tensor], space: gym.Space, prefix: str | None = None):
    """``observation_keys``-keyed leaves -> the (nested) observation."""
    if isinstance(space, gym.spaces.Dict):
        return {
            key: _nest(by_key, sub, key if prefix is None else f"{prefix}/{key}") for key, sub in space.spaces.items()
        }
    return by_key[prefix or "obs"]


class _FlatInputs(nn.Module):
    """ONNX's signature: the observation's leaves as positional inputs, the action's parts as outputs."""

    def __init__(self, policy: GreedyPolicy) -> None:
        super().__init__()
        self.policy = policy
        self.keys = observation_keys(policy.module.observation_space)

    def forward(self, *leaves: torch.Tensor):
        by_key = dict(zip(self.keys, leaves, strict=True))
        action = self.policy(by_key if isinstance(self.policy.module.observation_space, gym.spaces.Dict) else leaves[0])
        if isinstance(action, dict):  # in the space's key order, as action_names lists them
            return tuple(action[key] for key in self.policy.module.action_space.spaces)
        return action


def export(
    checkpoint: str | Path, out: str | Path, format: str = "torchscript", module_id: str = DEFAULT_MODULE_ID
) -> dict[str, Any]:
    """Writes the greedy policy of ``checkpoint`` to ``out``; returns a summary (path, bytes,
    microseconds per action on this CPU, the metadata)."""
    if format not in FORMATS:
        raise ValueError(f"format={format!r} is unknown; allowed: {FORMATS}.")
    module = load_module(checkpoint, module_id)
    return export_module(module, out, format)


def export_module(module, out: str | Path, format: str = "torchscript") -> dict[str, Any]:
    """``export`` for a module in hand (e.g. ``algo.get_module()``)."""
    if format not in FORMATS:
        raise ValueError(f"format={format!r} is unknown; allowed: {FORMATS}.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    policy = GreedyPolicy(module)
    metadata = policy_metadata(policy.module)
    example = _example_observation(policy.module.observation_space)
    with torch.no_grad(), warnings.catch_warnings():
        # The trace records the action bounds and dtypes as constants, which is what they are.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        if format == "torchscript":
            traced = torch.jit.trace(policy, (example,), strict=False, check_trace=False)
            torch.jit.save(traced, str(out), _extra_files={METADATA_NAME: json.dumps(metadata)})
        else:
            _export_onnx(policy, example, out, metadata)
    loaded = ExportedPolicy(out)
    seconds = _latency(loaded, policy.module.observation_space.sample())
    return {"out": str(out), "format": format, "bytes": out.stat().st_size, "us_per_action": seconds * 1e6,
            "metadata": metadata}  # fmt: skip


def _export_onnx(policy: GreedyPolicy, example, out: Path, metadata: dict) -> None:
    try:
        import onnx
    except ImportError as error:
        raise ImportError("--format onnx needs the onnx package: pip install 'rllib_sac_hybrid[export]'") from error
    torch.onnx.export(
        _FlatInputs(policy),
        tuple(example.values()) if isinstance(example, dict) else (example,),
        str(out),
        input_names=metadata["observation_keys"],
        output_names=metadata["action_names"],
        dynamo=False,  # the TorchScript-based exporter: no onnxscript needed, and plain Python control flow
        external_data=False,
    )
    model = onnx.load(str(out))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_NAME, json.dumps(metadata)
    onnx.save(model, str(out))


class ExportedPolicy:
    """An exported file as a function of env observations (numpy, the env's format) to env
    actions (numpy arrays, ints for discrete parts, tuples / dicts as the action space nests).

    TorchScript files run with torch, ONNX files (by their ``.onnx`` suffix) with onnxruntime;
    ``record.py --policy exported:FILE`` drives episodes with it."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"exported policy {str(path)!r} is not a file.")
        self.path = path
        self.is_onnx = path.suffix == ".onnx"
        if self.is_onnx:
            try:
                import onnxruntime
            except ImportError as error:
                raise ImportError(f"{path} is ONNX: running it needs onnxruntime (the export extra)") from error
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # one observation at a time: threads only add latency
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            props = self.session.get_modelmeta().custom_metadata_map
            self.metadata = json.loads(props[METADATA_NAME]) if METADATA_NAME in props else None
        else:
            extra = {METADATA_NAME: ""}
            try:
                self.policy = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
            except RuntimeError as error:
                message = f"{path} is not a TorchScript file of python -m rllib_sac_hybrid.robot.export: {error}"
                raise ValueError(message) from error
            self.metadata = json.loads(extra[METADATA_NAME]) if extra[METADATA_NAME] else None
        if self.metadata is None:
            raise ValueError(
                f"{path} carries no {METADATA_NAME}: not written by python -m rllib_sac_hybrid.robot.export."
            )

    def __call__(self, obs):
        space = self.metadata["observation_space"]
        if space["type"] == "Dict":
            flat = {}
            _flatten_described(obs, space, None, flat)
        else:
            flat = {"obs": np.asarray(obs)}
        if self.is_onnx:
            inputs = {key: np.asarray(flat[key]) for key in self.metadata["observation_keys"]}
            outputs = self.session.run(self.metadata["action_names"], inputs)
        else:
            with torch.no_grad():
                if space["type"] == "Dict":
                    result = self.policy({key: torch.as_tensor(np.array(v)) for key, v in flat.items()})
                else:
                    result = self.policy(torch.as_tensor(np.array(flat["obs"])))
            if isinstance(result, dict):
                parts = [result[key] for key in self.metadata["action_space"]["spaces"]]
            else:
                parts = list(result) if isinstance(result, tuple) else [result]
            outputs = [part.numpy() for part in parts]
        return _action_from_parts(outputs, self.metadata["action_space"])


def _flatten_described(obs, space: dict, prefix: str | None, flat: dict) -> None:
    for key, sub in space["spaces"].items():
        name = key if prefix is None else f"{prefix}/{key}"
        if sub["type"] == "Dict":
            _flatten_described(obs[key], sub, name, flat)
        else:
            flat[name] = obs[key]


def _action_from_parts(parts: list[np.ndarray], space: dict):
    def convert(value: np.ndarray, sub: dict):
        return int(value) if sub["type"] == "Discrete" else np.asarray(value, dtype=sub["dtype"])

    if space["type"] == "Tuple":
        return tuple(convert(v, sub) for v, sub in zip(parts, space["spaces"], strict=True))
    if space["type"] == "Dict":
        return {key: convert(v, sub) for v, (key, sub) in zip(parts, space["spaces"].items(), strict=True)}
    return convert(parts[0], space)


def _latency(run, obs, repeats: int = 200) -> float:
    """Median seconds per call on one observation (the env's format in, the env's format out)."""
    for _ in range(10):
        run(obs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(obs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="an Algorithm checkpoint directory, or an RLModule checkpoint in one")
    parser.add_argument("--out", required=True, help="the file to write (policy.pt, policy.onnx)")
    parser.add_argument("--format", default="torchscript", choices=FORMATS)
    parser.add_argument("--module-id", default=DEFAULT_MODULE_ID, help="the policy to export (multi-agent)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    summary = export(args.checkpoint, args.out, args.format, args.module_id)
    print(json.dumps({k: v for k, v in summary.items() if k != "metadata"}))


if __name__ == "__main__":
    sys.exit(main())
