#!/usr/bin/env bash
# One check of the learner's CUDA path on a bare GPU machine, in at most 8 minutes; one results file.
#
#   make gpu-wheels                          # where pip works: .whl/ holds the cp312 wheels the GPU
#                                            # machine lacks (Ray slimmed, gymnasium, ...), about 49 MB
#   bash benchmarks/gpu_check.sh [OUT_DIR]   # on the GPU machine, from a copy of the repo with .whl/
#
# The GPU machine has Python 3.12 and a CUDA build of torch but no Ray or gymnasium, and no network:
# the wheels in .whl/ are installed with --no-deps into a folder of their own. The results go to
# OUT_DIR/gpu_check.json and .md (OUT_DIR: the argument, else $OUT, else benchmarks/results). What
# runs, and in which order, is in benchmarks/gpu_check.py; arguments after OUT_DIR go to it.
set -uo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-benchmarks/results}}
shift $(( $# > 0 ? 1 : 0 ))
started=$SECONDS

if ! python3 -c "import ray, gymnasium" 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "Ray or gymnasium is missing and there is no .whl/: run 'make gpu-wheels' where pip works, and bring .whl/ along." >&2
        exit 2
    fi
    site=/tmp/gpu_check_site
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl || exit 3
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MUJOCO_GL=egl PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not here"

budget=$(( 470 - (SECONDS - started) ))  # 8 minutes in all, less the install
timeout $(( budget + 20 )) python3 benchmarks/gpu_check.py --out "$out_dir/gpu_check.json" --budget-s "$budget" "$@"
rc=$?
echo "gpu_check: exit $rc after $(( SECONDS - started )) s; results in $out_dir/gpu_check.json and .md"
exit $rc
