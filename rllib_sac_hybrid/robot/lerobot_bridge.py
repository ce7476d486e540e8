"""The LeRobot side of ``robot.lerobot_dataset``: LeRobotDataset <-> a folder of numpy episodes.

This file imports only numpy and LeRobot's own package (``lerobot.datasets``), never
``rllib_sac_hybrid`` or Ray, so that it runs in a LeRobot environment as a plain script: LeRobot
0.4 requires ``torch<2.11``, which this package's environment need not share.
``robot.lerobot_dataset`` runs it in-process where ``lerobot`` imports, else as
``<lerobot python> lerobot_bridge.py ...``.

The numpy folder (the "interchange"): ``meta.json`` (``fps``, ``features``: LeRobot's feature
dict, ``tasks``: one per episode) and ``episode_<i>.npz``, one array per feature key, frames
first; camera images as uint8 (T, H, W, 3).

    python lerobot_bridge.py to-lerobot --interchange DIR --root OUT --repo-id local/pick_cube [--images png]
    python lerobot_bridge.py from-lerobot --root DATASET --repo-id local/pick_cube --interchange DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

IMAGE_STORAGE = ("video", "png")  # video: LeRobot's default (AV1, lossy); png: lossless image files
META = "meta.json"
DEFAULT_KEYS = ("timestamp", "frame_index", "episode_index", "index", "task_index")  # LeRobot adds these


def _lerobot_dataset():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local datasets only: never reach the hub
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as err:
        raise ImportError(
            f"LeRobot's package does not import in {sys.executable} ({err}). Install it there "
            "(pip install 'lerobot==0.4.4'), or pass the Python of an environment that has it "
            "(--lerobot-python, or LEROBOT_PYTHON); `make lerobot-env` builds one in .venv-lerobot."
        ) from err
    return LeRobotDataset


def episode_files(interchange: Path) -> list[Path]:
    return sorted(interchange.glob("episode_*.npz"))


def to_lerobot(interchange: str, root: str, repo_id: str, images: str = "video") -> dict:
    """Writes the interchange folder's episodes as a LeRobotDataset at ``root`` with LeRobot's
    own writer (``LeRobotDataset.create``, ``add_frame``, ``save_episode``, ``finalize``)."""
    if images not in IMAGE_STORAGE:
        raise ValueError(f"images={images!r} is invalid; allowed: one of {IMAGE_STORAGE}.")
    LeRobotDataset = _lerobot_dataset()
    folder = Path(interchange)
    meta = json.loads((folder / META).read_text())
    features = {}
    for key, spec in meta["features"].items():
        spec = {**spec, "shape": tuple(spec["shape"])}
        if spec["dtype"] in ("video", "image"):
            spec["dtype"] = "video" if images == "video" else "image"
        features[key] = spec
    dataset = LeRobotDataset.create(
        repo_id, fps=int(meta["fps"]), features=features, root=root, use_videos=images == "video"
    )
    frames = 0
    for path, task in zip(episode_files(folder), meta["tasks"]):
        with np.load(path) as episode:
            length = len(episode["action"])
            for t in range(length):
                dataset.add_frame({**{key: episode[key][t] for key in features}, "task": task})
        dataset.save_episode()
        frames += length
    dataset.finalize()
    return {"root": str(root), "repo_id": repo_id, "episodes": len(meta["tasks"]), "frames": frames}


def from_lerobot(root: str, repo_id: str, interchange: str, episodes: list[int] | None = None) -> dict:
    """Reads a LeRobotDataset at ``root`` with LeRobot's own reader (videos decoded by PyAV) into
    the interchange folder: per episode, every feature but LeRobot's bookkeeping columns, camera
    frames back to uint8 (T, H, W, 3)."""
    LeRobotDataset = _lerobot_dataset()
    dataset = LeRobotDataset(repo_id, root=root, video_backend="pyav")
    keys = [k for k in dataset.features if k not in DEFAULT_KEYS]
    cameras = set(dataset.meta.camera_keys)
    folder = Path(interchange)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = range(dataset.meta.total_episodes) if episodes is None else episodes
    tasks, frames = [], 0
    for number, index in enumerate(chosen):
        info = dataset.meta.episodes[int(index)]
        start, stop = int(info["dataset_from_index"]), int(info["dataset_to_index"])
        columns: dict[str, list] = {k: [] for k in keys}
        for i in range(start, stop):
            item = dataset[i]
            for key in keys:
                value = item[key].numpy()
                if key in cameras:  # (C, H, W) float in [0, 1] -> (H, W, C) uint8
                    value = np.clip(np.round(value.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
                columns[key].append(value.reshape(-1) if value.ndim == 0 else value)
        np.savez(folder / f"episode_{number:06d}.npz", **{k: np.stack(v) for k, v in columns.items()})
        tasks.append(str(info["tasks"][0]) if len(info["tasks"]) else "")
        frames += stop - start
    features = {}
    for key in keys:
        spec = dict(dataset.features[key])
        if key in cameras:  # as stored in the npz files
            height, width = _height_width(spec)
            spec = {"dtype": spec["dtype"], "shape": [height, width, 3], "names": ["height", "width", "channels"]}
        features[key] = {"dtype": spec["dtype"], "shape": list(spec["shape"]), "names": spec.get("names")}
    (folder / META).write_text(json.dumps({"fps": dataset.fps, "features": features, "tasks": tasks}, indent=1))
    return {"root": str(root), "repo_id": repo_id, "episodes": len(tasks), "frames": frames}


def _height_width(spec: dict) -> tuple[int, int]:
    shape, names = list(spec["shape"]), list(spec.get("names") or [])
    if "height" in names and "width" in names:
        return int(shape[names.index("height")]), int(shape[names.index("width")])
    return (int(shape[1]), int(shape[2])) if shape[0] in (1, 3) else (int(shape[0]), int(shape[1]))


def run(argv: list[str] | None = None) -> dict:
    """The command line's work (``main`` without the printing): returns the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    out = sub.add_parser("to-lerobot", help="interchange folder -> LeRobotDataset")
    out.add_argument("--interchange", required=True)
    out.add_argument("--root", required=True, help="the dataset folder to create (must not exist)")
    out.add_argument("--repo-id", required=True)
    out.add_argument("--images", choices=IMAGE_STORAGE, default="video")
    inp = sub.add_parser("from-lerobot", help="LeRobotDataset -> interchange folder")
    inp.add_argument("--root", required=True)
    inp.add_argument("--repo-id", required=True)
    inp.add_argument("--interchange", required=True)
    inp.add_argument("--episodes", type=int, nargs="*", default=None)
    args = parser.parse_args(argv)
    if args.command == "to-lerobot":
        return to_lerobot(args.interchange, args.root, args.repo_id, args.images)
    return from_lerobot(args.root, args.repo_id, args.interchange, args.episodes)


def main(argv: list[str] | None = None) -> None:
    print(json.dumps(run(argv)))


if __name__ == "__main__":
    main()
