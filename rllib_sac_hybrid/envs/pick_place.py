"""A small, fast pick-and-place task with a hybrid action: arm motion (continuous) + gripper (discrete).

The gripper moves in the plane [-1, 1]^2. To succeed it must move to the object, close the
gripper on it, carry it to the goal and open the gripper there. Object, goal and gripper start
at random positions. Pure numpy, well under a millisecond per step.

Actions (``action_layout``):
    "tuple": Tuple(Box(-1, 1, (2,)), Discrete(3))          - motion, gripper index
    "dict":  Dict(motion=Box(-1, 1, (2,)), gripper=Discrete(3))
    "flat":  Box([-1, -1, 0], [1, 1, 2])                     - LeRobot / gym-hil layout
Gripper index: 0 close, 1 stay, 2 open (as in gym-hil).

Observation: Box(12) = gripper xy, object xy, goal xy, object - gripper, goal - object,
gripper closed (0/1), holding (0/1).

Reward: ``sparse``: 1 on success, else 0. ``dense``: a per-step cost
-(1 + |object - gripper|) while not holding, -|goal - object| always, scaled by 0.1, and
+1 on success, so finishing early pays. Success (object released within ``goal_radius`` of
the goal) terminates the episode; ``max_episode_steps`` truncates it.
``info["discrete_penalty"]`` is ``-gripper_flip_penalty`` on each step that flips the gripper
(open <-> closed), 0 otherwise; ``info["is_success"]`` tells whether the episode succeeded.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

CLOSE, STAY, OPEN = 0, 1, 2
ACTION_LAYOUTS = ("tuple", "dict", "flat")
REWARD_TYPES = ("dense", "sparse")


class PickPlaceEnv(gym.Env):
    """Planar pick-and-place with a continuous motion and a discrete gripper command.

    Args:
        reward_type: "dense" or "sparse".
        action_layout: "tuple", "dict" or "flat" (see the module docstring).
        max_episode_steps: steps before truncation.
        step_size: largest move per step (per axis).
        grasp_radius: gripper-object distance within which closing grasps the object.
        goal_radius: object-goal distance within which releasing succeeds.
        gripper_flip_penalty: magnitude of ``info["discrete_penalty"]`` per gripper flip.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        reward_type: str = "dense",
        action_layout: str = "tuple",
        max_episode_steps: int = 30,
        step_size: float = 0.25,
        grasp_radius: float = 0.2,
        goal_radius: float = 0.2,
        gripper_flip_penalty: float = 0.05,
        config: dict | None = None,
    ) -> None:
        super().__init__()
        if config:  # RLlib passes an EnvContext dict
            reward_type = config.get("reward_type", reward_type)
            action_layout = config.get("action_layout", action_layout)
            max_episode_steps = config.get("max_episode_steps", max_episode_steps)
            step_size = config.get("step_size", step_size)
            grasp_radius = config.get("grasp_radius", grasp_radius)
            goal_radius = config.get("goal_radius", goal_radius)
            gripper_flip_penalty = config.get("gripper_flip_penalty", gripper_flip_penalty)
        if reward_type not in REWARD_TYPES:
            raise ValueError(f"reward_type={reward_type!r} is invalid; allowed: {REWARD_TYPES}.")
        if action_layout not in ACTION_LAYOUTS:
            raise ValueError(f"action_layout={action_layout!r} is invalid; allowed: {ACTION_LAYOUTS}.")
        if not isinstance(max_episode_steps, int) or max_episode_steps < 1:
            raise ValueError(f"max_episode_steps={max_episode_steps!r} is invalid; allowed: an integer >= 1.")
        for name, value in (("step_size", step_size), ("grasp_radius", grasp_radius), ("goal_radius", goal_radius)):
            if not value > 0:
                raise ValueError(f"{name}={value!r} is invalid; allowed: a number > 0.")
        self.reward_type, self.action_layout = reward_type, action_layout
        self.max_episode_steps, self.step_size = max_episode_steps, step_size
        self.grasp_radius, self.goal_radius = grasp_radius, goal_radius
        self.gripper_flip_penalty = gripper_flip_penalty

        motion = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        gripper = gym.spaces.Discrete(3)
        if action_layout == "tuple":
            self.action_space = gym.spaces.Tuple((motion, gripper))
        elif action_layout == "dict":
            self.action_space = gym.spaces.Dict({"motion": motion, "gripper": gripper})
        else:
            self.action_space = gym.spaces.Box(
                np.array([-1, -1, 0], np.float32), np.array([1, 1, 2], np.float32), dtype=np.float32
            )
        self.observation_space = gym.spaces.Box(-2.0, 2.0, (12,), np.float32)
        self._gripper = self._object = self._goal = np.zeros(2)
        self._closed = self._holding = False
        self._t = 0

    # ---- gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self._gripper = rng.uniform(-0.8, 0.8, 2)
        self._object = rng.uniform(-0.7, 0.7, 2)
        self._goal = rng.uniform(-0.7, 0.7, 2)
        while np.linalg.norm(self._goal - self._object) < 2 * self.goal_radius:
            self._goal = rng.uniform(-0.7, 0.7, 2)
        self._closed = self._holding = False
        self._t = 0
        return self._observation(), {"is_success": False}

    def step(self, action):
        motion, command = self._split(action)
        self._t += 1
        self._gripper = np.clip(self._gripper + self.step_size * np.clip(motion, -1.0, 1.0), -1.0, 1.0)
        if self._holding:
            self._object = self._gripper.copy()

        flipped = False
        if command == CLOSE and not self._closed:
            self._closed, flipped = True, True
            self._holding = bool(np.linalg.norm(self._gripper - self._object) <= self.grasp_radius)
            if self._holding:
                self._object = self._gripper.copy()
        elif command == OPEN and self._closed:
            self._closed, flipped = False, True
            self._holding = False

        success = (not self._holding) and np.linalg.norm(self._object - self._goal) <= self.goal_radius and flipped
        reward = self._reward(success)
        info: dict[str, Any] = {
            "is_success": bool(success),
            "discrete_penalty": -self.gripper_flip_penalty if flipped else 0.0,
            "holding": self._holding,
        }
        return self._observation(), reward, bool(success), self._t >= self.max_episode_steps and not success, info

    # ---- internals -----------------------------------------------------------------------------
    def _split(self, action) -> tuple[np.ndarray, int]:
        if self.action_layout == "tuple":
            return np.asarray(action[0], dtype=np.float64), int(action[1])
        if self.action_layout == "dict":
            return np.asarray(action["motion"], dtype=np.float64), int(action["gripper"])
        action = np.asarray(action, dtype=np.float64)
        return action[:2], int(np.clip(np.rint(action[2]), 0, 2))

    def _reward(self, success: bool) -> float:
        if self.reward_type == "sparse":
            return float(success)
        if success:
            return 1.0
        reach = 0.0 if self._holding else 1.0 + np.linalg.norm(self._object - self._gripper)
        return float(-0.1 * (reach + np.linalg.norm(self._goal - self._object)))

    def _observation(self) -> np.ndarray:
        return np.concatenate(
            [
                self._gripper,
                self._object,
                self._goal,
                self._object - self._gripper,
                self._goal - self._object,
                [float(self._closed), float(self._holding)],
            ]
        ).astype(np.float32)

    def scripted_action(self):
        """A scripted expert's action in this env's action format (for demos and tests)."""
        if not self._holding:
            delta = self._object - self._gripper
            near = np.linalg.norm(delta) <= 0.5 * self.grasp_radius
            command = (OPEN if self._closed else CLOSE) if near else (OPEN if self._closed else STAY)
        else:
            delta = self._goal - self._object
            command = OPEN if np.linalg.norm(delta) <= 0.5 * self.goal_radius else STAY
        motion = np.clip(delta / self.step_size, -1.0, 1.0).astype(np.float32)
        if self.action_layout == "tuple":
            return motion, command
        if self.action_layout == "dict":
            return {"motion": motion, "gripper": command}
        return np.concatenate([motion, [float(command)]]).astype(np.float32)
