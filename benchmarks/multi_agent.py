"""Multi-agent HybridSAC on RLlib's MultiAgentPendulum (2 agents): two policies vs one shared.

Prints, per setting and seed, the env steps and seconds until the windowed return (the sum of
both agents' returns, mean of the last 10 episodes) first reaches each of ``--targets``, and the
curve every 500 env steps. Settings are the Pendulum example's (``examples/pendulum.py``).

    python benchmarks/multi_agent.py --settings separate shared --max-env-steps 8000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import ray
import torch
from ray.rllib.examples.envs.classes.multi_agent import MultiAgentPendulum
from ray.tune.registry import register_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import first_at, record_run, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402

POLICIES = {
    "separate": ({"p0", "p1"}, lambda agent_id, episode, **kwargs: f"p{agent_id}"),
    "shared": ({"shared"}, lambda agent_id, episode, **kwargs: "shared"),
}


def run(setting: str, seed: int, args: argparse.Namespace) -> dict:
    policies, mapping = POLICIES[setting]
    config = (
        HybridSACConfig()
        .environment("ma-pendulum")
        .multi_agent(policies=policies, policy_mapping_fn=mapping)
        .training(num_random_steps=500)
        .env_runners(rollout_fragment_length=4)
        .reporting(min_sample_timesteps_per_iteration=500, metrics_num_episodes_for_smoothing=10)
        .debugging(seed=seed)
    )
    algo = config.build_algo()
    rows: list[dict] = []
    try:
        train_until(algo, args.max_env_steps, label=f"{setting} seed {seed}", rows=rows,
                    stop=lambda row: row["train_return"] >= max(args.targets))  # fmt: skip
    finally:
        algo.stop()
    reached = {}
    for target in args.targets:
        hit = first_at(rows, "train_return", target)
        reached[target] = (hit["env_steps"], hit["seconds"]) if hit else None
    record_run("multi_agent", task="ma-pendulum", label=setting, seed=seed, curve=rows,
               settings={"policies": sorted(POLICIES[setting][0])},
               summary={"reached": {str(k): v for k, v in reached.items()}})  # fmt: skip
    curve = [(r["env_steps"], round(r["train_return"])) for r in rows]
    return {"setting": setting, "seed": seed, "reached": reached, "curve": curve, "seconds": rows[-1]["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", choices=sorted(POLICIES), default=["separate", "shared"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-env-steps", type=int, default=8000)
    parser.add_argument("--targets", type=float, nargs="+", default=[-800.0, -400.0], help="sum over both agents")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_env("ma-pendulum", lambda _: MultiAgentPendulum(config={"num_agents": 2}))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = [run(setting, seed, args) for setting in args.settings for seed in args.seeds]
    ray.shutdown()
    print("\nMultiAgentPendulum, 2 agents: env steps (seconds) to the windowed return (sum of both agents)")
    for row in rows:
        cells = [
            f"{target:.0f}: " + (f"{r[0]:,} ({r[1]:.0f} s)" if (r := row["reached"][target]) else "not reached")
            for target in args.targets
        ]
        print(f"{row['setting']:>9} seed {row['seed']}  " + "  ".join(cells) + f"  | curve {row['curve']}")


if __name__ == "__main__":
    main()
