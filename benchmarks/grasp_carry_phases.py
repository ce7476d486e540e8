"""Where GraspCarry episodes fail: reach, grasp, carry, release, from a saved algorithm.

Runs the checkpoint's module on fresh ``GraspCarry-v0`` episodes, greedy (``forward_inference``)
and exploring (``forward_exploration`` with the epsilon of env step ``--explore-at``), and counts
per 100 episodes how far each got:

- reached: the open or closed gripper came within the grasp radius of the free object;
- close on closed: steps near the object on which it commanded "close" with the gripper already
  closed and empty (a no-op: the gripper must open first);
- grasped, drops (releases away from the goal), at goal (held within the goal radius), success;
- not opened at goal: steps on which it held the object within the goal radius and did not
  command "open" (the greedy policy can stall there: opening now and opening next step differ
  by (1 - gamma) of the place bonus);
- arm to object, arm to goal: the mean cosine between the commanded motion and the direction it
  should take (to the free object; to the goal while holding), over steps more than a grasp
  radius away: 1 heads straight there, 0 is blind, < 0 moves away.

Then the critic is probed on each run's free steps: min over heads of Q(s, a) for 16
unit directions a of the arm (no gripper), and reports the cosine of the best one with the
direction to the object and with the outward direction (from the workspace centre to the gripper),
and the spread max - min of the 16 values (one step's shaping differs by at most 0.02 between
opposite directions).

The same rollout probes the discrete critic: where the run dropped the
object, Q(open) - Q(stay) and the distance to the goal; how often "open" is its argmax while the
object is held within the goal radius; and its value of held steps away from the goal, of free
steps before the first grasp and of free steps after a drop. Then, on the held steps binned by the
object's distance to the goal in goal radii (inside, 1-1.5, 1.5-2, beyond), how often the policy
commanded "open" and the mean Q(open) - Q(stay): a critic that has smoothed the step at the goal
radius opens just outside it.

``--env-config`` passes the env settings the run trained with (e.g. ``observe_grasped=True``).

    python benchmarks/learning.py --task grasp-carry --max-env-steps 15000 --save
    python benchmarks/grasp_carry_phases.py benchmarks/results/checkpoints/grasp-carry_defaults_seed0
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rllib_sac_hybrid.cli import key_values
from rllib_sac_hybrid.envs.grasp_carry import CLOSE, OPEN, STAY, GraspCarryEnv
from rllib_sac_hybrid.robot.checkpoints import load_module
from rllib_sac_hybrid.runtime.evaluation import EVALUATION_SEED_OFFSET, single_action

COUNTS = ("reached", "close on closed", "grasped", "drops", "at goal", "not opened at goal", "success")
COLUMNS = COUNTS + ("arm to object", "arm to goal")
HELD_BINS = (1.0, 1.5, 2.0)  # the held object's distance to the goal, in goal radii: bins' upper edges


def _cosine(motion: np.ndarray, direction: np.ndarray) -> float:
    return float(motion @ direction / (np.linalg.norm(motion) * np.linalg.norm(direction) + 1e-9))


def phases(act, episodes: int, seed: int, env_config: dict | None = None) -> dict[str, float]:
    """Counts per 100 episodes of the policy ``act`` (a batch -> actions forward), and the arm's
    mean cosine to the object (free) and to the goal (holding)."""
    env = GraspCarryEnv(**(env_config or {}))
    totals = dict.fromkeys(COUNTS, 0)
    cosines: dict[str, list[float]] = {"arm to object": [], "arm to goal": []}
    for episode in range(episodes):
        obs, _ = env.reset(seed=EVALUATION_SEED_OFFSET + seed + episode)
        reached = at_goal = False
        while True:
            action = single_action(act, obs)
            command, holding = int(action[1]), env._holding
            target = (env._goal - env._object) if holding else (env._object - env._gripper)
            if np.linalg.norm(target) > env.grasp_radius:
                cosines["arm to goal" if holding else "arm to object"].append(_cosine(np.asarray(action[0]), target))
            near = np.linalg.norm(env._gripper - env._object) <= env.grasp_radius
            if not holding and near:
                reached = True
                totals["close on closed"] += command == CLOSE and env._closed
            if holding and np.linalg.norm(env._goal - env._object) <= env.goal_radius:
                at_goal = True
                totals["not opened at goal"] += command != OPEN
            obs, _, terminated, truncated, info = env.step(action)
            totals["drops"] += holding and command == OPEN and not info["is_success"]
            if terminated or truncated:
                break
        totals["reached"] += reached
        totals["grasped"] += env._grasped_once
        totals["at goal"] += at_goal
        totals["success"] += info["is_success"]
    out = {k: 100.0 * v / episodes for k, v in totals.items()}
    return out | {k: float(np.mean(v)) if v else float("nan") for k, v in cosines.items()}


def critic_probe(
    module, act, episodes: int, seed: int, env_config: dict | None = None
) -> tuple[dict, dict, list[tuple[str, int, float, float]]]:
    """One rollout of the policy ``act``, probing both critics on its steps.

    The arm critic, on free steps: where its best of 16 arm directions points. The discrete
    critic: where the run dropped the object (Q(open) - Q(stay) and the distance to the goal),
    how often "open" is its argmax while the object is held within the goal radius, and its value
    max_k Q_d(s)_k of held steps away from the goal, of free steps before the episode's first
    grasp and of free steps after a drop (the first-grasp bonus, unless ``observe_grasped``,
    makes the last two look alike)."""
    env = GraspCarryEnv(**(env_config or {}))
    angles = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    arm = []
    discrete: dict[str, list[float]] = {k: [] for k in ("gap", "distance", "open_at_goal", "held", "before", "after")}
    held_bins: list[list[tuple[float, float]]] = [[] for _ in range(len(HELD_BINS) + 1)]
    for episode in range(episodes):
        obs, _ = env.reset(seed=EVALUATION_SEED_OFFSET + seed + episode)
        while True:
            action = single_action(act, obs)
            with torch.no_grad():
                latent = module.encode(module.normalize(torch.as_tensor(obs)[None]))
                arm_now = module.layout.normalize(torch.as_tensor(module.layout.split_one(action)[0])[None])
                q_d = module.discrete_q_values(latent, arm_now)[0].numpy()  # arm_now read only if it reads the arm
            to_object = env._object - env._gripper
            to_goal = float(np.linalg.norm(env._goal - env._object))
            if not env._holding and np.linalg.norm(to_object) > env.grasp_radius:
                with torch.no_grad():
                    q = module.q_values(latent.repeat(16, 1), torch.as_tensor(directions)).min(dim=0).values.numpy()
                best = directions[q.argmax()]
                outward = _cosine(best, env._gripper) if np.linalg.norm(env._gripper) > 0.1 else np.nan
                arm.append((_cosine(best, to_object), outward, q.max() - q.min()))
            if env._holding:
                held_bins[int(np.searchsorted(HELD_BINS, to_goal / env.goal_radius))].append(
                    (float(int(action[1]) == OPEN), float(q_d[OPEN] - q_d[STAY]))
                )
            if env._holding and to_goal <= env.goal_radius:
                discrete["open_at_goal"].append(float(q_d.argmax() == OPEN))
            elif env._holding:
                discrete["held"].append(float(q_d.max()))
                if int(action[1]) == OPEN:
                    discrete["gap"].append(float(q_d[OPEN] - q_d[STAY]))
                    discrete["distance"].append(to_goal)
            else:
                discrete["after" if env._grasped_once else "before"].append(float(q_d.max()))
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
    to_object, outward, spread = np.nanmean(np.array(arm), axis=0)
    means = {k: float(np.mean(v)) if v else float("nan") for k, v in discrete.items()}
    edges = (0.0, *HELD_BINS, np.inf)
    by_distance = [
        (f"{low:g}-{high:g}", len(rows), *(np.mean(rows, axis=0) if rows else (np.nan, np.nan)))
        for low, high, rows in zip(edges[:-1], edges[1:], held_bins)
    ]
    return (
        {"best to object": to_object, "best outward": outward, "spread": spread},
        {
            "drops' Q(open) - Q(stay)": means["gap"],
            "drops' distance to goal": means["distance"],
            "prefers open at goal": means["open_at_goal"],
            "V held away from goal": means["held"],
            "V free before first grasp": means["before"],
            "V free after a drop": means["after"],
        },
        by_distance,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="an Algorithm checkpoint directory of a GraspCarry-v0 run")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--explore-at", type=int, nargs="*", default=[15_000],
                        help="env steps whose epsilon the exploring rows use")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env-config", nargs="*", default=[], metavar="KEY=VALUE",
                        help="the env settings the run trained with")  # fmt: skip
    args = parser.parse_args(argv)
    env_config = key_values("--env-config", args.env_config, "observe_grasped=True")
    if args.episodes < 1:
        raise ValueError(f"--episodes {args.episodes} is invalid; allowed: an integer >= 1")
    torch.set_num_threads(1)
    module = load_module(args.checkpoint)
    module.eval()
    print(
        f"per 100 episodes ({args.episodes} run); 'close on closed' and 'not opened at goal' count steps, "
        "the rest episodes (drops: events)"
    )
    print(f"{'policy':>22} " + " ".join(f"{name:>15}" for name in COLUMNS))
    rows = [("greedy", module.forward_inference)]
    for t in args.explore_at:
        rows.append((f"exploring (eps {module.epsilon(t):.3f})", lambda b, t=t: module.forward_exploration(b, t=t)))
    for name, act in rows:
        torch.manual_seed(args.seed)
        counts = phases(act, args.episodes, args.seed, env_config)
        cells = [f"{counts[k]:>15.0f}" for k in COUNTS] + [f"{counts[k]:>15.2f}" for k in COLUMNS[len(COUNTS) :]]
        print(f"{name:>22} " + " ".join(cells), flush=True)
    for name, act in rows:
        torch.manual_seed(args.seed)
        arm, discrete, by_distance = critic_probe(module, act, args.episodes, args.seed, env_config)
        print(f"critic on the {name} run's free steps: " + ", ".join(f"{k} {v:.3f}" for k, v in arm.items()))
        print(f"discrete critic on the {name} run: " + ", ".join(f"{k} {v:.3f}" for k, v in discrete.items()))
        cells = [f"{label}: {n}, {opened:.2f}, {gap:+.3f}" for label, n, opened, gap in by_distance]
        print(f"held steps of the {name} run by the distance to the goal in goal radii "
              f"(steps, share opened, Q(open) - Q(stay)): " + ", ".join(cells))  # fmt: skip


if __name__ == "__main__":
    main()
