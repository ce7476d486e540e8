"""What a critic step's camera encoding costs on this machine: the default CNN's forward and
backward over a batch's observations and next observations, per image size, batch size, and
trained or frozen backbone (a frozen one runs forward only, without gradients).

    python benchmarks/image_encoder_cost.py                 # 64 and 128 px, batch 256 and 64, 1 thread
    python benchmarks/image_encoder_cost.py --threads 2

Two cameras, as gym-hil's pick-cube has. The rest of the update (critics, actor) is small next to
this at these sizes. Writes ``benchmarks/results/image_encoder_cost.md`` (included by the docs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import RESULTS, machine  # noqa: E402
from rllib_sac_hybrid.networks import BackboneFeatures, ImageEncoder, SmallCNN  # noqa: E402

CAMERAS = 2


def seconds_per_step(size: int, batch: int, frozen: bool, repeats: int) -> float:
    """One camera's encoding of 2 * batch images (obs and next obs), forward and backward."""
    shape = (size, size, 3)
    encoder = ImageEncoder(shape, 50, SmallCNN.for_image(shape))
    images = torch.randint(0, 256, (2 * batch, *shape), dtype=torch.uint8)

    def step() -> None:
        if frozen:
            with torch.no_grad():
                features = encoder.features(images)
            out = encoder(BackboneFeatures(features))
        else:
            out = encoder(images)
        out.sum().backward()

    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    m = machine()
    lines = [
        f"Two cameras, obs and next obs, forward and backward; {m['cpu']}, {args.threads} torch thread(s), "
        f"torch {m['torch']}. Command: `python benchmarks/image_encoder_cost.py --threads {args.threads}`",
        "",
        "| image | batch | trained backbone, s per critic step | frozen backbone, s per critic step "
        "| 20,000 critic steps (UTD 1 over 20,000 env steps), trained / frozen |",
        "|---|---|---|---|---|",
    ]
    for size in args.sizes:
        for batch in args.batches:
            trained, frozen = (CAMERAS * seconds_per_step(size, batch, f, args.repeats) for f in (False, True))
            hours = f"{20_000 * trained / 3600:.1f} h / {20_000 * frozen / 3600:.1f} h"
            lines.append(f"| {size}x{size} | {batch} | {trained:.2f} | {frozen:.2f} | {hours} |")
            print(lines[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "image_encoder_cost.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
