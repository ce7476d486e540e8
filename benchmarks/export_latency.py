"""Latency per action of an exported policy on this CPU, one observation at a time.

    python benchmarks/export_latency.py            # the built-in tasks, TorchScript and ONNX
    python benchmarks/export_latency.py --settings preset:hil-serl

For each task it builds the module ``HybridSACConfig()`` makes for the env (the defaults, or a
preset: untrained weights cost the same as trained ones), writes it with
``rllib_sac_hybrid.robot.export``, loads the file back (``ExportedPolicy``: the env's numpy
observation in, the env's action out, conversions included) and prints the median time per call
over 200 calls, with 1 torch / onnxruntime thread, as on a robot's control computer next to
other processes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import gymnasium as gym
import torch

import rllib_sac_hybrid.envs as envs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import record_rows  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig, HybridSACTorchRLModule  # noqa: E402
from rllib_sac_hybrid.robot.export import export_module  # noqa: E402

TASKS = {
    "pick-place (state)": (envs.PICK_PLACE_ID, {}),
    "pick-place (64x64 pixels)": (envs.PICK_PLACE_PIXELS_ID, {}),
    "grasp-carry (state)": (envs.GRASP_CARRY_ID, {}),
}
if importlib.util.find_spec("gym_hil") is not None:
    TASKS["gym-hil pick-cube (state)"] = (envs.GYM_HIL_PICK_CUBE_ID, {"discrete_action_in_last_dim": True})


def module_for(env_id: str, training: dict, settings: str) -> HybridSACTorchRLModule:
    config = HybridSACConfig()
    if settings.startswith("preset:"):
        config = config.preset(settings.split(":", 1)[1])
    config = config.training(**training)
    env = gym.make(env_id)
    module = HybridSACTorchRLModule(
        observation_space=env.observation_space,
        action_space=env.action_space,
        model_config=config._model_config_auto_includes,
    )
    env.close()
    return module.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="defaults", help="defaults, or preset:<name>")
    args = parser.parse_args()
    torch.set_num_threads(1)
    formats = ["torchscript"] + (["onnx"] if importlib.util.find_spec("onnxruntime") else [])
    print(f"| task ({args.settings}) | " + " | ".join(f"{f}: us per action | file size" for f in formats) + " |")
    print("|---|" + "---|---|" * len(formats))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (env_id, training) in TASKS.items():
            module = module_for(env_id, training, args.settings)
            cells = []
            for fmt in formats:
                summary = export_module(module, Path(folder) / f"policy.{fmt}", fmt)
                cells += [f"{summary['us_per_action']:.0f}", f"{summary['bytes'] / 1024:.0f} KiB"]
                rows.append({"task": name, "format": fmt, "us_per_action": summary["us_per_action"],
                             "bytes": summary["bytes"]})  # fmt: skip
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    record_rows("export_latency", "built-in tasks", rows, ("task", "format"), {"settings": args.settings})


if __name__ == "__main__":
    main()
