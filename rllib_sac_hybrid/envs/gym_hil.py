"""LeRobot's gym-hil MuJoCo Franka tasks, made for HybridSAC (``pip install rllib_sac_hybrid[gym-hil]``).

``rllib_sac_hybrid/GymHilPickCube-v0`` builds ``gym_hil/PandaPickCube-v0`` with state
observations (``agent_pos`` 18 + ``environment_state`` 3), no reset delay and headless EGL
rendering. Its action is gym-hil's flat layout Box([-1,-1,-1,0], [1,1,1,2]) (xyz delta +
gripper index: 2 raises the 2f85 gripper's command towards 255 = closed, 0 lowers it towards
0 = open, 1 keeps it; gym-hil's gamepad names 2 "open" and 0 "close", the reverse of what the
simulated gripper does), so train it with ``discrete_action_in_last_dim=True``;
``info["discrete_penalty"]`` carries the gripper penalty and ``info["succeed"]`` the success.

Train it on ``reward_type="sparse"``: gym-hil's dense reward pays ``0.3 * exp(-20 * dist)`` on
every step near the cube and the episode ends on success, so hovering for the whole episode earns
more than lifting, and that is what a policy trained on it learns.

The cube starts at a random position (``random_block_position=True``, drawn from gym-hil's own
sampling bounds, x in [0.3, 0.5], y in [-0.15, 0.15]), seeded by ``reset(seed=...)``. gym-hil's own
default is a fixed cube at (0.5, 0) with the robot at home: every episode is then the same
episode, a deterministic policy does the same thing in each, and a greedy evaluation over 50
"fresh" episodes is one episode counted 50 times. Pass ``random_block_position=False`` for it.

``simulated_human={...}`` (``SimulatedHuman``'s settings, or ``True`` for its defaults) puts a
simulated operator in the loop: the scripted pick-cube controller takes over some steps, less
often as the run goes on, and reports them as ``info["is_intervention"]`` /
``info["teleop_action"]`` (see ``envs/simulated_human.py``).
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

from rllib_sac_hybrid.envs.experts import gym_hil_pick_cube_expert
from rllib_sac_hybrid.envs.simulated_human import SimulatedHuman

GYM_HIL_PICK_CUBE_ID = "rllib_sac_hybrid/GymHilPickCube-v0"


def make_pick_cube(**kwargs) -> gym.Env:
    """``gym_hil/PandaPickCube-v0`` with ``image_obs=False`` and ``reset_delay_seconds=0`` by default.

    Keyword arguments go to gym-hil (e.g. ``image_obs=True``, ``gripper_penalty=-0.02``), but
    ``simulated_human``: a dict of ``SimulatedHuman`` settings, True (its defaults) or None.

    Raises:
        ImportError: when gym-hil is not installed, saying how to install it.
    """
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; gym-hil creates a renderer regardless
    try:
        import gym_hil  # noqa: F401  (registers gym_hil/* ids)
    except ImportError as err:
        raise ImportError(
            f"{GYM_HIL_PICK_CUBE_ID} needs LeRobot's gym-hil: pip install 'rllib_sac_hybrid[gym-hil]'"
        ) from err
    kwargs = {"image_obs": False, "reset_delay_seconds": 0, "random_block_position": True, **kwargs}
    kwargs.pop("config", None)
    human = kwargs.pop("simulated_human", None)
    if not (human is None or isinstance(human, (bool, dict))):
        raise ValueError(f"simulated_human={human!r} is invalid; allowed: None, True or a dict of its settings.")
    env = gym.make("gym_hil/PandaPickCube-v0", **kwargs)
    if kwargs["random_block_position"]:
        env = SeededGlobalNumpyReset(env)
    if human:
        env = SimulatedHuman(env, expert=gym_hil_pick_cube_expert, **(human if isinstance(human, dict) else {}))
    return env


class SeededGlobalNumpyReset(gym.Wrapper):
    """Makes an env that draws its reset from the global ``np.random`` reproducible.

    gym-hil's pick-cube samples the cube's position with ``np.random.uniform``, not with the
    env's ``np_random``, so ``reset(seed=...)`` does not fix it and two runs of the same seed start
    from different cubes. Around each inner reset this wrapper seeds the global generator from
    its own (seeded by ``reset(seed=...)``, or from OS entropy until then) and restores the
    global state afterwards, so nothing else in the process sees a change.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._reset_rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._reset_rng = np.random.default_rng(seed)
        saved = np.random.get_state()
        np.random.seed(int(self._reset_rng.integers(2**32)))
        try:
            return self.env.reset(seed=seed, options=options)
        finally:
            np.random.set_state(saved)
