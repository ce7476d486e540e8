"""Runs HybridSAC on a local multi-node Ray cluster and prints what happened as one JSON line.

Run by ``tests/test_cluster.py`` in a subprocess: the test session already has its own Ray
instance, and a cluster needs a process of its own. Nodes:

- ``head``: no CPUs (the driver: algorithm and local EnvRunner);
- ``arm0`` / ``arm1``: 1 CPU and the custom resource ``robot_arm_0`` / ``robot_arm_1`` each;
- ``learner0`` / ``learner1``: 1 CPU each, left for the two learners once the runners took theirs.

Two remote runners drive simulated robots, each pinned to its arm's node with
``custom_resources_by_env_runner``; two learners train data-parallel, asynchronously sampled.
Midway, runner 2's process crashes and Ray restarts it - it must come back on ``arm1``.
"""

from __future__ import annotations

import json
import os
import sys

from ray.rllib.core import DEFAULT_MODULE_ID

NODES = {
    "head": {"num_cpus": 0},
    "arm0": {"num_cpus": 1, "resources": {"robot_arm_0": 1}},
    "arm1": {"num_cpus": 1, "resources": {"robot_arm_1": 1}},
    "learner0": {"num_cpus": 1},
    "learner1": {"num_cpus": 1},
}
MAX_ITERATIONS = 20


def _runner_report(runner) -> dict:
    from rllib_sac_hybrid.runtime.local_cluster import this_node_name

    return {
        "worker_index": runner.worker_index,
        "node": this_node_name(),
        "actor_weight_sum": float(runner.module.actor.mean.weight.sum()),
    }


def _learner_report(learner) -> dict:
    from rllib_sac_hybrid import distributed
    from rllib_sac_hybrid.runtime.local_cluster import this_node_name

    module = learner.module[DEFAULT_MODULE_ID].unwrapped()
    return {
        "rank": distributed.rank(),
        "node": this_node_name(),
        "weights": [float(t.double().sum()) for t in module.state_dict().values()],
        "critic_steps": learner.updater(DEFAULT_MODULE_ID).num_critic_steps,
        "replay_size": len(learner.replay(DEFAULT_MODULE_ID)),
    }


def _crash(runner) -> None:
    os._exit(1)


def main() -> None:
    from rllib_sac_hybrid import HybridSACConfig
    from rllib_sac_hybrid.envs import SIM_ROBOT_ID
    from rllib_sac_hybrid.runtime.local_cluster import local_cluster

    utd = 2
    config = (
        HybridSACConfig()
        .environment(SIM_ROBOT_ID, env_config={"control_hz": 200.0})
        .training(
            encoder_latent_dim=16,
            actor_hidden_dims=(32,),
            critic_hidden_dims=(32,),
            discrete_critic_hidden_dims=(32,),
            utd_ratio=utd,
            train_batch_size_per_learner=32,
            num_random_steps=50,
            async_sampling=True,
        )
        .env_runners(
            num_env_runners=2,
            rollout_fragment_length=4,
            custom_resources_by_env_runner=[{"robot_arm_0": 1}, {"robot_arm_1": 1}],
        )
        .learners(num_learners=2)
        .reporting(min_sample_timesteps_per_iteration=200)
        .debugging(seed=0)
    )
    out: dict = {"iterations": []}
    with local_cluster(NODES):
        algo = config.build_algo()
        try:
            # 2 iterations, crash, then on until runner 2 is back (a restart takes a few seconds).
            for iteration in range(MAX_ITERATIONS):
                if iteration == 2:  # runner 2's process dies; Ray restarts it where its resource is
                    algo.env_runner_group.foreach_env_runner(
                        _crash, remote_worker_ids=[2], local_env_runner=False, timeout_seconds=0
                    )
                result = algo.train()
                out["iterations"].append(
                    {
                        "env_steps": result["num_env_steps_sampled_lifetime"],
                        "replay_size": result["learners"][DEFAULT_MODULE_ID]["replay_size"],
                        "critic_steps": result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"],
                        "runners": algo.env_runner_group.foreach_env_runner(_runner_report, local_env_runner=False),
                        "learners": [r.get() for r in algo.learner_group.foreach_learner(_learner_report)],
                        "restarts": algo.env_runner_group.num_remote_worker_restarts(),
                    }
                )
                back = out["iterations"][-1]["restarts"] > 0 and len(out["iterations"][-1]["runners"]) == 2
                if iteration >= 3 and back:
                    break
        finally:
            algo.stop()
    out["utd_ratio"] = utd
    print("RESULT " + json.dumps(out, default=float), flush=True)


if __name__ == "__main__":
    sys.exit(main())
