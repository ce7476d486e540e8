"""Repacks a Ray wheel without what a GPU check never loads, so that it travels (64 MiB at most).

    python benchmarks/slim_wheel.py .whl/ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl

Drops Ray's Java jar (``ray/jars/``, 34.5 MB unpacked) and the dashboard's web build
(``ray/dashboard/client/build/``); ``ray.data``, which the package imports, stays. The wheel's
RECORD is rewritten to list what is left, so pip installs it as any other wheel.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

DROPPED = ("ray/jars/", "ray/dashboard/client/build/")


def slim(path: Path) -> tuple[int, int]:
    """Rewrites ``path`` in place; returns its size before and after, in bytes."""
    before = path.stat().st_size
    tmp = path.with_suffix(".slim")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename.startswith(DROPPED):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = ("\n".join(line for line in lines if not line.startswith(DROPPED)) + "\n").encode()
            dst.writestr(info, data)
    tmp.replace(path)
    return before, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheels", nargs="+", type=Path)
    for path in parser.parse_args().wheels:
        before, after = slim(path)
        print(f"{path.name}: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
