"""Where GraspCarry episodes fail: reach, grasp, carry, release, from a saved algorithm.

Runs the checkpoint's module on fresh ``GraspCarry-v0`` episodes, greedy (``forward_inference``)
and exploring (``forward_exploration`` with the epsilon of env step ``--explore-at``), and counts
per 100 episodes how far each got:

- reached: the open or closed gripper came within the grasp radius of the free object;
- close on closed: steps near the object on which it commanded "close" with the gripper already
  closed and empty (a no-op: the gripper must open first);
- grasped, drops (releases away from the goal), at goal (held within the goal radius), success.

    python benchmarks/learning.py --task grasp-carry --max-env-steps 15000 --save
    python benchmarks/grasp_carry_phases.py benchmarks/results/checkpoints/grasp-carry_defaults_seed0
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rllib_sac_hybrid.envs.grasp_carry import CLOSE, OPEN, GraspCarryEnv
from rllib_sac_hybrid.evaluation import EVALUATION_SEED_OFFSET, single_action
from rllib_sac_hybrid.export import load_module

COUNTS = ("reached", "close on closed", "grasped", "drops", "at goal", "success")


def phases(act, episodes: int, seed: int) -> dict[str, float]:
    """Counts per 100 episodes of the policy ``act`` (a batch -> actions forward)."""
    env = GraspCarryEnv()
    totals = dict.fromkeys(COUNTS, 0)
    for episode in range(episodes):
        obs, _ = env.reset(seed=EVALUATION_SEED_OFFSET + seed + episode)
        reached = at_goal = False
        while True:
            action = single_action(act, obs)
            command, holding = int(action[1]), env._holding
            near = np.linalg.norm(env._gripper - env._object) <= env.grasp_radius
            if not holding and near:
                reached = True
                totals["close on closed"] += command == CLOSE and env._closed
            if holding and np.linalg.norm(env._goal - env._object) <= env.goal_radius:
                at_goal = True
            obs, _, terminated, truncated, info = env.step(action)
            totals["drops"] += holding and command == OPEN and not info["is_success"]
            if terminated or truncated:
                break
        totals["reached"] += reached
        totals["grasped"] += env._grasped_once
        totals["at goal"] += at_goal
        totals["success"] += info["is_success"]
    return {k: 100.0 * v / episodes for k, v in totals.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="an Algorithm checkpoint directory of a GraspCarry-v0 run")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--explore-at", type=int, nargs="*", default=[15_000],
                        help="env steps whose epsilon the exploring rows use")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        raise ValueError(f"--episodes {args.episodes} is invalid; allowed: an integer >= 1")
    torch.set_num_threads(1)
    module = load_module(args.checkpoint)
    module.eval()
    print(f"per 100 episodes ({args.episodes} run); 'close on closed' counts steps, the rest episodes (drops: events)")
    print(f"{'policy':>22} " + " ".join(f"{name:>15}" for name in COUNTS))
    rows = [("greedy", module.forward_inference)]
    for t in args.explore_at:
        rows.append((f"exploring (eps {module.epsilon(t):.3f})", lambda b, t=t: module.forward_exploration(b, t=t)))
    for name, act in rows:
        torch.manual_seed(args.seed)
        counts = phases(act, args.episodes, args.seed)
        print(f"{name:>22} " + " ".join(f"{counts[k]:>15.0f}" for k in COUNTS), flush=True)


if __name__ == "__main__":
    main()
