"""LeRobot's datasets in and out: a LeRobotDataset (what LeRobot's ``gym_manipulator`` records,
camera frames as video included) to demonstration episodes for ``demonstrations=``, and our
recordings to a LeRobotDataset.

    # LeRobot -> episodes in RLlib's format, for HybridSACConfig().training(demonstrations="demos/pick_cube")
    python -m rllib_sac_hybrid.robot.lerobot_dataset from-lerobot --root ~/lerobot_data/pick_cube \
        --repo-id local/pick_cube --env rllib_sac_hybrid/GymHilPickCubePixels-v0 --out demos/pick_cube
    # our recordings (python -m rllib_sac_hybrid.robot.record) -> a LeRobotDataset
    python -m rllib_sac_hybrid.robot.lerobot_dataset to-lerobot --episodes demos/pick_cube \
        --env rllib_sac_hybrid/GymHilPickCubePixels-v0 --root out/pick_cube --repo-id local/pick_cube

LeRobot's own package reads and writes the dataset (``robot/lerobot_bridge.py``). LeRobot 0.4
requires ``torch<2.11``, so it usually lives in an environment of its own: pass its interpreter
with ``--lerobot-python`` (or set ``LEROBOT_PYTHON``), and the bridge runs there; where ``lerobot``
imports in this interpreter, it runs in-process. ``make lerobot-env`` builds one in ``.venv-lerobot``.

**How a frame maps to a transition** (LeRobot's convention, as its ``ReplayBuffer`` reads it): frame
t holds the observation o_t, the action a_t taken in it (a person's ``teleop_action`` where they
intervened, as ``gym_manipulator`` records), ``next.reward`` r_t and ``next.done`` (the episode
ended after a_t). The next observation is frame t+1's; the last frame's is not stored in the
format, so reading one back repeats the last observation (the step is terminal unless
``next.truncated`` says the time ran out, and a terminal step is never bootstrapped).

Observation keys (the env's, nested keys joined by "/") map to LeRobot's feature names:
``agent_pos`` (or a plain Box observation) -> ``observation.state``; ``environment_state`` ->
``observation.environment_state``; a camera ``pixels/<name>`` -> ``observation.images.<name>``;
any other key ``k`` -> ``observation.k``. ``--key-map`` overrides any of them. The action is one
flat float vector, the env's Box parts and discrete indices in the space's order (gym-hil's
layout already is). Per step, ``complementary_info.is_intervention``, ``complementary_info.success``
and, where the env reports it, ``complementary_info.discrete_penalty`` (LeRobot's gripper
penalty key) travel with it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym
import numpy as np
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

import rllib_sac_hybrid.envs  # noqa: F401  (registers the built-in ids)
from rllib_sac_hybrid.cli import json_object
from rllib_sac_hybrid.data.demonstrations import read_episodes, write_episodes
from rllib_sac_hybrid.data.transitions import INTERVENTION_KEY, TELEOP_ACTION_KEY
from rllib_sac_hybrid.robot import lerobot_bridge
from rllib_sac_hybrid.runtime.callbacks import success_flag
from rllib_sac_hybrid.spaces import flatten_observation, image_shapes, observation_dims

ACTION, REWARD, DONE, TRUNCATED = "action", "next.reward", "next.done", "next.truncated"
INTERVENTION, SUCCESS, PENALTY = (
    "complementary_info.is_intervention",
    "complementary_info.success",
    "complementary_info.discrete_penalty",
)
PENALTY_INFO_KEY = "discrete_penalty"  # gym-hil's and LeRobot's info key of the gripper penalty
LEROBOT_PYTHON_ENV = "LEROBOT_PYTHON"


# --- Observation keys and actions -----------------------------------------------------------------


def feature_keys(observation_space: gym.Space, key_map: dict[str, str] | None = None) -> dict[str | None, str]:
    """The LeRobot feature name of each observation key (``flatten_observation``'s keys)."""
    images = image_shapes(observation_space)
    names: dict[str | None, str] = {}
    for key in observation_dims(observation_space):  # None for a Box, else "a/b" per leaf
        if key is None:
            names[key] = "observation.image" if key in images else "observation.state"
        elif key in images:
            parts = key.split("/")
            names[key] = "observation.images." + (parts[-1] if parts[0] == "pixels" else ".".join(parts))
        elif key == "agent_pos":
            names[key] = "observation.state"
        else:
            names[key] = "observation." + key.replace("/", ".")
    for key, name in (key_map or {}).items():
        if key not in names:
            raise ValueError(
                f"--key-map: {key!r} is not an observation key of this env; allowed: {sorted(map(str, names))}."
            )
        names[key] = name
    if len(set(names.values())) != len(names):
        raise ValueError(f"--key-map: two observation keys map to one LeRobot feature: {names}.")
    return names


def _action_parts(space: gym.Space) -> list[tuple[str | int | None, gym.Space]]:
    if isinstance(space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
        return [(None, space)]
    if isinstance(space, gym.spaces.Tuple):
        return list(enumerate(space.spaces))
    if isinstance(space, gym.spaces.Dict):
        return list(space.spaces.items())
    raise ValueError(
        f"action_space {space} has no LeRobot action vector; allowed: a Box, Discrete, MultiDiscrete or MultiBinary, "
        "or a Tuple or Dict of them."
    )


def flat_action(action, space: gym.Space) -> np.ndarray:
    """The env's action as LeRobot's flat float32 vector: Box parts flattened, discrete values as floats."""
    out = []
    for key, _ in _action_parts(space):
        value = action if key is None else action[key]
        out.append(np.asarray(value, dtype=np.float32).reshape(-1))
    return np.concatenate(out)


def env_action(vector: np.ndarray, space: gym.Space):
    """The inverse of ``flat_action``."""
    values, at = [], 0
    for _, sub in _action_parts(space):
        size = 1 if isinstance(sub, gym.spaces.Discrete) else int(np.prod(sub.shape))
        part = vector[at : at + size]
        at += size
        if isinstance(sub, gym.spaces.Discrete):
            values.append(np.int64(round(float(part[0]))))
        elif isinstance(sub, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
            values.append(np.rint(part).astype(sub.dtype).reshape(sub.shape))
        else:
            values.append(part.astype(sub.dtype).reshape(sub.shape))
    if at != len(vector):
        raise ValueError(
            f"a LeRobot action of size {len(vector)} does not fit the env's action space {space} (size {at})."
        )
    if not isinstance(space, (gym.spaces.Tuple, gym.spaces.Dict)):
        return values[0]
    if isinstance(space, gym.spaces.Tuple):
        return tuple(values)
    return dict(zip(space.spaces, values))


def action_size(space: gym.Space) -> int:
    return sum(1 if isinstance(s, gym.spaces.Discrete) else int(np.prod(s.shape)) for _, s in _action_parts(space))


# --- Episodes <-> the bridge's numpy folder ---------------------------------------------------------


def _features(observation_space: gym.Space, action_space: gym.Space, names: dict, penalty: bool) -> dict:
    images, dims = image_shapes(observation_space), observation_dims(observation_space)
    features = {}
    for key, name in names.items():
        if key in images:
            features[name] = {"dtype": "video", "shape": list(images[key]), "names": ["height", "width", "channels"]}
        else:
            features[name] = {"dtype": "float32", "shape": [dims[key]], "names": None}
    scalar = {"dtype": "float32", "shape": [1], "names": None}
    flag = {"dtype": "bool", "shape": [1], "names": None}
    features |= {ACTION: {"dtype": "float32", "shape": [action_size(action_space)], "names": None},
                 REWARD: scalar, DONE: flag, TRUNCATED: flag, INTERVENTION: scalar, SUCCESS: scalar}  # fmt: skip
    if penalty:
        features[PENALTY] = scalar
    return features


def episodes_to_interchange(
    episodes: Sequence[SingleAgentEpisode],
    observation_space: gym.Space,
    action_space: gym.Space,
    folder: str | Path,
    fps: int,
    task: str,
    key_map: dict[str, str] | None = None,
) -> None:
    """Writes episodes as the bridge's numpy folder (one frame per env step, LeRobot's convention)."""
    names = feature_keys(observation_space, key_map)
    images = image_shapes(observation_space)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    penalty = any(PENALTY_INFO_KEY in info for e in episodes for info in e.get_infos() if isinstance(info, dict))
    for number, episode in enumerate(episodes):
        steps = len(episode)
        if steps == 0:
            continue
        infos = episode.get_infos()  # T + 1: the reset's, then one per step
        columns: dict[str, list] = {name: [] for name in names.values()}
        for t in range(steps):
            obs = flatten_observation(episode.get_observations(t), observation_space)
            obs = {None: obs} if not isinstance(obs, dict) else obs
            for key, name in names.items():
                value = np.asarray(obs[key])
                columns[name].append(value.astype(np.uint8) if key in images else value.astype(np.float32).reshape(-1))
        actions, intervened, success, penalties = [], [], [], []
        for t in range(steps):
            info = infos[t + 1] if isinstance(infos[t + 1], dict) else {}
            teleop = info.get(TELEOP_ACTION_KEY) if info.get(INTERVENTION_KEY) else None
            actions.append(flat_action(teleop if teleop is not None else episode.get_actions(t), action_space))
            intervened.append([float(bool(info.get(INTERVENTION_KEY)))])
            success.append([float(bool(success_flag(info)))])
            penalties.append([float(info.get(PENALTY_INFO_KEY, 0.0))])
        done = np.zeros((steps, 1), dtype=bool)
        done[-1] = episode.is_terminated or episode.is_truncated
        truncated = np.zeros((steps, 1), dtype=bool)
        truncated[-1] = episode.is_truncated and not episode.is_terminated
        arrays = {name: np.stack(values) for name, values in columns.items()}
        arrays |= {ACTION: np.stack(actions), REWARD: np.asarray(episode.get_rewards(), np.float32).reshape(-1, 1),
                   DONE: done, TRUNCATED: truncated, INTERVENTION: np.asarray(intervened, np.float32),
                   SUCCESS: np.asarray(success, np.float32)}  # fmt: skip
        if penalty:
            arrays[PENALTY] = np.asarray(penalties, np.float32)
        np.savez(folder / f"episode_{number:06d}.npz", **arrays)
    meta = {"fps": fps, "features": _features(observation_space, action_space, names, penalty),
            "tasks": [task] * sum(1 for e in episodes if len(e))}  # fmt: skip
    (folder / lerobot_bridge.META).write_text(json.dumps(meta, indent=1))


def interchange_to_episodes(
    folder: str | Path, observation_space: gym.Space, action_space: gym.Space, key_map: dict[str, str] | None = None
) -> list[SingleAgentEpisode]:
    """The bridge's numpy folder as episodes on the env's spaces.

    Raises:
        ValueError: a feature the env's observations need is missing or has another size, or the
            action does not fit (naming the feature, the dataset's features and ``--key-map``).
    """
    folder = Path(folder)
    meta = json.loads((folder / lerobot_bridge.META).read_text())
    names = feature_keys(observation_space, key_map)
    images = image_shapes(observation_space)
    available = meta["features"]
    sample = flatten_observation(observation_space.sample(), observation_space)
    sample = {None: sample} if not isinstance(sample, dict) else sample
    for key, name in names.items():
        want = list(images[key]) if key in images else [int(np.asarray(sample[key]).size)]
        if name not in available:
            raise ValueError(
                f"the dataset has no feature {name!r} for the env's observation {key or 'Box'!r}; its features: "
                f"{sorted(available)}; allowed: a dataset recorded on this env, or --key-map naming the feature "
                f"of {key or 'Box'!r}."
            )
        have = [int(d) for d in available[name]["shape"]]
        if (have if key in images else [int(np.prod(have))]) != want:
            raise ValueError(f"the dataset's {name!r} has shape {have}; the env's {key or 'Box'!r} needs {want}.")
    if ACTION not in available or int(np.prod(available[ACTION]["shape"])) != action_size(action_space):
        raise ValueError(
            f"the dataset's action has shape {available.get(ACTION, {}).get('shape')}; the env's action space "
            f"{action_space} needs {action_size(action_space)} values."
        )
    episodes = []
    for path in lerobot_bridge.episode_files(folder):
        with np.load(path) as data:
            steps = len(data[ACTION])
            reward = data[REWARD].reshape(-1) if REWARD in data else np.zeros(steps, np.float32)
            done = bool(data[DONE].reshape(-1)[-1]) if DONE in data else True
            truncated = bool(data[TRUNCATED].reshape(-1)[-1]) if TRUNCATED in data else False
            extras = {k: data[k].reshape(-1) for k in (INTERVENTION, SUCCESS, PENALTY) if k in data}

            def observation(t: int):
                flat = {}
                for key, name in names.items():
                    value = data[name][t]
                    flat[key] = value if key in images else value.reshape(sample[key].shape).astype(sample[key].dtype)
                return flat[None] if None in flat else _nest(flat)

            episode = SingleAgentEpisode(observation_space=observation_space, action_space=action_space)
            episode.add_env_reset(observation=observation(0), infos={})
            for t in range(steps):
                action = env_action(data[ACTION][t], action_space)
                info = {}
                if INTERVENTION in extras and extras[INTERVENTION][t] > 0.5:
                    info = {INTERVENTION_KEY: True, TELEOP_ACTION_KEY: action}
                elif INTERVENTION in extras:
                    info = {INTERVENTION_KEY: False}
                if SUCCESS in extras:
                    info["succeed"] = bool(extras[SUCCESS][t] > 0.5)
                if PENALTY in extras:
                    info[PENALTY_INFO_KEY] = float(extras[PENALTY][t])
                last = t == steps - 1
                episode.add_env_step(
                    observation(min(t + 1, steps - 1)), action, float(reward[t]), infos=info,
                    terminated=last and done and not truncated, truncated=last and (truncated or not done),
                )  # fmt: skip
        episode.id_ = f"lerobot-{path.stem}"
        episodes.append(episode)
    return episodes


def _nest(flat: dict[str, np.ndarray]) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


# --- Running LeRobot's side ------------------------------------------------------------------------


def run_bridge(args: list[str], lerobot_python: str | None = None) -> dict:
    """Runs ``lerobot_bridge`` with ``args``: in ``lerobot_python`` (or ``$LEROBOT_PYTHON``) as a
    script, else in this process where ``lerobot`` imports."""
    python = lerobot_python or os.environ.get(LEROBOT_PYTHON_ENV)
    if python is None:
        if importlib.util.find_spec("lerobot") is None:
            raise RuntimeError(
                "LeRobot's package is not installed here (it requires torch<2.11). Pass the Python of a LeRobot "
                f"environment with --lerobot-python or {LEROBOT_PYTHON_ENV}; `make lerobot-env` builds one in "
                ".venv-lerobot (pip install 'lerobot==0.4.4' 'torch==2.9.1' 'torchvision==0.24.1')."
            )
        return lerobot_bridge.run(args)
    if not Path(python).is_file():
        raise ValueError(f"--lerobot-python={python!r} is not a file; allowed: a Python interpreter with lerobot.")
    done = subprocess.run([python, lerobot_bridge.__file__, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"LeRobot's side failed in {python}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spaces(env_id: str, env_config: dict | None) -> tuple[gym.Space, gym.Space]:
    env = gym.make(env_id, **(env_config or {}))
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def to_lerobot(
    episodes: str | Sequence[str],
    root: str,
    repo_id: str,
    env: str,
    env_config: dict | None = None,
    fps: int = 10,
    task: str | None = None,
    images: str = "video",
    key_map: dict[str, str] | None = None,
    lerobot_python: str | None = None,
) -> dict:
    """Writes recorded episodes (RLlib's format) as a LeRobotDataset at ``root``. ``fps``: the
    env's control rate (gym-hil's is 10); ``images``: "video" (LeRobot's default, lossy AV1) or
    "png" (lossless). Returns LeRobot's side's summary."""
    if images not in lerobot_bridge.IMAGE_STORAGE:
        raise ValueError(f"images={images!r} is invalid; allowed: one of {lerobot_bridge.IMAGE_STORAGE}.")
    if not isinstance(fps, int) or fps < 1:
        raise ValueError(f"fps={fps!r} is invalid; allowed: an integer >= 1 (the env's control rate in Hz).")
    if Path(root).exists():
        raise ValueError(f"root={root!r} exists; allowed: a folder that does not exist yet (LeRobot creates it).")
    observation_space, action_space = _spaces(env, env_config)
    with tempfile.TemporaryDirectory(prefix="lerobot_interchange_") as folder:
        episodes_to_interchange(
            read_episodes(episodes), observation_space, action_space, folder, fps, task or env, key_map
        )
        args = ["to-lerobot", "--interchange", folder, "--root", str(root), "--repo-id", repo_id, "--images", images]
        return run_bridge(args, lerobot_python)


def from_lerobot(
    root: str,
    repo_id: str,
    out: str,
    env: str,
    env_config: dict | None = None,
    key_map: dict[str, str] | None = None,
    lerobot_python: str | None = None,
) -> dict:
    """Reads a LeRobotDataset at ``root`` into episodes in RLlib's format at ``out``, on the env's
    spaces (``demonstrations=out`` then loads them). Returns a summary."""
    observation_space, action_space = _spaces(env, env_config)
    with tempfile.TemporaryDirectory(prefix="lerobot_interchange_") as folder:
        summary = run_bridge(
            ["from-lerobot", "--root", str(root), "--repo-id", repo_id, "--interchange", folder], lerobot_python
        )
        episodes = interchange_to_episodes(folder, observation_space, action_space, key_map)
    write_episodes(episodes, out)
    interventions = sum(bool(i.get(INTERVENTION_KEY)) for e in episodes for i in e.get_infos())
    return {**summary, "out": out, "steps": sum(len(e) for e in episodes), "intervention_steps": interventions}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("to-lerobot", "recorded episodes -> a LeRobotDataset"),
        ("from-lerobot", "a LeRobotDataset -> episodes"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--env", required=True, help="the env id the episodes belong to (its spaces)")
        p.add_argument("--env-config", default="{}", help="JSON keyword arguments for gym.make")
        p.add_argument("--root", required=True, help="the LeRobotDataset's folder")
        p.add_argument("--repo-id", required=True, help="the dataset's name, e.g. local/pick_cube")
        p.add_argument("--key-map", default="{}", help='JSON {"observation key": "LeRobot feature"} overrides')
        p.add_argument(
            "--lerobot-python", default=None, help=f"a LeRobot environment's Python (or ${LEROBOT_PYTHON_ENV})"
        )
        if name == "to-lerobot":
            p.add_argument("--episodes", required=True, nargs="+", help="recorded episode directories")
            p.add_argument("--fps", type=int, default=10, help="the env's control rate in Hz")
            p.add_argument("--task", default=None, help="the task's description (default: the env id)")
            p.add_argument("--images", choices=lerobot_bridge.IMAGE_STORAGE, default="video")
        else:
            p.add_argument("--out", required=True, help="the episode directory to write")
    args = parser.parse_args(argv)
    env_config = json_object("--env-config", args.env_config)
    key_map = json_object("--key-map", args.key_map)
    if args.command == "to-lerobot":
        summary = to_lerobot(args.episodes, args.root, args.repo_id, args.env, env_config, args.fps, args.task,
                             args.images, key_map, args.lerobot_python)  # fmt: skip
    else:
        summary = from_lerobot(args.root, args.repo_id, args.out, args.env, env_config, key_map, args.lerobot_python)
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
