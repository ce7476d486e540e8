"""Built-in environments, registered with gymnasium when the package is imported.

- ``rllib_sac_hybrid/PickPlace-v0``: planar pick-and-place, dense reward, Tuple(Box, Discrete) actions.
- ``rllib_sac_hybrid/PickPlaceSparse-v0``: the same with a sparse (success-only) reward.
- ``rllib_sac_hybrid/PickPlacePixels-v0``: dense reward, observed through a 64x64 camera image
  (drawn with numpy) plus the gripper's own state.
- ``rllib_sac_hybrid/GraspCarry-v0``: a second hybrid task of another shape - a larger workspace,
  100-step episodes, Box(-2, 2) motion, rare event rewards (+1 first grasp, +10 release at the
  goal) on small potential shaping (see ``envs/grasp_carry.py``).
- ``rllib_sac_hybrid/BimanualPickPlace-v0``: two arms, two grippers: each gripper picks its own
  object and both release them at one goal; Tuple(Box(4), Discrete(3), Discrete(3)) actions
  (``action_layout="dict"`` or ``"multi_discrete"`` for the other shapes; ``envs/bimanual.py``).
- ``rllib_sac_hybrid/SimRobotPickPlace-v0``: pick-and-place behind a simulated robot link (10 Hz
  control rate, latency jitter, disconnects, safe stops, interventions; see ``envs/sim_robot.py``).
- ``rllib_sac_hybrid/GymHilPickCube-v0``: LeRobot's gym-hil Franka pick-cube with state
  observations (needs the ``gym-hil`` extra; see ``envs/gym_hil.py``); ``simulated_human=``
  puts the scripted controller in the loop as a human operator (``envs/simulated_human.py``).
- ``rllib_sac_hybrid/GymHilPickCubePixels-v0``: the same seen through its front and wrist cameras
  (128x128 by default, ``image_size=``) plus the arm's state; ``render_quality="cpu"`` draws
  them without shadows or multisampling, much faster without a GPU (``docs/guides/cameras.md``).

Both accept ``PickPlaceEnv``'s keyword arguments, e.g. ``action_layout="flat"``.
"""

from __future__ import annotations

import gymnasium as gym

from rllib_sac_hybrid.envs.gym_hil import GYM_HIL_PICK_CUBE_ID, GYM_HIL_PICK_CUBE_PIXELS_ID
from rllib_sac_hybrid.envs.pick_place import PICK_PLACE_TRAINING, PickPlaceEnv

PICK_PLACE_ID = "rllib_sac_hybrid/PickPlace-v0"
PICK_PLACE_SPARSE_ID = "rllib_sac_hybrid/PickPlaceSparse-v0"
PICK_PLACE_PIXELS_ID = "rllib_sac_hybrid/PickPlacePixels-v0"
SIM_ROBOT_ID = "rllib_sac_hybrid/SimRobotPickPlace-v0"
GRASP_CARRY_ID = "rllib_sac_hybrid/GraspCarry-v0"
BIMANUAL_ID = "rllib_sac_hybrid/BimanualPickPlace-v0"


def register_envs() -> None:
    """Registers the built-in envs with gymnasium (idempotent)."""
    entry_point = "rllib_sac_hybrid.envs.pick_place:PickPlaceEnv"
    for env_id, kwargs in (
        (PICK_PLACE_ID, {"reward_type": "dense"}),
        (PICK_PLACE_SPARSE_ID, {"reward_type": "sparse"}),
        (PICK_PLACE_PIXELS_ID, {"reward_type": "dense", "observation_type": "pixels"}),
    ):
        if env_id not in gym.registry:
            # Truncation is the env's own (max_episode_steps kwarg), so no TimeLimit wrapper here.
            gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs, disable_env_checker=True)
    if GRASP_CARRY_ID not in gym.registry:
        gym.register(
            id=GRASP_CARRY_ID, entry_point="rllib_sac_hybrid.envs.grasp_carry:GraspCarryEnv", disable_env_checker=True
        )
    if BIMANUAL_ID not in gym.registry:
        gym.register(
            id=BIMANUAL_ID,
            entry_point="rllib_sac_hybrid.envs.bimanual:BimanualPickPlaceEnv",
            disable_env_checker=True,
        )
    if SIM_ROBOT_ID not in gym.registry:
        gym.register(
            id=SIM_ROBOT_ID, entry_point="rllib_sac_hybrid.envs.sim_robot:SimulatedRobotEnv", disable_env_checker=True
        )
    for env_id, kwargs in ((GYM_HIL_PICK_CUBE_ID, {}), (GYM_HIL_PICK_CUBE_PIXELS_ID, {"image_obs": True})):
        if env_id not in gym.registry:  # gym-hil's own TimeLimit (100 steps) applies inside
            gym.register(
                id=env_id,
                entry_point="rllib_sac_hybrid.envs.gym_hil:make_pick_cube",
                kwargs=kwargs,
                disable_env_checker=True,
            )


register_envs()

__all__ = [
    "BIMANUAL_ID",
    "GRASP_CARRY_ID",
    "GYM_HIL_PICK_CUBE_ID",
    "GYM_HIL_PICK_CUBE_PIXELS_ID",
    "PICK_PLACE_ID",
    "PICK_PLACE_PIXELS_ID",
    "PICK_PLACE_SPARSE_ID",
    "PICK_PLACE_TRAINING",
    "PickPlaceEnv",
    "register_envs",
]
