"""Env steps per second of gym-hil's pick-cube from its cameras, by image size and render quality.

    python benchmarks/gym_hil_cameras.py                       # 64 and 128 px, "full" and "cpu"
    python benchmarks/gym_hil_cameras.py --sizes 128 --steps 200

Random actions in one process (MuJoCo through EGL; without a GPU, Mesa's llvmpipe), timed after
a reset and a warm-up step, next to the state-only env. Also the images' mean brightness (0-255),
which the "cpu" quality lowers (no multisampling, no shadow map: the lights' ambient share only).
Appends the figures to ``benchmarks/results/gym_hil_cameras.jsonl`` and writes the table of the
newest figures per setting to ``benchmarks/results/gym_hil_cameras.md`` (included by the docs).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import RESULTS, git_commit, machine  # noqa: E402
from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_ID, GYM_HIL_PICK_CUBE_PIXELS_ID  # noqa: E402

RECORDS = RESULTS / "gym_hil_cameras.jsonl"
TABLE = RESULTS / "gym_hil_cameras.md"


def measure(env_id: str, env_config: dict, steps: int, seed: int = 0) -> dict:
    env = gym.make(env_id, **env_config)
    try:
        env.action_space.seed(seed)
        env.reset(seed=seed)
        env.step(env.action_space.sample())  # warm-up: the first render allocates
        brightness = []
        start = time.perf_counter()
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if "pixels" in obs:
                brightness.append(float(np.mean([img.mean() for img in obs["pixels"].values()])))
            if terminated or truncated:
                env.reset()
        seconds = time.perf_counter() - start
    finally:
        env.close()
    return {"steps": steps, "seconds": round(seconds, 3), "env_steps_per_s": round(steps / seconds, 2),
            "brightness": round(float(np.mean(brightness)), 1) if brightness else None}  # fmt: skip


def render_table(records: list[dict]) -> str:
    newest: dict[tuple, dict] = {}
    for record in records:  # appended in time order
        newest[(record["image_size"] or 0, record["render_quality"] or "")] = record
    lines = [
        "| observation | render quality | env steps/s | mean brightness (0-255) | machine |",
        "|---|---|---|---|---|",
    ]
    for (size, quality), r in sorted(newest.items()):
        what = f"two {size}x{size} cameras + state" if size else "state only"
        bright = f"{r['brightness']:.0f}" if r["brightness"] is not None else "-"
        m = r["machine"]
        where = f"{m.get('cpu')}, {m.get('cores')} cores, no GPU" if not m.get("gpu") else f"{m.get('gpu')}"
        lines.append(f"| {what} | {quality or '-'} | {r['env_steps_per_s']:.1f} | {bright} | {where} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--qualities", nargs="+", default=["full", "cpu"], choices=["full", "cpu"])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per setting ('full' gets a fifth)")
    args = parser.parse_args(argv)
    if args.steps < 5:
        raise ValueError(f"--steps={args.steps} is invalid; allowed: an integer >= 5.")
    RESULTS.mkdir(exist_ok=True)
    settings = [(GYM_HIL_PICK_CUBE_ID, None, None)]
    settings += [(GYM_HIL_PICK_CUBE_PIXELS_ID, s, q) for s in args.sizes for q in args.qualities]
    for env_id, size, quality in settings:
        config = {} if size is None else {"image_size": size, "render_quality": quality}
        steps = max(5, args.steps // 5) if quality == "full" else args.steps  # "full" is much slower
        figures = measure(env_id, config, steps)
        record = {"env": env_id, "image_size": size, "render_quality": quality, **figures,
                  "commit": git_commit(), "machine": machine(),
                  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
        print(json.dumps(record), flush=True)
        with open(RECORDS, "a") as f:
            f.write(json.dumps(record) + "\n")
    records = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    TABLE.write_text(render_table(records))
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
