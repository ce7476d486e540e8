"""A HybridSAC job for a Ray cluster: one EnvRunner per robot arm, the learner on the head node.

    ray job submit --address http://<head>:8265 --working-dir examples/cluster -- \
        python train.py --env rllib_sac_hybrid/SimRobotPickPlace-v0 --arms 2 --env-steps 50000

Runner i (1-based) asks for the custom resource ``robot_arm_{i-1}``, which only that arm's node
has (``cluster.yaml`` starts the nodes so), so it runs next to its robot, and a restarted runner
comes back there. ``--arms 0`` runs the runners anywhere (a cluster without robots, or a laptop).
Checkpoints go to ``--out`` every ``--checkpoint-every`` iterations; ``--resume`` continues from
the newest one.
"""

from __future__ import annotations

import argparse
import pathlib

import ray

from rllib_sac_hybrid import HybridSACConfig


def build_config(args: argparse.Namespace) -> HybridSACConfig:
    runners = max(args.arms, 1)
    by_runner = [{f"robot_arm_{i}": 1} for i in range(args.arms)] if args.arms else None
    return (
        HybridSACConfig()
        .environment(args.env)
        .training(async_sampling=True)  # robots step at their own rate while the learner trains
        .env_runners(num_env_runners=runners, custom_resources_by_env_runner=by_runner)
        .learners(num_learners=1 if args.gpu else 0, num_gpus_per_learner=1 if args.gpu else 0)
        .fault_tolerance(restart_failed_env_runners=True)
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="rllib_sac_hybrid/SimRobotPickPlace-v0")
    parser.add_argument("--arms", type=int, default=2, help="robot nodes (custom resources robot_arm_0 ...)")
    parser.add_argument("--env-steps", type=int, default=50_000)
    parser.add_argument("--gpu", action="store_true", help="a remote learner on a GPU")
    parser.add_argument("--out", default="checkpoints/hybrid_sac")
    parser.add_argument("--checkpoint-every", type=int, default=10, help="iterations between checkpoints")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    args = parser.parse_args(argv)
    if args.arms < 0 or args.env_steps < 1 or args.checkpoint_every < 1:
        parser.error("--arms must be >= 0, --env-steps and --checkpoint-every >= 1")
    ray.init(ignore_reinit_error=True)  # inside `ray job submit` (RAY_ADDRESS set): joins that cluster
    out = pathlib.Path(args.out).resolve()
    algo = build_config(args).build_algo()
    if args.resume and out.is_dir():
        algo.restore_from_path(str(out))
    try:
        while True:
            result = algo.train()
            steps = result["num_env_steps_sampled_lifetime"]
            runners = result["env_runners"]
            ret, success = runners.get("episode_return_windowed"), runners.get("episode_success_rate_windowed")
            print(f"{steps} env steps | windowed return {ret} | success {success}", flush=True)
            if algo.iteration % args.checkpoint_every == 0 or steps >= args.env_steps:
                algo.save_to_path(str(out))
            if steps >= args.env_steps:
                return result
    finally:
        algo.stop()


if __name__ == "__main__":
    main()
