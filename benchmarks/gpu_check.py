"""One check of the learner's CUDA path, sized for a short lease of a GPU machine; one results file.

    bash benchmarks/gpu_check.sh                  # on the GPU machine: installs .whl/, then runs this
    python benchmarks/gpu_check.py --device cpu --out /tmp/gpu_check.json --seconds 0.5 --image-size 32  # a dry run

Sections, in order, each within what is left of ``--budget-s`` (one that would start past it is
recorded as skipped, so the file always says what ran):

- ``device``: torch, CUDA, the GPU's name;
- ``tests``: the CUDA tests (learner on its device, CUDA-graph replay, no host sync per step);
- ``update``: critic steps/s of the update alone (the plain-PyTorch floor: ``SACUpdater`` on a
  replay in GPU memory, no RLlib), eager / compiled / CUDA-graphed, N = 2 and 10, UTD 1 and 20,
  256-wide nets, batch 256; and the same at N=10, UTD 20 on this machine's CPU (1 and 2 threads);
- ``plugin``: HybridSAC end to end through RLlib (``num_gpus_per_learner=1``, learner in the
  driver), eager and CUDA-graphed, at the same cases;
- ``tasks``: one training iteration of each built-in task with ``num_gpus_per_learner=1``: state,
  pixels at 128x128, demonstrations, several critics, two grippers, discrete only;
- ``pixels``: samples/s of the pixel task's update (rows the learner reads per second);
- ``two_learners``: two learners sharing the GPU (``num_learners=2``, 0.5 GPU each), if RLlib
  and NCCL allow it there.

The results are rewritten after every section (a lease that ends mid-run still leaves them), as
JSON and as a markdown table beside it (``.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, when run as a script

import torch  # noqa: E402

CUDA_TESTS = [
    "tests/test_device.py",
    "tests/test_compile.py::test_cuda_graphed_updates_replay_graphs_and_track_eager",
    "tests/test_host_sync.py::test_an_update_on_cuda_does_not_sync",
]
# (label, torch_compile, torch.compile mode): "default" rather than the CPU-tuned
# "max-autotune-no-cudagraphs", whose autotuning alone would take minutes of the lease.
MODES = [("eager", False, None), ("compiled", True, "default"), ("cuda graphs", True, "reduce-overhead")]
CASES = [(2, 1), (2, 20), (10, 1), (10, 20)]  # (N critics, UTD)


class Check:
    """The results file and the time budget shared by the sections."""

    def __init__(self, out: Path, budget_s: float, args: argparse.Namespace) -> None:
        self.out, self.args = out, args
        self.deadline = time.monotonic() + budget_s
        self.results: dict[str, Any] = {"command": " ".join(sys.argv), "sections": {}}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, name: str, section: Callable[[Check], dict], needs_s: float) -> None:
        """Runs one section unless less than ``needs_s`` seconds are left; an error is recorded,
        not raised, and the next section runs."""
        if self.left() < needs_s:
            self.results["sections"][name] = {"status": f"skipped: {self.left():.0f} s left, needs about {needs_s:.0f}"}
        else:
            start = time.monotonic()
            print(f"== {name} ({self.left():.0f} s left)", flush=True)
            try:
                entry = {"status": "ran", **section(self)}
            except Exception as error:  # recorded: the other sections still run
                entry = {"status": f"error: {type(error).__name__}: {error}"}
                entry["traceback"] = traceback.format_exc()[-3000:]
            entry["seconds"] = round(time.monotonic() - start, 1)
            self.results["sections"][name] = entry
            print(json.dumps({k: v for k, v in entry.items() if k != "traceback"}, default=str)[:2000], flush=True)
        self.write()

    def write(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.results, indent=1, default=str))
        tmp.replace(self.out)
        self.out.with_suffix(".md").write_text(markdown(self.results))


# ---- sections -------------------------------------------------------------------------------------
def device_section(check: Check) -> dict:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "device": check.args.device,
        "cpus": os.cpu_count(),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda,
                    multiprocessors=props.multi_processor_count)  # fmt: skip
    import ray

    info["ray"] = ray.__version__
    return info


def tests_section(check: Check) -> dict:
    """The CUDA tests, in a pytest process of their own (they start their own Ray)."""
    timeout = max(30.0, min(240.0, check.left() - 240))  # leave the speed sections their share
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *CUDA_TESTS]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        output, rc = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        output, rc = f"{expired.stdout or ''}{expired.stderr or ''}\ntimed out after {timeout:.0f} s", "timeout"
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors)", output)}
    return {"rc": rc, **counts, "output_tail": output[-4000:]}


def update_section(check: Check) -> dict:
    """The floor: SACUpdater alone, eager / compiled / graphed, on the device; and on the CPU."""
    from benchmarks import throughput as tp

    rows = []
    for label, compiled, mode in MODES:
        for n, utd in CASES:
            if check.left() < 20:
                rows.append({"mode": label, "N": n, "utd": utd, "status": "skipped: out of time"})
                continue
            case = tp.Case("hopper", n, utd, hybrid=False)
            labels = {"mode": label, "N": n, "utd": utd, "device": check.args.device}
            rows.append(_measured(labels, tp.floor, case, check.args.seconds, 3, torch_compile=compiled, threads=1,
                                  device=check.args.device, compile_mode=mode, count_flops=False))  # fmt: skip
    for threads in (1, 2):  # the CPU figure the GPU is measured against, on this machine
        case = tp.Case("hopper", 10, 20, hybrid=False)
        labels = {"mode": "eager", "N": 10, "utd": 20, "device": f"cpu, {threads} thread(s)"}
        rows.append(_measured(labels, tp.floor, case, check.args.seconds, 3, threads=threads, count_flops=False))
    return {"rows": rows, "case": "Hopper-v5's spaces (obs 11, act 3), 256-wide nets, batch 256, M=2"}


def plugin_section(check: Check) -> dict:
    """HybridSAC through RLlib, the learner on the GPU, eager and CUDA-graphed."""
    from ray.tune.registry import register_env

    from benchmarks import throughput as tp

    gpus = 1 if check.args.device == "cuda" else 0
    rows = []
    _ray_init()
    register_env("throughput_env", tp.env_creator)
    for label, compiled, mode in (MODES[0], MODES[2]):
        for n, utd in CASES:
            if check.left() < 30:
                rows.append({"mode": label, "N": n, "utd": utd, "status": "skipped: out of time"})
                continue
            case = tp.Case("hopper", n, utd, hybrid=False)
            extra = {"torch_compile_mode": mode} if mode else {}
            rows.append(_measured({"mode": label, "N": n, "utd": utd}, tp.plugin, case, check.args.seconds, 3,
                                  torch_compile=compiled, num_gpus_per_learner=gpus, **extra))  # fmt: skip
    return {"rows": rows}


def tasks_section(check: Check) -> dict:
    """One training iteration of each built-in task with the learner on the device."""
    from rllib_sac_hybrid import HybridSACConfig
    from rllib_sac_hybrid.envs import (
        BIMANUAL_ID,
        GRASP_CARRY_ID,
        PICK_PLACE_ID,
        PICK_PLACE_PIXELS_ID,
        PICK_PLACE_SPARSE_ID,
        SIM_ROBOT_ID,
    )
    from rllib_sac_hybrid.robot.record import record

    _ray_init()
    demos = tempfile.mkdtemp(prefix="gpu_check_demos_")
    record(PICK_PLACE_SPARSE_ID, 5, demos, "scripted", seed=0)
    size = check.args.image_size
    tasks = {
        "PickPlace (state)": (PICK_PLACE_ID, {}, {}),
        f"PickPlacePixels {size}x{size}": (PICK_PLACE_PIXELS_ID, {"image_size": size}, {}),
        "PickPlaceSparse + 5 demonstrations": (PICK_PLACE_SPARSE_ID, {}, {"demonstrations": demos,
                                                                          "bc_pretrain_steps": 50}),
        "PickPlace, 10 critics, UTD 20": (PICK_PLACE_ID, {}, {"num_critics": 10, "utd_ratio": 20}),
        "GraspCarry": (GRASP_CARRY_ID, {}, {}),
        "BimanualPickPlace (two grippers)": (BIMANUAL_ID, {}, {}),
        "SimRobotPickPlace at 100 Hz": (SIM_ROBOT_ID, {"control_hz": 100.0}, {}),  # 10 Hz: 30 s of waiting
        "CartPole-v1 (discrete only)": ("CartPole-v1", {}, {}),
    }  # fmt: skip
    rows = []
    for name, (env, env_config, training) in tasks.items():
        if check.left() < 25:
            rows.append({"task": name, "status": "skipped: out of time"})
            continue
        config = (
            HybridSACConfig()
            .environment(env, env_config=env_config)
            .training(num_random_steps=100, **training)
            .learners(num_gpus_per_learner=1 if check.args.device == "cuda" else 0)
            .reporting(min_sample_timesteps_per_iteration=300)
            .debugging(seed=0)
        )
        rows.append(_measured({"task": name}, _one_iteration, config))
    return {"rows": rows}


def pixels_section(check: Check) -> dict:
    """Rows per second the pixel task's learner reads (critic steps x batch), after a warm-up."""
    from rllib_sac_hybrid import HybridSACConfig
    from rllib_sac_hybrid.envs import PICK_PLACE_PIXELS_ID

    _ray_init()
    rows = []
    for label, compiled, mode in (MODES[0], MODES[2]):
        extra = {"torch_compile": True, "torch_compile_mode": mode} if compiled else {}
        config = (
            HybridSACConfig()
            .environment(PICK_PLACE_PIXELS_ID, env_config={"image_size": check.args.image_size})
            .training(num_random_steps=256, utd_ratio=4, **extra)
            .learners(num_gpus_per_learner=1 if check.args.device == "cuda" else 0)
            .reporting(min_sample_timesteps_per_iteration=100)
            .debugging(seed=0)
        )
        rows.append(_measured({"mode": label}, _rows_per_second, config, check.args.seconds))
    size = check.args.image_size
    return {"rows": rows, "case": f"PickPlacePixels {size}x{size}, UTD 4, default nets and batch"}


def two_learners_section(check: Check) -> dict:
    """Two data-parallel learners on the one GPU (0.5 each); RLlib groups them with NCCL on CUDA."""
    from rllib_sac_hybrid import HybridSACConfig
    from rllib_sac_hybrid.envs import PICK_PLACE_ID

    _ray_init()
    config = (
        HybridSACConfig()
        .environment(PICK_PLACE_ID)
        .training(num_random_steps=100)
        .learners(num_learners=2, num_gpus_per_learner=0.5 if check.args.device == "cuda" else 0)
        .reporting(min_sample_timesteps_per_iteration=300)
        .debugging(seed=0)
    )
    return _one_iteration(config)


# ---- helpers ------------------------------------------------------------------------------------
def _ray_init() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)


def _measured(labels: dict, measure: Callable[..., dict], *args: Any, **kwargs: Any) -> dict:
    """``labels`` and what ``measure(*args, **kwargs)`` returned, or the error it raised. Dynamo's
    caches are cleared first: each case builds a new updater, whose compiled methods would
    otherwise count as recompiles of the last ones, and past ``recompile_limit`` (8) run eager."""
    torch._dynamo.reset()
    try:
        return {**labels, **{k: _round(v) for k, v in measure(*args, **kwargs).items()}}
    except Exception as error:  # one failing case does not end the section
        return {**labels, "status": f"error: {type(error).__name__}: {error}"[:1500]}


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _one_iteration(config) -> dict:
    from ray.rllib.core import DEFAULT_MODULE_ID

    start = time.perf_counter()
    algo = config.build_algo()
    try:
        built = time.perf_counter() - start
        result = algo.train()
        learners = result.get("learners", {}).get(DEFAULT_MODULE_ID, {})
        module = algo.learner_group._learner.module[DEFAULT_MODULE_ID] if algo.learner_group.is_local else None
        return {
            "build_s": built,
            "iteration_s": time.perf_counter() - start - built,
            "env_steps": result.get("num_env_steps_sampled_lifetime"),
            "critic_steps": learners.get("num_critic_steps_lifetime"),
            "critic_loss_finite": bool(learners.get("critic_loss") == learners.get("critic_loss")),
            "learner_device": str(next(module.parameters()).device) if module is not None else "remote learners",
        }
    finally:
        algo.stop()


def _rows_per_second(config, seconds: float) -> dict:
    """Rows the learner reads per second: critic steps/s (``throughput._measure``: warm-up, then
    three timed windows) times the batch."""
    from benchmarks import throughput as tp

    algo = config.build_algo()
    try:
        rates = tp._measure(algo, seconds, 3, tp._critic_steps)
    finally:
        algo.stop()
    batch = config.train_batch_size_per_learner
    return {"samples_per_s": rates["grad_steps_per_s"] * batch, "env_steps_per_s": rates["env_steps_per_s"],
            "batch": batch}  # fmt: skip


# ---- the table ----------------------------------------------------------------------------------
def markdown(results: dict) -> str:
    """The results as tables a person reads: one per section with rows, a status line for the rest."""
    sections = results["sections"]
    lines = [f"# GPU check: {sections.get('device', {}).get('gpu', 'no GPU')}", "", f"`{results['command']}`", ""]
    for name, entry in sections.items():
        lines += [f"## {name}", "", f"{entry.get('status')} ({entry.get('seconds', '-')} s)", ""]
        if name == "device" or name == "two_learners":
            lines += [f"- {k}: {v}" for k, v in entry.items() if k not in ("status", "seconds", "traceback")]
        elif name == "tests":
            lines += [f"- {k}: {entry[k]}" for k in ("rc", "passed", "failed", "skipped", "errors") if k in entry]
        elif entry.get("rows"):
            keys = list(dict.fromkeys(k for row in entry["rows"] for k in row))
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in entry["rows"]]
        lines.append("")
    return "\n".join(lines)


SECTIONS: dict[str, tuple[Callable[[Check], dict], float]] = {  # name -> (section, seconds it needs at least)
    "device": (device_section, 0),
    "tests": (tests_section, 60),
    "update": (update_section, 60),
    "plugin": (plugin_section, 60),
    "tasks": (tasks_section, 60),
    "pixels": (pixels_section, 30),
    "two_learners": (two_learners_section, 30),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_check.json")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    parser.add_argument("--budget-s", type=float, default=420.0, help="the whole check's seconds")
    parser.add_argument("--seconds", type=float, default=0.5, help="one timed window (3 per figure, median)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--image-size", type=int, default=128, help="the pixel task's camera side (32: a CPU dry run)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    check = Check(args.out, args.budget_s, args)
    for name in args.sections:
        section, needs_s = SECTIONS[name]
        check.run(name, section, needs_s)
    print(f"results: {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
