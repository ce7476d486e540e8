"""Where a gap between greedy and exploring success comes from, from a saved algorithm.

Runs the checkpoint's module on fresh episodes with the arm's std scaled by each ``--std-scales``
value (0: the greedy action ``forward_inference`` takes; 1: the exploring policy's arm, with the
gripper greedy) and prints, per scale, the success rate, the mean episode length, and how many
failed episodes stood still: at least half their steps with every continuous action component
within ``--still`` of the middle of its range (in [-1, 1] units; the middle is "no motion" for
delta actions such as the built-in tasks' and gym-hil's). A policy whose greedy arm stalls where its critic is flat
fails greedy and succeeds sampled; one that relies on staying near its demonstrations fails
more as the scale grows.

On the steps where the arm stood still, the critic is probed: min over heads of Q(s, a) at the
still action and at full motion along each axis (+-1 per component, in [-1, 1] units), and the
norm of dQ/da at the still action. A critic that rises towards some move (gain > 0 on most
steps) while the actor's output stays put says the actor did not follow a weak gradient; a
critic with its maximum at the still action says the critic itself prefers standing.

    python benchmarks/greedy_gap.py benchmarks/results/checkpoints/<run> --env rllib_sac_hybrid/GraspCarry-v0
    python benchmarks/greedy_gap.py <run> --env rllib_sac_hybrid/GymHilPickCube-v0 \
        --env-config reward_type=sparse --std-scales 0 0.5 1 --episodes 30

(``benchmarks/learning.py --save`` writes such checkpoints.)
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MUJOCO_GL", "egl")  # gym-hil: headless rendering, read at mujoco's import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import rllib_sac_hybrid.envs  # noqa: E402, F401  (registers the built-in ids)
from rllib_sac_hybrid.cli import key_values  # noqa: E402
from rllib_sac_hybrid.robot.checkpoints import load_module  # noqa: E402
from rllib_sac_hybrid.runtime.callbacks import success_flag  # noqa: E402
from rllib_sac_hybrid.runtime.evaluation import EVALUATION_SEED_OFFSET, observation_batch, single_action  # noqa: E402


def critic_at(module, obs) -> tuple[float, float]:
    """At a still step: the best axis move's Q gain over the still action, and |dQ/da| there."""
    batch = module.normalize(observation_batch(obs))
    with torch.no_grad():
        latent = module.encode(batch)
        mean, _ = module.actor(module.actor_latent(batch, latent))
    still = torch.tanh(mean)  # (1, A), the greedy continuous action in [-1, 1] units
    dims = still.shape[-1]
    moves = torch.cat([torch.eye(dims), -torch.eye(dims)])  # (2A, A): full motion along each axis
    with torch.no_grad():
        q_moves = module.q_values(latent.expand(2 * dims, -1), moves).min(dim=0).values
    action = still.clone().requires_grad_(True)
    q_still = module.q_values(latent, action).min(dim=0).values.sum()
    (slope,) = torch.autograd.grad(q_still, action)
    return float(q_moves.max() - q_still.detach()), float(slope.norm())


def run(module, env: gym.Env, std_scale: float, episodes: int, still: float, seed: int) -> dict:
    successes, lengths, stood_still, probes = [], [], 0, []
    for episode in range(episodes):
        obs, _ = env.reset(seed=EVALUATION_SEED_OFFSET + seed + episode)
        steps = still_steps = 0
        info: dict = {}
        while True:
            action = single_action(lambda batch: module.act_with_std_scale(batch, std_scale), obs)
            continuous = module.layout.normalize(torch.as_tensor(module.layout.split_one(action)[0])[None])[0]
            if continuous.numel() and bool((continuous.abs() < still).all()):
                still_steps += 1
                if std_scale == 0:
                    probes.append(critic_at(module, obs))
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            if terminated or truncated:
                break
        success = bool(success_flag(info))
        successes.append(success)
        lengths.append(steps)
        stood_still += int(not success and still_steps >= steps / 2)
    gains, slopes = np.array(probes).reshape(-1, 2).T
    return {"success": float(np.mean(successes)), "length": float(np.mean(lengths)),
            "failures": int(episodes - sum(successes)), "stood_still": stood_still, "still_steps": len(probes),
            "gain": gains, "slope": slopes}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="an Algorithm checkpoint directory (algo.save_to_path)")
    parser.add_argument("--env", required=True, help="a registered env id")
    parser.add_argument("--env-config", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--std-scales", nargs="+", type=float, default=[0.0, 0.5, 1.0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--still", type=float, default=0.05, help="|action| below this counts as standing still")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    module = load_module(args.checkpoint)
    module.eval()
    env = gym.make(args.env, **key_values("--env-config", args.env_config, "reward_type=sparse"))
    print(f"{args.env}, {args.episodes} episodes per scale; 'stood still': failed episodes with every arm "
          f"action below {args.still} for at least half their steps")  # fmt: skip
    try:
        for scale in args.std_scales:
            torch.manual_seed(args.seed)
            r = run(module, env, scale, args.episodes, args.still, args.seed)
            print(f"std x{scale:g}: success {r['success']:.2f}, mean length {r['length']:.1f}, "
                  f"{r['failures']} failures, {r['stood_still']} of them stood still", flush=True)  # fmt: skip
            if r["still_steps"]:
                gain, slope = r["gain"], r["slope"]
                print(f"  critic at the {r['still_steps']} still steps: the best axis move gains {np.median(gain):.3f} "
                      f"over standing (median; > 0 on {np.mean(gain > 0):.0%} of them), |dQ/da| median "
                      f"{np.median(slope):.3f}", flush=True)  # fmt: skip
    finally:
        env.close()


if __name__ == "__main__":
    main()
