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

**Cameras.** ``image_obs=True`` (or the id ``rllib_sac_hybrid/GymHilPickCubePixels-v0``) observes
what HIL-SERL's policy sees: ``pixels/front`` and ``pixels/wrist``, uint8 (H, W, 3) camera images,
plus ``agent_pos`` (18); the cube's position is then not observed. ``image_size`` sets H = W
(HIL-SERL's is 128; any size from 16 up). ``render_quality`` chooses how MuJoCo draws them:

- ``"full"``: gym-hil's own scene, a 4096-pixel shadow map and 8x multisampling, as LeRobot's
  ``gym_manipulator`` records it. Without a GPU (EGL on Mesa's llvmpipe) drawing takes most of
  a step.
- ``"cpu"``: no shadows (no shadow map, no light casts one) and no multisampling: several times
  faster on a CPU-only machine (measured in ``docs/guides/cameras.md``). The images lose the
  cube's and arm's shadows on the table, which are also a depth cue, and edges are aliased
  (stair-stepped) instead of smoothed. A policy trained on one quality should be run on the
  same one.

**A person in the loop.** ``human_input="keyboard"`` (through pynput) or ``"gamepad"`` (through
pygame) puts gym-hil's ``InputsControlWrapper`` and its controllers on the env, as LeRobot's
``gym_manipulator`` does, with its viewer window (``viewer=False`` leaves it out). The person
takes over (Space, or the gamepad's intervention button), drives the arm, and marks the episode's
end: Enter a success, Esc a failure. ``HumanInTheLoop`` reports what happened in the env's
contract: ``info["is_intervention"]`` and ``info["teleop_action"]`` (the person's action, which is
what ran), ``info["succeed"]`` and ``info["human_mark"]`` ("success", "failure", "rerecord" or None). A success
mark pays reward 1 and ends the episode; a failure mark ends it with the step's own reward. Keys:
``docs/guides/human-in-the-loop.md``.

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
GYM_HIL_PICK_CUBE_PIXELS_ID = "rllib_sac_hybrid/GymHilPickCubePixels-v0"
RENDER_QUALITIES = ("full", "cpu")
HUMAN_INPUTS = ("keyboard", "gamepad")


def make_pick_cube(
    image_size: int = 128,
    render_quality: str = "full",
    human_input: str | None = None,
    viewer: bool | None = None,
    **kwargs,
) -> gym.Env:
    """``gym_hil/PandaPickCube-v0`` with ``image_obs=False`` and ``reset_delay_seconds=0`` by default.

    Keyword arguments go to gym-hil (e.g. ``image_obs=True``, ``gripper_penalty=-0.02``), but
    ``simulated_human``: a dict of ``SimulatedHuman`` settings, True (its defaults) or None;
    ``image_size``: the cameras' height and width; ``render_quality``: "full" or "cpu";
    ``human_input``: None, "keyboard" or "gamepad", a person in the loop; ``viewer``: gym-hil's
    MuJoCo viewer window (default: on with ``human_input``). See the module's docstring.

    Raises:
        ImportError: when gym-hil is not installed, saying how to install it.
        ValueError: for an invalid ``image_size``, ``render_quality``, ``human_input``, ``viewer``
            or ``simulated_human``.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"image_size={image_size!r} is invalid; allowed: an int >= 16 (HIL-SERL uses 128).")
    if render_quality not in RENDER_QUALITIES:
        raise ValueError(f"render_quality={render_quality!r} is invalid; allowed: one of {RENDER_QUALITIES}.")
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; gym-hil creates a renderer regardless
    try:
        import gym_hil  # noqa: F401  (registers gym_hil/* ids)
    except ImportError as err:
        raise ImportError(
            f"{GYM_HIL_PICK_CUBE_ID} needs LeRobot's gym-hil: pip install 'rllib_sac_hybrid[gym-hil]'"
        ) from err
    if human_input not in (None, *HUMAN_INPUTS):
        raise ValueError(f"human_input={human_input!r} is invalid; allowed: None or one of {HUMAN_INPUTS}.")
    if viewer not in (None, True, False):
        raise ValueError(f"viewer={viewer!r} is invalid; allowed: None (on with human_input), True or False.")
    kwargs = {"image_obs": False, "reset_delay_seconds": 0, "random_block_position": True, **kwargs}
    kwargs.pop("config", None)
    human = kwargs.pop("simulated_human", None)
    if not (human is None or isinstance(human, (bool, dict))):
        raise ValueError(f"simulated_human={human!r} is invalid; allowed: None, True or a dict of its settings.")
    if human and human_input is not None:
        raise ValueError(
            f"human_input={human_input!r} and simulated_human={human!r} both drive the arm; allowed: one of them."
        )
    kwargs["use_viewer"] = bool(human_input is not None if viewer is None else viewer)
    kwargs["use_inputs_control"] = False  # HumanInTheLoop below, outside the time limit
    from gym_hil.mujoco_gym_env import GymRenderingSpec

    kwargs.setdefault("render_spec", GymRenderingSpec(height=image_size, width=image_size))
    env = gym.make("gym_hil/PandaPickCube-v0", **kwargs)
    if render_quality == "cpu":
        render_for_cpu(env.unwrapped)
    if kwargs["random_block_position"]:
        env = SeededGlobalNumpyReset(env)
    if human_input is not None:
        env = HumanInTheLoop(env, use_gamepad=human_input == "gamepad")
    if human:
        env = SimulatedHuman(env, expert=gym_hil_pick_cube_expert, **(human if isinstance(human, dict) else {}))
    return env


def render_for_cpu(env: gym.Env) -> None:
    """Redraws a gym-hil env's cameras without shadows or multisampling (``render_quality="cpu"``).

    MuJoCo reads these settings when a renderer is made, so the env's renderer is made again.
    """
    import mujoco

    model = env.unwrapped._model
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0
    model.light_castshadow[:] = 0
    old = env.unwrapped._viewer
    old.close()
    env.unwrapped._viewer = mujoco.Renderer(model, height=old.height, width=old.width)


def _inputs_control_wrapper() -> type:
    from gym_hil.wrappers.hil_wrappers import InputsControlWrapper

    return InputsControlWrapper


class HumanInTheLoop(gym.Wrapper):
    """gym-hil's ``InputsControlWrapper`` (its keyboard or gamepad controller), reporting what the
    person did in the robot env contract that HybridSAC's runners and replay read.

    Each step: while the person intervenes, their action runs instead of the policy's and
    ``info["is_intervention"]`` is True with ``info["teleop_action"]`` that action (the runner's
    transitions store it, and the learner copies those rows to the demonstration replay). A
    success mark ends the episode with reward 1 and ``info["succeed"]=True``; a failure mark ends
    it with ``info["succeed"]=False``, and so does the gamepad's re-record button (LeRobot's
    recorder drops that episode; a training run cannot take back what it learned from, so it
    ends as a failure). ``info["human_mark"]`` says which: "success", "failure" or "rerecord".
    Unlike gym-hil's own
    wrapper, the time limit's truncation stays a truncation (the critic bootstraps through it).
    """

    def __init__(self, env: gym.Env, use_gamepad: bool = False, controller_config_path: str | None = None) -> None:
        super().__init__(env)
        # gym-hil's wrapper, for its controller set-up and input reading; the stepping is ours.
        try:
            self._inputs = _inputs_control_wrapper()(
                env, use_gripper=True, use_gamepad=use_gamepad, controller_config_path=controller_config_path
            )
        except ImportError as err:  # pynput without an X display, or pygame missing
            device = "gamepad (pygame)" if use_gamepad else "keyboard (pynput, which reads an X display)"
            raise RuntimeError(
                f"human_input: the {device} cannot start in this process ({err}). Build the env in the process "
                "that has the person's display and input device: num_env_runners=0, or a runner placed on that "
                "machine (custom_resources_by_env_runner), with DISPLAY set."
            ) from err

    @property
    def controller(self):
        """gym-hil's keyboard or gamepad controller."""
        return self._inputs.controller

    def step(self, action):
        active, human_action, marked, success, rerecord = self._inputs.get_gamepad_action()
        if active:
            action = human_action
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["is_intervention"] = bool(active)
        info["teleop_action"] = np.asarray(human_action, dtype=np.float32) if active else None
        info["human_mark"] = ("success" if success else "rerecord" if rerecord else "failure") if marked else None
        if marked:
            terminated = True
            info["succeed"] = bool(success)
            if success:
                reward = 1.0
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs):
        # As gym-hil's: intervention off, keys up; and a mark pressed between episodes is dropped.
        self._inputs.controller.reset()
        self._inputs.controller.episode_end_status = None
        return self.env.reset(**kwargs)

    def close(self) -> None:
        self._inputs.controller.stop()
        super().close()


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
