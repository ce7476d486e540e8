"""A small, fast pick-and-place task with a hybrid action: arm motion (continuous) + gripper (discrete).

The gripper moves in the plane [-1, 1]^2. To succeed it must move to the object, close the
gripper on it, carry it to the goal and open the gripper there. Object, goal and gripper start
at random positions. Pure numpy, well under a millisecond per step.

Actions (``action_layout``):
    "tuple": Tuple(Box(-1, 1, (2,)), Discrete(3))          - motion, gripper index
    "dict":  Dict(motion=Box(-1, 1, (2,)), gripper=Discrete(3))
    "flat":  Box([-1, -1, 0], [1, 1, 2])                     - LeRobot / gym-hil layout
Gripper index: 0 close, 1 stay, 2 open (as in gym-hil).

Observation (``observation_type``): "state": Box(12) = gripper xy, object xy, goal xy,
object - gripper, goal - object, gripper closed (0/1), holding (0/1). "pixels": a camera view
plus proprioception, Dict(pixels=Box(0, 255, (S, S, 3), uint8), agent_pos=Box(4) = gripper xy,
closed, holding); the top-down image (``image_size`` S, default 64) is drawn with numpy - goal a
green disc, object a red square, gripper a blue ring (filled when closed) - so no GL is needed.

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

from rllib_sac_hybrid.envs.planar import (
    CLOSE,
    OPEN,
    STAY,
    PlanarGripperEnv,
    check_task_settings,
    settings_from_config,
)

__all__ = ["CLOSE", "OPEN", "STAY", "PICK_PLACE_TRAINING", "PickPlaceEnv"]

# The tuned settings that learned this task before the defaults did:
# ``HybridSACConfig().training(**PICK_PLACE_TRAINING)``. ``benchmarks/demos.py`` and
# ``benchmarks/pixels.py`` use them, so that their figures reproduce (docs/research/defaults.md).
PICK_PLACE_TRAINING: dict[str, Any] = {
    "encoder_latent_dim": 64,
    "actor_hidden_dims": (64, 64),
    "critic_hidden_dims": (64, 64),
    "discrete_critic_hidden_dims": (64, 64),
    "utd_ratio": 1,  # 2 cost more compute per success
    "train_batch_size_per_learner": 128,
    "discount": 0.98,
    "temperature_init": 0.05,
    "epsilon_start": 0.3,
    # Random gripper commands cap the success of training episodes: at 2% per step about one
    # 15-step episode in six gets a harmful one. 0.5% keeps that cap well above 80%.
    "epsilon_end": 0.005,
    "epsilon_decay_steps": 5000,
    "num_random_steps": 1000,
}
ACTION_LAYOUTS = ("tuple", "dict", "flat")
REWARD_TYPES = ("dense", "sparse")
OBSERVATION_TYPES = ("state", "pixels")


class PickPlaceEnv(PlanarGripperEnv):
    """Planar pick-and-place with a continuous motion and a discrete gripper command.

    Args:
        reward_type: "dense" or "sparse".
        action_layout: "tuple", "dict" or "flat" (see the module docstring).
        max_episode_steps: steps before truncation.
        step_size: largest move per step (per axis).
        grasp_radius: gripper-object distance within which closing grasps the object.
        goal_radius: object-goal distance within which releasing succeeds.
        gripper_flip_penalty: magnitude of ``info["discrete_penalty"]`` per gripper flip.
        observation_type: "state" or "pixels" (see the module docstring).
        image_size: side of the "pixels" image.
    """

    def __init__(
        self,
        reward_type: str = "dense",
        action_layout: str = "tuple",
        max_episode_steps: int = 30,
        step_size: float = 0.25,
        grasp_radius: float = 0.2,
        goal_radius: float = 0.2,
        gripper_flip_penalty: float = 0.05,
        observation_type: str = "state",
        image_size: int = 64,
        config: dict | None = None,
    ) -> None:
        s = settings_from_config(
            config,
            reward_type=reward_type,
            action_layout=action_layout,
            max_episode_steps=max_episode_steps,
            step_size=step_size,
            grasp_radius=grasp_radius,
            goal_radius=goal_radius,
            gripper_flip_penalty=gripper_flip_penalty,
            observation_type=observation_type,
            image_size=image_size,
        )
        if s["observation_type"] not in OBSERVATION_TYPES:
            raise ValueError(f"observation_type={s['observation_type']!r} is invalid; allowed: {OBSERVATION_TYPES}.")
        if not isinstance(s["image_size"], int) or s["image_size"] < 16:
            raise ValueError(f"image_size={s['image_size']!r} is invalid; allowed: an integer >= 16.")
        check_task_settings(s, REWARD_TYPES, ACTION_LAYOUTS, positive=("step_size",))
        super().__init__(
            s["action_layout"],
            half_width=1.0,
            motion_limit=1.0,
            motion_scale=s["step_size"],
            grasp_radius=s["grasp_radius"],
            goal_radius=s["goal_radius"],
        )
        self.reward_type, self.max_episode_steps, self.step_size = (
            s["reward_type"],
            s["max_episode_steps"],
            s["step_size"],
        )
        self.gripper_flip_penalty = s["gripper_flip_penalty"]
        self.observation_type, self.image_size = s["observation_type"], s["image_size"]
        if self.observation_type == "pixels":
            self.observation_space = gym.spaces.Dict(
                {
                    "pixels": gym.spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8),
                    "agent_pos": gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
                }
            )
            # Pixel centres in world coordinates ([-1, 1], y up), for drawing.
            centres = (np.arange(self.image_size) + 0.5) / self.image_size * 2.0 - 1.0
            self._grid_x, self._grid_y = np.meshgrid(centres, centres[::-1])
        else:
            self.observation_space = gym.spaces.Box(-2.0, 2.0, (12,), np.float32)

    @classmethod
    def _world_settings(cls, state: dict[str, Any]) -> dict[str, Any]:
        return {"half_width": 1.0, "motion_limit": 1.0, "motion_scale": state["step_size"]}

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
        self._move(motion)
        flipped, _, _ = self._actuate(command)
        success = (not self._holding) and np.linalg.norm(self._object - self._goal) <= self.goal_radius and flipped
        reward = self._reward(success)
        info: dict[str, Any] = {
            "is_success": bool(success),
            "discrete_penalty": -self.gripper_flip_penalty if flipped else 0.0,
            "holding": self._holding,
        }
        return self._observation(), reward, bool(success), self._t >= self.max_episode_steps and not success, info

    # ---- internals -----------------------------------------------------------------------------
    def _reward(self, success: bool) -> float:
        if self.reward_type == "sparse":
            return float(success)
        if success:
            return 1.0
        reach = 0.0 if self._holding else 1.0 + np.linalg.norm(self._object - self._gripper)
        return float(-0.1 * (reach + np.linalg.norm(self._goal - self._object)))

    def _observation(self):
        if self.observation_type == "pixels":
            agent = [*self._gripper, float(self._closed), float(self._holding)]
            return {"pixels": self.render_image(), "agent_pos": np.asarray(agent, dtype=np.float32)}
        return np.concatenate(self._state()).astype(np.float32)

    def render_image(self) -> np.ndarray:
        """The top-down camera image (S, S, 3) uint8: goal, object, gripper."""
        image = np.zeros((self.image_size, self.image_size, 3), dtype=np.uint8)
        x, y = self._grid_x, self._grid_y
        goal = np.hypot(x - self._goal[0], y - self._goal[1]) <= self.goal_radius
        image[goal] = (0, 160, 0)
        half = 0.08
        obj = (np.abs(x - self._object[0]) <= half) & (np.abs(y - self._object[1]) <= half)
        image[obj] = (230, 40, 40)
        distance = np.hypot(x - self._gripper[0], y - self._gripper[1])
        gripper = distance <= 0.12 if self._closed else (distance <= 0.12) & (distance >= 0.07)
        image[gripper] = (60, 120, 255)
        return image
