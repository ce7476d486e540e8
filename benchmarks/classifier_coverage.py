"""Does a reward classifier see every kind of success? Recall by where the pixel task's object lands.

The built-in pick-and-place succeeds when the object is released within ``goal_radius`` of the
goal. Its scripted expert always releases within half of that, so a classifier trained on the
expert's successes alone may miss a policy's successes nearer the edge. This script drives the
expert to release at a random distance in [0, 0.98] of the radius, on ``--episodes`` fresh
episodes of ``PickPlacePixels-v0``, and prints the classifier's recall on the success frames by
that distance (at the file's threshold and at 0.5), and its false-positive rate on a sample of
the other frames.

    python benchmarks/classifier_coverage.py clf/classifier.pt --image-size 16
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import torch

import rllib_sac_hybrid.envs as envs
from rllib_sac_hybrid.envs.pick_place import OPEN, STAY
from rllib_sac_hybrid.robot.reward_classifier import load_classifier

RINGS = ((0.0, 0.5), (0.5, 0.75), (0.75, 1.0))  # release distance, in goal radii


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("classifier", help="a file of python -m rllib_sac_hybrid.robot.reward_classifier train")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=50_000, help="episode i resets with seed + i")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        raise ValueError(f"--episodes {args.episodes} is invalid; allowed: an integer >= 1")
    torch.set_num_threads(1)
    env = gym.make(envs.PICK_PLACE_PIXELS_ID, reward_type="sparse", image_size=args.image_size).unwrapped
    classifier = load_classifier(args.classifier, env.observation_space)
    rng = np.random.default_rng(args.seed)
    success_p, distance, other_p = [], [], []
    for episode in range(args.episodes):
        env.reset(seed=args.seed + episode)
        fraction = rng.uniform(0.0, 0.98)
        direction = rng.normal(size=2)
        release_at = env._goal + fraction * env.goal_radius * direction / np.linalg.norm(direction)
        while True:
            motion, command = env.scripted_action()
            if env._holding:  # carry to the chosen release point instead of the goal's centre
                delta = release_at - env._object
                motion = np.clip(delta / env.step_size, -1.0, 1.0).astype(np.float32)
                command = OPEN if np.linalg.norm(delta) < 1e-3 else STAY
            obs, _, terminated, truncated, info = env.step((motion, command))
            p = float(classifier.probability({k: v[None] for k, v in obs.items()})[0])
            if info["is_success"]:
                success_p.append(p)
                distance.append(fraction)
            elif rng.random() < 0.05:
                other_p.append(p)
            if terminated or truncated:
                break
    success_p, distance, other_p = np.array(success_p), np.array(distance), np.array(other_p)
    threshold = classifier.threshold
    print(f"{args.classifier}: {len(success_p)} successes, threshold {threshold:.3f}")
    for low, high in RINGS:
        ring = (distance >= low) & (distance < high)
        print(f"released at {low:.2f}-{high:.2f} of the goal radius ({ring.sum()}): recall "
              f"{np.mean(success_p[ring] >= threshold):.2f} at the threshold, "
              f"{np.mean(success_p[ring] >= 0.5):.2f} at 0.5")  # fmt: skip
    print(f"other frames ({len(other_p)} sampled): false positives {np.mean(other_p >= threshold):.3f} at the "
          f"threshold, {np.mean(other_p >= 0.5):.3f} at 0.5")  # fmt: skip


if __name__ == "__main__":
    main()
