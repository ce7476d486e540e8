"""Gradient steps per second: the plugin's own math vs HybridSAC through RLlib vs RLlib's SAC / TQC.

For each case (observation size, N critics, UTD ratio, hybrid on/off), one run on this machine:

(a) floor  - the plugin's update (same networks, N, M, batch) in a tight loop on a replay buffer
             already in memory: no RLlib, no env;
(b) plugin - ``HybridSAC`` end to end through ``algo.train()``: critic gradient steps/s, env steps/s;
(c) rllib  - RLlib's built-in SAC (N=2) or TQC (N=10) at the same widths and batch, with
             ``training_intensity`` set for the same gradient steps per env step.

Each figure is the median of ``--repeats`` timed windows. Envs: Pendulum-v1 (obs 3, act 1) and
Hopper-v5 (obs 11, act 3; needs ``mujoco``, else a stand-in env with Hopper's spaces). "Hybrid"
adds a Discrete(3) gripper to the action (Tuple(Box, Discrete)), which turns on the discrete critic.

    python benchmarks/throughput.py --quick                       # 2 cases, (a) and (b)
    python benchmarks/throughput.py --quick --set critic_value_bins=None  # settings on top, for (a) and (b)
    python benchmarks/throughput.py                               # the full grid, (a) (b) (c)
    python benchmarks/throughput.py --systems floor floor_compiled plugin plugin_compiled  # torch.compile
    python benchmarks/throughput.py --threads-study               # learner / EnvRunner torch threads
    python benchmarks/throughput.py --flops                       # the update's FLOP/s against torch.mm's
    python benchmarks/throughput.py --systems floor floor_compiled floor_whole_step --envs pendulum \
        --critics 2 10 --utd 20 --hybrid off                      # compiling the whole critic step
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import ray
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import record_run  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig, HybridSACTorchRLModule  # noqa: E402
from rllib_sac_hybrid.cli import key_values  # noqa: E402
from rllib_sac_hybrid.data.replay import TensorReplayBuffer  # noqa: E402
from rllib_sac_hybrid.update import SACUpdater, UpdateSettings, make_optimizer, param_groups  # noqa: E402

WIDTH, BATCH, M = 256, 256, 2
EXTRA_TRAINING: dict = {}  # --set: HybridSAC settings on top of every case's (floor and plugin)
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
LEARNER_THREADS = CORES  # what HybridSAC's learner takes in a plain driver process left at torch's default threads


@dataclass(frozen=True)
class Case:
    env: str  # "pendulum" | "hopper"
    num_critics: int
    utd: int
    hybrid: bool

    @property
    def label(self) -> str:
        return f"{self.env:<8} N={self.num_critics:<2} UTD={self.utd:<2} {'hybrid' if self.hybrid else 'box':<6}"


class HybridActionWrapper(gym.ActionWrapper):
    """Adds a Discrete(3) 'gripper' to a Box-action env; the inner env sees only the Box part."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.action_space = gym.spaces.Tuple((env.action_space, gym.spaces.Discrete(3)))

    def action(self, action):
        return action[0]

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "discrete_penalty": 0.0}


class StandInEnv(gym.Env):
    """Random observations with given spaces: a stand-in when MuJoCo is not installed."""

    def __init__(self, obs_dim: int, act_dim: int) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self.np_random.standard_normal(self.observation_space.shape).astype(np.float32), {}

    def step(self, action):
        self._t += 1
        obs = self.np_random.standard_normal(self.observation_space.shape).astype(np.float32)
        return obs, float(-np.square(action).sum()), False, self._t >= 1000, {}


def make_env(name: str, hybrid: bool) -> gym.Env:
    if name == "pendulum":
        env = gym.make("Pendulum-v1")
    else:
        try:
            env = gym.make("Hopper-v5")
        except Exception:  # mujoco missing: same spaces, no physics
            env = StandInEnv(11, 3)
    return HybridActionWrapper(env) if hybrid else env


def env_creator(config: dict) -> gym.Env:
    return make_env(config["name"], config["hybrid"])


# Both RLlib systems report once per >= 1 s of training (as with RLlib's usual iteration
# settings), so that neither pays its per-iteration result compilation on every env step.
REPORTING = dict(min_sample_timesteps_per_iteration=1, min_time_s_per_iteration=1)


def plugin_config(case: Case, torch_compile: bool = False, **training) -> HybridSACConfig:
    hidden = (WIDTH, WIDTH)
    return (
        HybridSACConfig()
        .environment("throughput_env", env_config={"name": case.env, "hybrid": case.hybrid})
        .training(
            num_critics=case.num_critics,
            num_subsample_critics=min(M, case.num_critics),
            utd_ratio=case.utd,
            actor_hidden_dims=hidden,
            critic_hidden_dims=hidden,
            discrete_critic_hidden_dims=hidden,
            encoder_latent_dim=WIDTH,
            train_batch_size_per_learner=BATCH,
            num_random_steps=BATCH,
            torch_compile=torch_compile,
            **{**EXTRA_TRAINING, **training},
        )
        .reporting(**REPORTING)
        .debugging(seed=0)
    )


# ---- (a) the floor ----------------------------------------------------------------------------
def floor(
    case: Case,
    seconds: float,
    repeats: int,
    torch_compile: bool = False,
    threads: int | None = None,
    whole_step: bool = False,
    device: str = "cpu",
    compile_mode: str | None = None,
    count_flops: bool = True,
) -> dict[str, float]:
    """Critic gradient steps/s of SACUpdater on an in-memory replay, no RLlib.

    ``whole_step``: the experiment of compiling each critic step whole (losses, backward with
    compiled autograd, clipping, Adam, Polyak) instead of ``torch_compile``'s losses only.
    ``device``: where the module and the replay live; ``compile_mode``: torch.compile's mode
    (default: the config's); ``count_flops``: FLOPs and matmul time too (eager, on a CPU)."""
    torch.set_num_threads(threads or LEARNER_THREADS)
    env = make_env(case.env, case.hybrid)
    config = plugin_config(case, torch_compile)
    if compile_mode is not None:
        config = config.training(torch_compile_mode=compile_mode)
    module = HybridSACTorchRLModule(
        observation_space=env.observation_space,
        action_space=env.action_space,
        model_config=config._model_config_auto_includes,
    ).to(device)
    settings = UpdateSettings(
        utd_ratio=case.utd,
        policy_update_freq=1,
        discount=0.99,
        tau=0.005,
        num_critics=case.num_critics,
        num_subsample_critics=min(M, case.num_critics),
        use_backup_entropy=True,
        actor_q_reduction="min",
        grad_clip_norm=40.0,
        target_entropy=config.resolved_target_entropy(env.action_space),
        torch_compile=torch_compile,
        torch_compile_mode=config.torch_compile_mode,
    )
    groups = param_groups(module)
    updater = SACUpdater(module, {k: make_optimizer(v, 3e-4) for k, v in groups.items()}, settings)
    if whole_step:
        torch._dynamo.config.compiled_autograd = True  # backward() into the graph as well
        critic_step, polyak_update = updater.critic_step, updater.polyak_update

        def whole(batch):
            metrics = critic_step(batch)
            polyak_update()
            return metrics

        updater.critic_step = torch.compile(whole, mode=config.torch_compile_mode, dynamic=False)
        updater.polyak_update = lambda: None
    replay = TensorReplayBuffer(10_000, env.observation_space, module.layout, device=device)
    n = 10_000
    obs = np.random.randn(n + 1, *env.observation_space.shape).astype(np.float32)
    data = {  # one long episode: each next obs is the following row's obs, as the replay stores it
        "obs": obs[:-1],
        "next_obs": obs[1:],
        "next_is_next_row": np.ones(n, bool),
        "action": np.random.uniform(module.layout.low, module.layout.high, (n, module.layout.continuous_dim)),
        "reward": np.random.randn(n).astype(np.float32),
        "done": np.zeros(n, np.float32),
    }
    if module.layout.has_discrete:
        data["discrete_action"] = np.random.randint(0, 3, n)
        data["discrete_penalty"] = np.zeros(n, np.float32)
    replay.add(data)

    def one_update():
        rows = iter(replay.sample_indices(case.utd, BATCH))
        metrics = updater.update(lambda: replay.gather(next(rows)))
        torch.stack([m["critic_loss"] for m in metrics if "critic_loss" in m]).sum().item()  # one sync per update

    rates, warmup_start = [], time.perf_counter()
    for _ in range(3):  # warm-up (and compilation, when on)
        one_update()
    warmup_s = time.perf_counter() - warmup_start
    # compiled graphs hide their matmuls from the counters; the profiler's CPU times say nothing on a GPU
    counted = count_flops and not (torch_compile or whole_step) and device == "cpu"
    flops = update_flops(one_update) if counted else math.nan
    matmul_s = update_matmul_seconds(one_update) if counted else math.nan
    for _ in range(repeats):
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            one_update()
            steps += case.utd
        rates.append(steps / (time.perf_counter() - start))
    rate = statistics.median(rates)
    torch._dynamo.config.compiled_autograd = False  # the next floor() runs as asked
    return {
        "grad_steps_per_s": rate,
        "env_steps_per_s": rate / case.utd,
        "flop_per_s": flops * rate / case.utd,
        # the share of an update's wall time spent inside matrix multiplies, and their rate there
        "matmul_share": matmul_s * rate / case.utd,
        "matmul_flop_per_s": flops / matmul_s,
        "warmup_s": warmup_s,  # 3 updates, with the compile when on
    }


def update_flops(one_update) -> float:
    """FLOPs of one ``one_update()`` call (``utd`` critic steps, an actor and a temperature step):
    torch's count of its matrix multiplies and convolutions, forward and backward."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        one_update()
    return float(counter.get_total_flops())


MATMUL_OPS = ("aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm")  # their own time (self)
CONVOLUTION_OPS = ("aten::convolution", "aten::convolution_backward")  # with the backend ops they call


def update_matmul_seconds(one_update, calls: int = 5) -> float:
    """Seconds per ``one_update()`` call spent inside matrix multiplies and convolutions (forward
    and backward), by torch's profiler. Its per-op overhead is microseconds, small next to these
    ops, so this is compared with the unprofiled update's wall time."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            one_update()
    events = prof.key_averages()
    us = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS)
    us += sum(e.cpu_time_total for e in events if e.key in CONVOLUTION_OPS)
    return us / 1e6 / calls


def sgemm_flop_per_s(n: int, threads: int, seconds: float = 1.0) -> float:
    """This CPU's float32 matrix-multiply rate: ``torch.mm`` of two n x n matrices, 2 n^3 FLOPs each."""
    torch.set_num_threads(threads)
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    for _ in range(3):
        torch.mm(a, b, out=out)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b, out=out)
        calls += 1
    return 2 * n**3 * calls / (time.perf_counter() - start)


# ---- (b) the plugin through RLlib -------------------------------------------------------------
def plugin(
    case: Case,
    seconds: float,
    repeats: int,
    torch_compile: bool = False,
    remote_runners: int = 0,
    num_gpus_per_learner: float = 0,
    **training,
) -> dict[str, float]:
    config = (
        plugin_config(case, torch_compile, **training)
        .env_runners(num_env_runners=remote_runners)
        .learners(num_gpus_per_learner=num_gpus_per_learner)
    )
    algo = config.build_algo()
    try:
        return _measure(algo, seconds, repeats, _critic_steps)
    finally:
        algo.stop()


def _critic_steps(result: dict) -> float:
    return float(result.get("learners", {}).get("default_policy", {}).get("num_critic_steps_lifetime", 0))


# ---- (c) RLlib's SAC / TQC --------------------------------------------------------------------
def rllib_builtin(case: Case, seconds: float, repeats: int) -> dict[str, float] | None:
    if case.hybrid:
        return None  # RLlib's SAC refuses Tuple actions
    if case.num_critics == 2:
        from ray.rllib.algorithms.sac import SACConfig as Config

        extra = {"twin_q": True}
    else:
        from ray.rllib.algorithms.tqc import TQCConfig as Config

        extra = {"n_critics": case.num_critics}
    hidden = [WIDTH, WIDTH]
    config = (
        Config()
        .environment("throughput_env", env_config={"name": case.env, "hybrid": False})
        .training(
            train_batch_size_per_learner=BATCH,
            # replayed / sampled timesteps: BATCH per gradient step, `utd` gradient steps per env step
            training_intensity=case.utd * BATCH,
            num_steps_sampled_before_learning_starts=BATCH,
            **extra,
        )
        .rl_module(model_config={"fcnet_hiddens": hidden})
        .env_runners(rollout_fragment_length=1)
        .reporting(**REPORTING)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        return _measure(algo, seconds, repeats, _rllib_grad_steps)
    finally:
        algo.stop()


def _rllib_grad_steps(result: dict) -> float:
    trained = result.get("learners", {}).get("default_policy", {}).get("num_module_steps_trained_lifetime", 0)
    return trained / BATCH  # one gradient step per train batch


def _measure(algo, seconds: float, repeats: int, grad_steps) -> dict[str, float]:
    result = algo.train()
    while grad_steps(result) == 0:  # past the random / warm-up steps
        result = algo.train()
    result = algo.train()  # one more: any compilation or lazy set-up is behind us
    grad_rates, env_rates = [], []
    for _ in range(repeats):
        g0, e0, start = grad_steps(result), result["num_env_steps_sampled_lifetime"], time.perf_counter()
        while time.perf_counter() - start < seconds:
            result = algo.train()
        elapsed = time.perf_counter() - start
        grad_rates.append((grad_steps(result) - g0) / elapsed)
        env_rates.append((result["num_env_steps_sampled_lifetime"] - e0) / elapsed)
    return {"grad_steps_per_s": statistics.median(grad_rates), "env_steps_per_s": statistics.median(env_rates)}


SYSTEMS = {
    "floor": floor,
    "plugin": plugin,
    "rllib": rllib_builtin,
    "floor_compiled": lambda case, seconds, repeats: floor(case, seconds, repeats, torch_compile=True),
    "floor_whole_step": lambda case, seconds, repeats: floor(case, seconds, repeats, whole_step=True),
    "plugin_compiled": lambda case, seconds, repeats: plugin(case, seconds, repeats, torch_compile=True),
}


def threads_study(seconds: float, repeats: int) -> None:
    """Learner and EnvRunner torch threads: the floor and the plugin under each placement."""
    settings = [
        ("floor, 1 torch thread", lambda c: floor(c, seconds, repeats, threads=1)),
        (f"floor, {CORES} torch threads", lambda c: floor(c, seconds, repeats, threads=CORES)),
        ("plugin, local runner, learner 1 thread", lambda c: plugin(c, seconds, repeats, learner_torch_threads=1)),
        (f"plugin, local runner, learner {CORES} (default)", lambda c: plugin(c, seconds, repeats)),
        (
            "plugin, 1 remote runner x1 + learner 1",
            lambda c: plugin(c, seconds, repeats, remote_runners=1, learner_torch_threads=1),
        ),
        (
            f"plugin, 1 remote runner x1 + learner {CORES} (default)",
            lambda c: plugin(c, seconds, repeats, remote_runners=1),
        ),
        (
            f"plugin, 1 remote runner x{CORES} + learner {CORES}",
            lambda c: plugin(c, seconds, repeats, remote_runners=1, env_runner_torch_threads=CORES),
        ),
    ]
    cases = [Case("pendulum", 2, 1, False), Case("pendulum", 2, 20, False)]
    print(f"\nthreads study on {CORES} cores (critic gradient steps/s; env steps/s in brackets)")
    print(f"{'setting':<48}" + "".join(f"{'UTD=' + str(c.utd):>18}" for c in cases), flush=True)
    for label, run in settings:
        figures = [run(case) for case in cases]
        print(
            f"{label:<48}" + "".join(f"{f['grad_steps_per_s']:>9.1f} ({f['env_steps_per_s']:>5.1f})" for f in figures),
            flush=True,
        )


def flops_report(seconds: float, repeats: int, threads: int) -> None:
    """The floor's update against this CPU's matrix-multiply rate: the update's FLOPs (torch's
    ``FlopCounterMode``) times updates per second, over ``torch.mm`` at 256 and at 2048; eager and
    with ``torch_compile=True`` (the same math, so the eager count stands for both: compiled
    graphs hide their matmuls from the counter), with the compile's one-off cost. "in matmuls" is
    the share of the eager update's wall time inside matrix multiplies (torch's profiler), "their
    /mm256" the rate they run at there: the FLOP ratio is the product of the two."""
    sgemm = {n: sgemm_flop_per_s(n, threads, seconds=max(1.0, seconds / 2)) for n in (256, 2048)}
    print(f"\nthe update against sgemm, {threads} torch threads: torch.mm 256: {sgemm[256] / 1e9:.1f} GFLOP/s, "
          f"2048: {sgemm[2048] / 1e9:.1f} GFLOP/s")  # fmt: skip
    print(f"{'case':<32}{'critic steps/s':>15}{'MFLOP/step':>12}{'GFLOP/s':>9}{'/mm256':>8}{'/mm2048':>8}"
          f"{'in matmuls':>11}{'their /mm256':>13}"
          f"{'compiled steps/s':>18}{'/mm256':>8}{'compile s':>11}", flush=True)  # fmt: skip
    cases = [Case("pendulum", 2, 20, False), Case("pendulum", 10, 20, False), Case("pendulum", 2, 1, False),
             Case("pendulum", 2, 1, True), Case("hopper", 10, 20, True)]  # fmt: skip
    for case in cases:
        fig = floor(case, seconds, repeats, threads=threads)
        per_step = fig["flop_per_s"] / fig["grad_steps_per_s"]
        compiled = floor(case, seconds, repeats, torch_compile=True, threads=threads)
        compiled_flop_per_s = per_step * compiled["grad_steps_per_s"]
        print(f"{case.label:<32}{fig['grad_steps_per_s']:>15.1f}{per_step / 1e6:>12.1f}{fig['flop_per_s'] / 1e9:>9.1f}"
              f"{fig['flop_per_s'] / sgemm[256]:>8.2f}{fig['flop_per_s'] / sgemm[2048]:>8.2f}"
              f"{fig['matmul_share']:>11.2f}{fig['matmul_flop_per_s'] / sgemm[256]:>13.2f}"
              f"{compiled['grad_steps_per_s']:>18.1f}{compiled_flop_per_s / sgemm[256]:>8.2f}"
              f"{compiled['warmup_s']:>11.0f}", flush=True)  # fmt: skip


def memory_report(envs: list[str]) -> None:
    """Replay bytes per stored transition, and what 1M of them take."""
    from rllib_sac_hybrid.spaces import ActionLayout

    print("replay memory at capacity 1M (float32 observations, each stored once + capacity/4 extra frames)")
    for name, hybrid in itertools.product(envs, (False, True)):
        env = make_env(name, hybrid)
        replay = TensorReplayBuffer(1_000_000, env.observation_space, ActionLayout.from_space(env.action_space))
        per, total = replay.nbytes_per_transition(), replay.nbytes() / 2**30
        print(f"  {name:<8} {'hybrid' if hybrid else 'box':<6} {per:>6.1f} B/transition   1M: {total:.3f} GiB")
        del replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", nargs="+", default=["floor", "plugin", "rllib"], choices=list(SYSTEMS))
    parser.add_argument("--envs", nargs="+", default=["pendulum", "hopper"], choices=["pendulum", "hopper"])
    parser.add_argument("--critics", nargs="+", type=int, default=[2, 10])
    parser.add_argument("--utd", nargs="+", type=int, default=[1, 20])
    parser.add_argument("--hybrid", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per figure (median reported)")
    parser.add_argument("--threads-study", action="store_true", help="only the torch-threads table (pendulum, N=2)")
    parser.add_argument("--flops", action="store_true",
                        help="only the update's FLOP/s against torch.mm's (the floor, no RLlib)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="pendulum, N=2, UTD 1 and 20, box; floor and plugin")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="HybridSAC settings for floor and plugin, e.g. critic_value_bins=None")  # fmt: skip
    args = parser.parse_args()
    EXTRA_TRAINING.update(key_values("--set", args.set, "critic_value_bins=None"))
    if args.quick:
        args.systems, args.envs, args.critics, args.hybrid = ["floor", "plugin"], ["pendulum"], [2], ["off"]
    ray.init(num_cpus=CORES, include_dashboard=False, log_to_driver=False)
    from ray.tune.registry import register_env

    register_env("throughput_env", env_creator)
    if args.threads_study:
        threads_study(args.seconds, args.repeats)
        ray.shutdown()
        return
    if args.flops:
        flops_report(args.seconds, args.repeats, LEARNER_THREADS)
        ray.shutdown()
        return

    memory_report(args.envs)
    cases = [
        Case(env, n, utd, hybrid == "on")
        for env, n, utd, hybrid in itertools.product(args.envs, args.critics, args.utd, args.hybrid)
    ]
    print(
        f"{WIDTH}x{WIDTH} nets, batch {BATCH}, M={M}, {LEARNER_THREADS} torch threads (floor, learner), "
        f"median of {args.repeats} x {args.seconds:.0f} s windows; figures are critic gradient steps/s"
    )
    ratios = [  # (label, numerator, denominator, format)
        ("b/a", "plugin", "floor", ".2f"),
        ("b/c", "plugin", "rllib", ".1f"),
        ("ac/a", "floor_compiled", "floor", ".2f"),
        ("bc/ac", "plugin_compiled", "floor_compiled", ".2f"),
        ("bc/b", "plugin_compiled", "plugin", ".2f"),
        ("bc/c", "plugin_compiled", "rllib", ".1f"),
    ]
    ratios = [r for r in ratios if r[1] in args.systems and r[2] in args.systems]
    print("a = floor, b = plugin, c = rllib; *_compiled = with torch_compile=True")
    header = f"{'case':<32}" + "".join(f"{s:>18}" for s in args.systems) + f"{'plugin env st/s':>16}"
    print(header + "".join(f"{label:>7}" for label, *_ in ratios), flush=True)
    for case in cases:
        figures = {name: SYSTEMS[name](case, args.seconds, args.repeats) for name in args.systems}
        row = f"{case.label:<32}"
        for name in args.systems:
            fig = figures[name]
            row += f"{fig['grad_steps_per_s']:>18.1f}" if fig else f"{'-':>18}"
        plugin_fig = figures.get("plugin") or figures.get("plugin_compiled")
        row += f"{plugin_fig['env_steps_per_s']:>16.1f}" if plugin_fig else f"{'-':>16}"
        for _, num, den, fmt in ratios:
            if figures.get(num) and figures.get(den):
                row += f"{figures[num]['grad_steps_per_s'] / figures[den]['grad_steps_per_s']:>7{fmt}}"
            else:
                row += f"{'-':>7}"
        print(row, flush=True)
        record_run("throughput", task=case.env, label=case.label.strip(), seed=0, curve=[],
                   settings={"num_critics": case.num_critics, "utd_ratio": case.utd, "hybrid": case.hybrid,
                             "width": WIDTH, "batch": BATCH, "threads": LEARNER_THREADS, **EXTRA_TRAINING},
                   summary={name: fig for name, fig in figures.items()},
                   command=" ".join(["python benchmarks/throughput.py", *sys.argv[1:]]))  # fmt: skip
    ray.shutdown()


if __name__ == "__main__":
    main()
