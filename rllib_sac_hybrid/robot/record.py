"""Records demonstration episodes in RLlib's offline episode format (see ``data.demonstrations``).

    python -m rllib_sac_hybrid.robot.record --env rllib_sac_hybrid/PickPlaceSparse-v0 --episodes 20 \
        --out demos/pick_place
    python -m rllib_sac_hybrid.robot.record --env rllib_sac_hybrid/GymHilPickCube-v0 --episodes 20 --out demos/pick_cube
    python -m rllib_sac_hybrid.robot.record --env gym_hil/PandaPickCubeKeyboard-v0 --policy teleop --episodes 5 --out d

Policies:

- ``scripted``: the env's expert - ``scripted_action()`` of the built-in pick-and-place (also
  behind the simulated robot), or a scripted reach-grasp-lift controller for gym-hil's pick-cube;
- ``teleop``: a human at a keyboard, gamepad or leader arm, through an env that keeps the robot
  env contract (gym-hil's ``...Keyboard-v0`` / ``...Gamepad-v0`` envs): the env is stepped with a
  neutral action (no motion, gripper "stay") and the recorded action is the
  ``info["teleop_action"]`` the human gave;
- ``random``: uniform random actions (a baseline, or to test a pipeline);
- ``exported:FILE``: a policy written by ``python -m rllib_sac_hybrid.robot.export`` (TorchScript, or
  ONNX by its ``.onnx`` suffix), greedy, as it runs on the robot: evaluation runs on hardware
  recorded with their success labels, for the demonstration replay or a reward classifier.

``--action-noise SIGMA`` adds Gaussian noise (SIGMA times half of each bound's range) to the
continuous part of a scripted or exported policy's actions, and records what was executed. The
discrete part (a gripper's index) is left alone. The episodes then cover more of the states
around the expert's path, and more of the ways to succeed, as DART (Laskey et al. 2017) does
for demonstrations. A reward classifier needs this: one trained only on a scripted expert's
exact successes misses the policy's less tidy ones.

``--only-successes`` keeps only the episodes whose last info says ``is_success`` / ``succeed``.
The files load with ``HybridSACConfig().training(demonstrations=DIR)`` and with RLlib's own
offline reader (``input_read_episodes=True``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time

import gymnasium as gym
import numpy as np
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

import rllib_sac_hybrid.envs  # noqa: F401  (registers the built-in ids)
from rllib_sac_hybrid.cli import json_object
from rllib_sac_hybrid.data.demonstrations import write_episodes
from rllib_sac_hybrid.envs.experts import Policy, scripted_policy
from rllib_sac_hybrid.robot.export import ExportedPolicy, describe_space
from rllib_sac_hybrid.runtime.callbacks import success_flag

POLICIES = ("scripted", "teleop", "random", "exported:FILE")
EXPORTED = "exported:"


def teleop_policy(env: gym.Env) -> Policy:
    """Steps with a neutral action; the human's command arrives as ``info["teleop_action"]``."""
    neutral = neutral_action(env.action_space)
    return lambda env, obs, info: neutral


def neutral_action(space: gym.Space):
    """Zero motion (clipped into the bounds) and the middle discrete choice ("stay" of close /
    stay / open), also for gym-hil's flat layout, whose last component is that index."""
    if isinstance(space, gym.spaces.Box):
        action = np.clip(np.zeros(space.shape, dtype=space.dtype), space.low, space.high)
        if _gym_hil_layout(space):
            action[-1] = 1
        return action
    if isinstance(space, gym.spaces.Discrete):
        return int(space.start + space.n // 2)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return (space.start + space.nvec // 2).astype(space.dtype)
    if isinstance(space, gym.spaces.MultiBinary):
        return np.zeros(space.shape, dtype=space.dtype)
    if isinstance(space, gym.spaces.Tuple):
        return tuple(neutral_action(sub) for sub in space.spaces)
    if isinstance(space, gym.spaces.Dict):
        return {key: neutral_action(sub) for key, sub in space.spaces.items()}
    return space.sample()


def exported_policy(env: gym.Env, path: str) -> Policy:
    """The greedy policy of an exported file; ValueError when it was exported for other spaces."""
    exported = ExportedPolicy(path)
    for name, space in (("observation", env.observation_space), ("action", env.action_space)):
        if describe_space(space) != exported.metadata[f"{name}_space"]:
            raise ValueError(
                f"--policy exported:{path} was exported for the {name} space "
                f"{exported.metadata[f'{name}_space']}, but the env's is {describe_space(space)}."
            )
    return lambda env, obs, info: exported(obs)


def random_policy(env: gym.Env) -> Policy:
    """Uniform random actions from the env's (seeded) action space."""
    return lambda env, obs, info: env.action_space.sample()


def with_action_noise(act: Policy, space: gym.Space, sigma: float, seed: int) -> Policy:
    """``act`` with N(0, (sigma * half range)^2) added to its continuous components (sigma itself
    where a bound is infinite), clipped to the bounds; discrete parts, and gym-hil's gripper
    index in the last component, unchanged."""
    rng = np.random.default_rng(seed)

    def noisy(action, space: gym.Space):
        if isinstance(space, gym.spaces.Box):
            action = np.asarray(action, dtype=space.dtype).copy()
            continuous = np.ones(space.shape, dtype=bool)
            if _gym_hil_layout(space):
                continuous[-1] = False
            half = (space.high - space.low) / 2.0
            half = np.where(np.isfinite(half), half, 1.0)  # unbounded components: sigma in action units
            action[continuous] += (sigma * half * rng.standard_normal(space.shape))[continuous]
            return np.clip(action, space.low, space.high).astype(space.dtype)
        if isinstance(space, gym.spaces.Tuple):
            return tuple(noisy(a, sub) for a, sub in zip(action, space.spaces))
        if isinstance(space, gym.spaces.Dict):
            return {key: noisy(action[key], sub) for key, sub in space.spaces.items()}
        return action

    return lambda env, obs, info: noisy(act(env, obs, info), space)


def _gym_hil_layout(space: gym.spaces.Box) -> bool:
    """A flat Box whose last component is a discrete index in [0, 2] (LeRobot / gym-hil)."""
    return bool(space.shape and space.shape[0] >= 2 and space.low[-1] == 0 and space.high[-1] == 2)


def record(
    env_id: str,
    episodes: int,
    out: str,
    policy: str = "scripted",
    seed: int = 0,
    env_config: dict | None = None,
    only_successes: bool = False,
    max_attempts: int | None = None,
    action_noise: float = 0.0,
) -> dict:
    """Records ``episodes`` episodes and writes them to ``out``. Returns a summary."""
    if policy not in POLICIES[:-1] and not (policy.startswith(EXPORTED) and len(policy) > len(EXPORTED)):
        raise ValueError(f"--policy={policy!r} is unknown; allowed: {POLICIES}.")
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"--episodes={episodes!r} is invalid; allowed: an integer >= 1.")
    if not (isinstance(action_noise, (int, float)) and 0.0 <= action_noise < float("inf")):
        raise ValueError(f"--action-noise={action_noise!r} is invalid; allowed: a number >= 0.")
    if action_noise and policy in ("teleop", "random"):
        raise ValueError(
            f"--action-noise with --policy {policy}: noise applies to a scripted or exported policy "
            "(a human's actions are recorded as given; random ones need none)."
        )
    env = gym.make(env_id, **(env_config or {}))
    makers = {"scripted": scripted_policy, "teleop": teleop_policy, "random": random_policy}
    act = exported_policy(env, policy[len(EXPORTED) :]) if policy.startswith(EXPORTED) else makers[policy](env)
    if action_noise:
        act = with_action_noise(act, env.action_space, float(action_noise), seed)
    env.action_space.seed(seed)
    kept: list[SingleAgentEpisode] = []
    attempts, successes, steps = 0, 0, 0
    limit = max_attempts or episodes * (20 if only_successes else 1)
    start = time.monotonic()
    try:
        while len(kept) < episodes and attempts < limit:
            episode = _run_episode(env, act, seed + attempts, use_teleop=policy == "teleop")
            episode.id_ = _episode_id(episode, seed + attempts)
            attempts += 1
            success = bool(success_flag(episode.get_infos(-1)))
            successes += int(success)
            if success or not only_successes:
                kept.append(episode)
                steps += len(episode)
            print(
                f"episode {attempts}: {len(episode)} steps, return {episode.get_return():.2f}, "
                f"success {success} ({len(kept)}/{episodes} kept)",
                flush=True,
            )
    finally:
        env.close()
    if len(kept) < episodes:
        raise RuntimeError(
            f"only {len(kept)} of {episodes} episodes succeeded in {attempts} attempts; nothing written."
        )
    write_episodes(kept, out)
    return {
        "env": env_id,
        "policy": policy,
        "action_noise": action_noise,
        "episodes": len(kept),
        "steps": steps,
        "attempts": attempts,
        "success_rate": successes / attempts,
        "seconds": time.monotonic() - start,
        "out": out,
    }


def _episode_id(episode: SingleAgentEpisode, seed: int) -> str:
    """An id fixed by the episode's reset seed and content. The readers order episodes by id (Ray
    Data reads rows in no fixed order), so RLlib's random ids would reorder the demonstration
    replay at each recording and make seeded runs on fresh recordings differ; distinct episodes
    still get distinct ids."""
    content = pickle.dumps((episode.get_observations(), episode.get_actions(), episode.get_rewards()))
    return f"record-{seed:012d}-{hashlib.sha1(content).hexdigest()[:12]}"


def _run_episode(env: gym.Env, act: Policy, seed: int, use_teleop: bool) -> SingleAgentEpisode:
    episode = SingleAgentEpisode(observation_space=env.observation_space, action_space=env.action_space)
    obs, info = env.reset(seed=seed)
    episode.add_env_reset(observation=obs, infos=info)
    while True:
        action = act(env, obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        if use_teleop and info.get("teleop_action") is not None:
            action = info["teleop_action"]  # what the robot executed
        episode.add_env_step(obs, action, float(reward), infos=info, terminated=terminated, truncated=truncated)
        if terminated or truncated:
            return episode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="a gymnasium id, e.g. rllib_sac_hybrid/PickPlaceSparse-v0")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--out", required=True, help="output directory (Parquet files)")
    parser.add_argument("--policy", default="scripted", help=f"one of {POLICIES}")
    parser.add_argument("--seed", type=int, default=0, help="episode i resets with seed + i")
    parser.add_argument("--env-config", default="{}", help="JSON keyword arguments for gym.make")
    parser.add_argument("--only-successes", action="store_true")
    parser.add_argument("--action-noise", type=float, default=0.0, metavar="SIGMA",
                        help="Gaussian noise on continuous actions, in half-ranges (scripted, exported)")  # fmt: skip
    args = parser.parse_args(argv)
    env_config = json_object("--env-config", args.env_config)
    summary = record(
        args.env, args.episodes, args.out, args.policy, args.seed, env_config, args.only_successes,
        action_noise=args.action_noise,
    )  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
