"""Scripted experts of the built-in tasks and of gym-hil's pick-cube: the policies that record
demonstrations (``robot/record.py``) and play the operator of ``envs/simulated_human.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

Policy = Callable[[gym.Env, Any, dict], Any]  # (env, observation, info) -> action


def scripted_policy(env: gym.Env) -> Policy:
    """The env's scripted expert; ValueError when it has none."""
    inner = env.unwrapped
    task = getattr(inner, "task", inner)  # the simulated robot wraps the pick-and-place task
    if hasattr(task, "scripted_action"):
        return lambda env, obs, info: task.scripted_action()
    if type(inner).__name__ == "PandaPickCubeGymEnv":
        return gym_hil_pick_cube_expert
    raise ValueError(
        f"--policy scripted: {env.spec.id if env.spec else env} has no scripted expert; allowed: the built-in "
        "pick-and-place envs, the simulated robot, gym-hil's pick-cube; or --policy teleop / random."
    )


def gym_hil_pick_cube_expert(env: gym.Env, obs: dict, info: dict) -> np.ndarray:
    """Reach above the cube, descend, close the gripper, lift: gym-hil's flat action
    [dx, dy, dz, gripper] (``GymHilPickCube-v0``). Gripper index 2 raises the 2f85's command
    towards 255, which closes it (gym-hil's gamepad calls that "open"), 0 lowers it, 1 keeps it."""
    tcp = np.asarray(obs["agent_pos"][-3:], dtype=np.float64)
    gripper = float(obs["agent_pos"][-4])  # commanded closure, 0 open .. 255 closed
    # With cameras the cube is not observed; the expert reads it from the simulator.
    cube = np.asarray(
        obs["environment_state"] if "environment_state" in obs else env.unwrapped._data.sensor("block_pos").data,
        dtype=np.float64,
    )
    target, grip = cube.copy(), 1
    above = np.linalg.norm(tcp[:2] - cube[:2]) > 0.01
    if gripper < 200:  # not closed yet: align above, descend, then close
        target[2] = cube[2] + (0.06 if above else 0.0)
        if not above and abs(tcp[2] - cube[2]) < 0.01:
            grip = 2  # gym-hil calls it "open"; it raises the 2f85 command (255 = closed)
    else:  # holding: lift
        target = np.array([cube[0], cube[1], cube[2] + 0.2])
    delta = np.clip((target - tcp) / 0.025, -1.0, 1.0)
    return np.array([*delta, grip], dtype=np.float32)
