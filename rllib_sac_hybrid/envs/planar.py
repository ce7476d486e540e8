"""The planar gripper world both built-in hybrid tasks share: a gripper moving in the plane, an
object it can close on and carry, a goal where it must open; the action layouts, the state
observation and the scripted expert.

``PickPlaceEnv`` (``envs/pick_place.py``) and ``GraspCarryEnv`` (``envs/grasp_carry.py``)
differ in workspace, horizon, motion scale and reward; both subclass ``PlanarGripperEnv``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

CLOSE, STAY, OPEN = 0, 1, 2  # gripper index, as in gym-hil


def settings_from_config(config: dict | None, **settings: Any) -> dict[str, Any]:
    """The keyword settings, each overridden by ``config`` (RLlib passes an EnvContext dict)."""
    return {name: (config or {}).get(name, value) for name, value in settings.items()}


def check_layout(action_layout: str, allowed: tuple[str, ...]) -> None:
    if action_layout not in allowed:
        raise ValueError(f"action_layout={action_layout!r} is invalid; allowed: {allowed}.")


def check_task_settings(
    s: dict[str, Any], reward_types: tuple[str, ...], layouts: tuple[str, ...], positive: tuple[str, ...] = ()
) -> None:
    """The settings every built-in task shares: ``reward_type``, ``action_layout``,
    ``max_episode_steps``, and the named numbers that must be > 0."""
    if s["reward_type"] not in reward_types:
        raise ValueError(f"reward_type={s['reward_type']!r} is invalid; allowed: {reward_types}.")
    check_layout(s["action_layout"], layouts)
    if not isinstance(s["max_episode_steps"], int) or s["max_episode_steps"] < 1:
        raise ValueError(f"max_episode_steps={s['max_episode_steps']!r} is invalid; allowed: an integer >= 1.")
    for name in positive:
        if not s[name] > 0:
            raise ValueError(f"{name}={s[name]!r} is invalid; allowed: a number > 0.")


class PlanarGripperEnv(gym.Env):
    """A gripper in the plane [-half_width, half_width]^2, an object and a goal.

    Subclasses set the spaces, the reward and the episode's end; this class keeps the state,
    moves the gripper, applies the gripper command and gives the scripted expert's action.

    Args:
        action_layout: "tuple": Tuple(Box, Discrete(3)); "dict": Dict(motion=Box,
            gripper=Discrete(3)); "flat": Box(3), LeRobot's layout with the gripper index last.
        half_width: half the workspace's side.
        motion_limit: bound of each motion action component.
        motion_scale: workspace units moved per unit of motion action.
        grasp_radius: gripper-object distance within which closing grasps the object.
        goal_radius: object-goal distance within which releasing succeeds.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        action_layout: str,
        half_width: float,
        motion_limit: float,
        motion_scale: float,
        grasp_radius: float,
        goal_radius: float,
    ) -> None:
        super().__init__()
        for name, value in (("grasp_radius", grasp_radius), ("goal_radius", goal_radius)):
            if not value > 0:
                raise ValueError(f"{name}={value!r} is invalid; allowed: a number > 0.")
        self.action_layout = action_layout
        self.half_width, self.motion_limit, self.motion_scale = half_width, motion_limit, motion_scale
        self.grasp_radius, self.goal_radius = grasp_radius, goal_radius
        self.action_space = self._action_space()
        self._gripper = self._object = self._goal = np.zeros(2)
        self._closed = self._holding = False
        self._t = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        # An env pickled by 0.1.0 (an EnvRunner's state in a checkpoint) lacks the world's settings.
        self.__dict__.update({**self._world_settings(state), **state})

    @classmethod
    def _world_settings(cls, state: dict[str, Any]) -> dict[str, Any]:
        """half_width, motion_limit and motion_scale of a pickled env of this class."""
        raise NotImplementedError

    def _action_space(self) -> gym.Space:
        limit = self.motion_limit
        motion = gym.spaces.Box(-limit, limit, (2,), np.float32)
        if self.action_layout == "tuple":
            return gym.spaces.Tuple((motion, gym.spaces.Discrete(3)))
        if self.action_layout == "dict":
            return gym.spaces.Dict({"motion": motion, "gripper": gym.spaces.Discrete(3)})
        return gym.spaces.Box(np.array([-limit, -limit, 0], np.float32), np.array([limit, limit, 2], np.float32))

    def _split(self, action) -> tuple[np.ndarray, int]:
        """(motion, gripper index) of an action in this env's layout."""
        if self.action_layout == "tuple":
            return np.asarray(action[0], dtype=np.float64), int(action[1])
        if self.action_layout == "dict":
            return np.asarray(action["motion"], dtype=np.float64), int(action["gripper"])
        action = np.asarray(action, dtype=np.float64)
        return action[:2], int(np.clip(np.rint(action[2]), 0, 2))

    def _move(self, motion: np.ndarray) -> None:
        """Moves the gripper (and a held object) by ``motion_scale * motion``, within the workspace."""
        step = self.motion_scale * np.clip(motion, -self.motion_limit, self.motion_limit)
        self._gripper = np.clip(self._gripper + step, -self.half_width, self.half_width)
        if self._holding:
            self._object = self._gripper.copy()

    def _actuate(self, command: int) -> tuple[bool, bool, bool]:
        """Applies a gripper command; returns (flipped, grasped, released): the gripper changed
        state, closing took hold of the object, opening let go of a held object."""
        if command == CLOSE and not self._closed:
            self._closed = True
            self._holding = bool(np.linalg.norm(self._gripper - self._object) <= self.grasp_radius)
            if self._holding:
                self._object = self._gripper.copy()
            return True, self._holding, False
        if command == OPEN and self._closed:
            released = self._holding
            self._closed, self._holding = False, False
            return True, False, released
        return False, False, False

    def _state(self) -> list[np.ndarray | list[float]]:
        """The state observation's parts: gripper xy, object xy, goal xy, object - gripper,
        goal - object, gripper closed (0/1), holding (0/1)."""
        return [
            self._gripper,
            self._object,
            self._goal,
            self._object - self._gripper,
            self._goal - self._object,
            [float(self._closed), float(self._holding)],
        ]

    def scripted_action(self):
        """The scripted expert's action in this env's action format: reach the object, close on
        it, carry it to the goal, open there (for demonstrations and tests)."""
        if not self._holding:
            delta = self._object - self._gripper
            near = np.linalg.norm(delta) <= 0.5 * self.grasp_radius
            command = (OPEN if self._closed else CLOSE) if near else (OPEN if self._closed else STAY)
        else:
            delta = self._goal - self._object
            command = OPEN if np.linalg.norm(delta) <= 0.5 * self.goal_radius else STAY
        motion = np.clip(delta / self.motion_scale, -self.motion_limit, self.motion_limit).astype(np.float32)
        if self.action_layout == "tuple":
            return motion, command
        if self.action_layout == "dict":
            return {"motion": motion, "gripper": command}
        return np.concatenate([motion, [float(command)]]).astype(np.float32)
