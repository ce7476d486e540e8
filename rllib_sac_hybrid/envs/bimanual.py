"""A bimanual pick-and-place task: two arms, two grippers, two objects, one goal.

Two grippers move in the plane [-1, 1]^2, each with its own object. To succeed, each gripper
must move to its own object, close on it (closing near the other arm's object grasps nothing),
carry it to the shared goal and open there; the episode succeeds when both objects lie released
within ``goal_radius`` of the goal. Pure numpy, well under a millisecond per step: the built-in
task for action spaces with several discrete parts (ALOHA-style arms, HIL-SERL's dual-arm tasks).

Actions (``action_layout``), gripper indices 0 close, 1 stay, 2 open (as in gym-hil):
    "tuple":          Tuple(Box(-1, 1, (4,)), Discrete(3), Discrete(3))   - both arms' motion
                      (left xy, right xy), left gripper, right gripper
    "dict":           Dict(motion=Box(-1, 1, (4,)), left_gripper=Discrete(3), right_gripper=Discrete(3))
    "multi_discrete": Tuple(Box(-1, 1, (4,)), MultiDiscrete([3, 3]))

Observation: Box(22) = per arm (left, then right) gripper xy, object xy, object - gripper,
goal - object, then goal xy, then per arm gripper closed (0/1) and holding (0/1).

Reward: ``dense``: per step -``shaping_scale`` * sum over arms of (1 + |object - gripper|) while
not holding plus |goal - object|, and +1 on success; ``sparse``: 1 on success, else 0. Success terminates
the episode; ``max_episode_steps`` truncates it. ``info["discrete_penalty"]`` holds one value per
gripper, ``-gripper_flip_penalty`` where that gripper flipped (open <-> closed) this step;
``info["is_success"]`` tells whether the episode succeeded.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rllib_sac_hybrid.envs.planar import CLOSE, OPEN, STAY, check_task_settings, settings_from_config

ACTION_LAYOUTS = ("tuple", "dict", "multi_discrete")
REWARD_TYPES = ("dense", "sparse")
ARMS = ("left", "right")


class BimanualPickPlaceEnv(gym.Env):
    """Two planar grippers, each to pick its own object and release it at a shared goal.

    Args:
        reward_type: "dense" or "sparse".
        action_layout: "tuple", "dict" or "multi_discrete" (see the module docstring).
        max_episode_steps: steps before truncation.
        step_size: largest move per step (per axis).
        grasp_radius: gripper-object distance within which closing grasps the object.
        goal_radius: object-goal distance within which a released object counts.
        gripper_flip_penalty: magnitude of each gripper's ``info["discrete_penalty"]`` per flip.
        shaping_scale: weight of the dense reward's distances.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        reward_type: str = "dense",
        action_layout: str = "tuple",
        max_episode_steps: int = 40,
        step_size: float = 0.25,
        grasp_radius: float = 0.2,
        goal_radius: float = 0.2,
        gripper_flip_penalty: float = 0.05,
        shaping_scale: float = 0.1,
        config: dict | None = None,
    ) -> None:
        super().__init__()
        s = settings_from_config(
            config,
            reward_type=reward_type,
            action_layout=action_layout,
            max_episode_steps=max_episode_steps,
            step_size=step_size,
            grasp_radius=grasp_radius,
            goal_radius=goal_radius,
            gripper_flip_penalty=gripper_flip_penalty,
            shaping_scale=shaping_scale,
        )
        check_task_settings(
            s, REWARD_TYPES, ACTION_LAYOUTS, ("step_size", "grasp_radius", "goal_radius", "shaping_scale")
        )
        self.reward_type, self.action_layout = s["reward_type"], s["action_layout"]
        self.max_episode_steps, self.step_size = s["max_episode_steps"], s["step_size"]
        self.grasp_radius, self.goal_radius = s["grasp_radius"], s["goal_radius"]
        self.gripper_flip_penalty, self.shaping_scale = s["gripper_flip_penalty"], s["shaping_scale"]
        motion = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        if self.action_layout == "tuple":
            self.action_space = gym.spaces.Tuple((motion, gym.spaces.Discrete(3), gym.spaces.Discrete(3)))
        elif self.action_layout == "dict":
            self.action_space = gym.spaces.Dict(
                {"motion": motion, "left_gripper": gym.spaces.Discrete(3), "right_gripper": gym.spaces.Discrete(3)}
            )
        else:
            self.action_space = gym.spaces.Tuple((motion, gym.spaces.MultiDiscrete([3, 3])))
        self.observation_space = gym.spaces.Box(-2.0, 2.0, (22,), np.float32)
        self._grippers = np.zeros((2, 2))
        self._objects = np.zeros((2, 2))
        self._goal = np.zeros(2)
        self._closed = np.zeros(2, dtype=bool)
        self._holding = np.zeros(2, dtype=bool)
        self._t = 0

    # ---- gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        # The left arm starts and finds its object on the left half, the right arm on the right.
        side = np.array([[-1.0], [1.0]])
        self._grippers = np.column_stack([side[:, 0] * rng.uniform(0.1, 0.8, 2), rng.uniform(-0.8, 0.8, 2)])
        self._objects = np.column_stack([side[:, 0] * rng.uniform(0.2, 0.7, 2), rng.uniform(-0.7, 0.7, 2)])
        self._goal = rng.uniform([-0.3, -0.7], [0.3, 0.7])
        self._closed[:] = False
        self._holding[:] = False
        self._t = 0
        return self._observation(), {"is_success": False}

    def step(self, action):
        motion, commands = self._split(action)
        self._t += 1
        limit = 1.0
        self._grippers = np.clip(self._grippers + self.step_size * np.clip(motion, -limit, limit), -1.0, 1.0)
        self._objects[self._holding] = self._grippers[self._holding]
        flipped = np.array([self._actuate(arm, command) for arm, command in enumerate(commands)])
        at_goal = np.linalg.norm(self._objects - self._goal, axis=1) <= self.goal_radius
        success = bool(flipped.any() and not self._holding.any() and at_goal.all())
        info: dict[str, Any] = {
            "is_success": success,
            "discrete_penalty": np.where(flipped, -self.gripper_flip_penalty, 0.0).astype(np.float32),
            "holding": self._holding.copy(),
        }
        truncated = self._t >= self.max_episode_steps and not success
        return self._observation(), self._reward(success), success, truncated, info

    # ---- internals -----------------------------------------------------------------------------
    def _split(self, action) -> tuple[np.ndarray, list[int]]:
        """(motion (2, 2), [left command, right command]) of an action in this env's layout."""
        if self.action_layout == "tuple":
            motion, commands = action[0], [int(action[1]), int(action[2])]
        elif self.action_layout == "dict":
            motion, commands = action["motion"], [int(action["left_gripper"]), int(action["right_gripper"])]
        else:
            motion, commands = action[0], [int(c) for c in np.asarray(action[1]).reshape(-1)]
        return np.asarray(motion, dtype=np.float64).reshape(2, 2), commands

    def _actuate(self, arm: int, command: int) -> bool:
        """Applies one gripper's command; returns whether it flipped. Closing grasps the arm's own
        object when it is within ``grasp_radius`` and no other gripper holds it."""
        if command == CLOSE and not self._closed[arm]:
            self._closed[arm] = True
            near = np.linalg.norm(self._grippers[arm] - self._objects[arm]) <= self.grasp_radius
            self._holding[arm] = bool(near)
            if near:
                self._objects[arm] = self._grippers[arm]
            return True
        if command == OPEN and self._closed[arm]:
            self._closed[arm] = self._holding[arm] = False
            return True
        return False

    def _reward(self, success: bool) -> float:
        if self.reward_type == "sparse":
            return float(success)
        if success:
            return 1.0
        reach = np.where(self._holding, 0.0, 1.0 + np.linalg.norm(self._objects - self._grippers, axis=1))
        carry = np.linalg.norm(self._goal - self._objects, axis=1)
        return float(-self.shaping_scale * (reach + carry).sum())

    def _observation(self) -> np.ndarray:
        arms = [np.concatenate([g, o, o - g, self._goal - o]) for g, o in zip(self._grippers, self._objects)]
        flags = np.column_stack([self._closed, self._holding]).astype(np.float64).reshape(-1)
        return np.concatenate([*arms, self._goal, flags]).astype(np.float32)

    def scripted_action(self):
        """The scripted expert's action in this env's format: each arm reaches its object, closes
        on it, carries it to the goal and opens there, both arms at once."""
        motions, commands = [], []
        for arm in range(2):
            gripper, obj = self._grippers[arm], self._objects[arm]
            if not self._holding[arm]:
                delta = obj - gripper
                at_goal = np.linalg.norm(obj - self._goal) <= 0.5 * self.goal_radius
                near = np.linalg.norm(delta) <= 0.5 * self.grasp_radius
                if at_goal and not self._closed[arm]:  # delivered: wait, open, for the other arm
                    delta, command = np.zeros(2), STAY
                elif near:
                    command = OPEN if self._closed[arm] else CLOSE
                else:
                    command = OPEN if self._closed[arm] else STAY
            else:
                delta = self._goal - obj
                command = OPEN if np.linalg.norm(delta) <= 0.5 * self.goal_radius else STAY
            motions.append(np.clip(delta / self.step_size, -1.0, 1.0))
            commands.append(command)
        motion = np.concatenate(motions).astype(np.float32)
        if self.action_layout == "tuple":
            return motion, commands[0], commands[1]
        if self.action_layout == "dict":
            return {"motion": motion, "left_gripper": commands[0], "right_gripper": commands[1]}
        return motion, np.asarray(commands, dtype=np.int64)
