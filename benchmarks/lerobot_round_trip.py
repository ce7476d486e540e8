"""Recorded episodes -> LeRobotDataset -> episodes, with LeRobot's own writer and reader: what the
camera frames lose as video, and what each format takes on disk.

    make lerobot-env
    python benchmarks/lerobot_round_trip.py --demos benchmarks/results/demos_gym-hil-pick-cube-pixels_20_<hash> \
        --env-config '{"reward_type": "sparse", "image_size": 64, "render_quality": "cpu"}'

For each image storage ("png", "video"): the dataset's size, the mean absolute difference of
the camera frames read back (0-255), and whether states, actions, rewards and flags came back
equal. Writes ``benchmarks/results/lerobot_round_trip.md`` (included by the LeRobot guide).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import RESULTS, ROOT  # noqa: E402
from rllib_sac_hybrid.data.demonstrations import read_episodes  # noqa: E402
from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_PIXELS_ID  # noqa: E402
from rllib_sac_hybrid.robot import lerobot_dataset as lr  # noqa: E402


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def compare(before, after) -> dict:
    frames, exact = [], True
    for a, b in zip(before, after, strict=True):
        for t in range(len(a)):
            x, y = a.get_observations(t), b.get_observations(t)
            exact &= np.array_equal(np.asarray(x["agent_pos"], np.float32), y["agent_pos"])
            for camera in x["pixels"]:
                frames.append(np.abs(np.asarray(x["pixels"][camera], float) - y["pixels"][camera]).mean())
        exact &= np.allclose(a.get_rewards(), b.get_rewards()) and len(a) == len(b)
    return {"frame_mean_abs_error": float(np.mean(frames)), "frame_max_abs_error": float(np.max(frames)),
            "states_rewards_equal": bool(exact)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demos", required=True, help="recorded episodes of the camera env")
    parser.add_argument("--env-config", default="{}")
    parser.add_argument("--lerobot-python", default=str(ROOT / ".venv-lerobot" / "bin" / "python"))
    args = parser.parse_args(argv)
    env_config = json.loads(args.env_config)
    before = read_episodes(args.demos)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for images in ("png", "video"):
            root = Path(tmp) / images
            lr.to_lerobot(args.demos, str(root), "local/round_trip", GYM_HIL_PICK_CUBE_PIXELS_ID, env_config,
                          images=images, lerobot_python=args.lerobot_python)  # fmt: skip
            lr.from_lerobot(str(root), "local/round_trip", str(Path(tmp) / f"{images}_back"),
                            GYM_HIL_PICK_CUBE_PIXELS_ID, env_config, lerobot_python=args.lerobot_python)  # fmt: skip
            after = read_episodes(str(Path(tmp) / f"{images}_back"))
            rows.append({"images": images, "bytes": folder_bytes(root), **compare(before, after)})
            print(json.dumps(rows[-1]), flush=True)
    size = env_config.get("image_size", 128)
    ours = folder_bytes(Path(args.demos))
    lines = [
        f"{len(before)} episodes, {sum(len(e) for e in before)} steps, two {size}x{size} cameras; "
        f"our Parquet: {ours / 1e6:.2f} MB. Command: `python benchmarks/lerobot_round_trip.py --demos "
        f"{Path(args.demos).relative_to(ROOT) if Path(args.demos).is_absolute() else args.demos} "
        f"--env-config '{args.env_config}'`",
        "",
        "| LeRobot image storage | dataset size | frame error read back, mean (worst frame), 0-255 "
        "| states and rewards equal |",
        "|---|---|---|---|",
    ]
    for r in rows:
        equal = "yes" if r["states_rewards_equal"] else "no"
        error = f"{r['frame_mean_abs_error']:.2f} ({r['frame_max_abs_error']:.2f})"
        lines.append(f"| {r['images']} | {r['bytes'] / 1e6:.2f} MB | {error} | {equal} |")
    (RESULTS / "lerobot_round_trip.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
