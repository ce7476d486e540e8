"""A person at the keyboard, played by xdotool on an X display (``tests/test_human_in_the_loop.py``).

Run with DISPLAY set to a display that xdotool can type into, and MUJOCO_GL=egl. Two parts,
printed as one JSON line:

- ``steps``: gym-hil pick-cube with ``human_input="keyboard"``; each step first presses or
  releases keys with xdotool, then steps the env, and records what arrived (the action that ran,
  the intervention flag, the mark, the reward, the episode's end);
- ``training``: one HybridSAC iteration on that env in this process (num_env_runners=0) in which
  the person takes over (Space) and holds the Up arrow at the start of each episode; then what the
  learner holds: the demonstration replay's rows and actions, and the intervention rate metric.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np

import rllib_sac_hybrid.envs  # noqa: F401  (registers the ids)
from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_ID

SETTLE_S = 0.3  # for pynput's listener thread to see an X event


def xdotool(action: str, key: str) -> None:
    """``xdotool key|keydown|keyup``; a right-hand modifier by its keycode: by name, xdotool
    presses Control_R together with its left twin, which pynput then also reports (and xdotool
    reads a one-digit number as a key name, so only these go by keycode)."""
    subprocess.run(["xdotool", action, keycode(key) if key.endswith("_R") else key], check=True, env=os.environ)
    time.sleep(SETTLE_S)


def keycode(key: str) -> str:
    from Xlib import XK, display  # pynput's own X client

    screen = display.Display()
    try:
        return str(screen.keysym_to_keycode(XK.string_to_keysym(key)))
    finally:
        screen.close()


def step_record(env: gym.Env, keys: list[tuple[str, ...]]) -> dict:
    for key in keys:
        xdotool(*key)
    policy_action = np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32)  # the "policy" asks for no motion
    _, reward, terminated, truncated, info = env.step(policy_action)
    teleop = info["teleop_action"]
    return {
        "keys": [" ".join(k) for k in keys],
        "is_intervention": bool(info["is_intervention"]),
        "teleop_action": None if teleop is None else [float(x) for x in teleop],
        "human_mark": info["human_mark"],
        "succeed": bool(info.get("succeed")),
        "reward": float(reward),
        "terminated": bool(terminated),
        "truncated": bool(truncated),
    }


def keyboard_steps() -> list[dict]:
    env = gym.make(GYM_HIL_PICK_CUBE_ID, human_input="keyboard", viewer=False, reward_type="sparse")
    try:
        env.reset(seed=0)
        time.sleep(1.0)  # the listener connects to the display
        rows = [
            step_record(env, []),  # nobody at the keys: the policy's action runs
            step_record(env, [("key", "space"), ("keydown", "Up")]),  # take over, +x
            step_record(env, [("keyup", "Up"), ("keydown", "Left"), ("keydown", "Shift_L")]),  # +y, -z
            step_record(env, [("keyup", "Left"), ("keyup", "Shift_L"), ("keydown", "Control_R")]),  # gripper 2
            step_record(env, [("keyup", "Control_R"), ("keydown", "Control_L")]),  # gripper 0
            step_record(env, [("keyup", "Control_L"), ("key", "space")]),  # hand back
            step_record(env, [("key", "Return")]),  # success mark
        ]
        env.reset(seed=1)
        rows.append(step_record(env, [("key", "Escape")]))  # failure mark
        return rows
    finally:
        env.close()


def training_iteration() -> dict:
    import ray

    from rllib_sac_hybrid import HybridSACConfig

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    config = (
        HybridSACConfig()
        .environment(GYM_HIL_PICK_CUBE_ID, env_config={"human_input": "keyboard", "viewer": False})
        .env_runners(num_env_runners=0, rollout_fragment_length=20)
        .training(
            discrete_action_in_last_dim=True,
            num_random_steps=0,
            train_batch_size_per_learner=16,
            encoder_latent_dim=8,
            actor_hidden_dims=(8,),
            critic_hidden_dims=(8,),
        )  # fmt: skip
        .reporting(min_sample_timesteps_per_iteration=120)  # one whole episode (100 steps) at least
    )
    algo = config.build_algo()
    wrapper = human_wrapper(algo.env_runner.env)
    controller = wrapper.controller
    reset = wrapper.reset

    def take_over() -> None:
        """The person takes over (Space) and holds the Up arrow, and the listener has seen both."""
        deadline = time.monotonic() + 10
        while not (controller.key_states["forward_x"] and controller.should_intervene()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the key presses did not arrive: {controller.key_states}")
            if not controller.key_states["forward_x"]:
                xdotool("keydown", "Up")
            if not controller.should_intervene():
                xdotool("key", "space")

    def reset_and_take_over(**kwargs):
        """A reset lets go of every key; the person takes over again before the first step (in
        step with the env, so that a busy machine does not decide how many steps are theirs)."""
        out = reset(**kwargs)
        take_over()
        return out

    wrapper.reset = reset_and_take_over
    take_over()  # the episode the runner started when it was built
    try:
        result = algo.train()
    finally:
        xdotool("keyup", "Up")
    learner = algo.learner_group._learner
    replay = learner.demo_replay("default_policy")
    demo = replay.sample(min(len(replay), 64)) if replay is not None and len(replay) else None
    out = {
        "env_steps": int(result["num_env_steps_sampled_lifetime"]),
        "demo_rows": 0 if replay is None else len(replay),
        "online_rows": len(learner.replay("default_policy")),
        "intervention_rate": result["env_runners"].get("episode_intervention_rate"),
        "demo_actions": None if demo is None else np.unique(demo.action.numpy(), axis=0).tolist(),
        "demo_gripper": None if demo is None else np.unique(demo.discrete_action.numpy()).tolist(),
    }
    algo.stop()
    ray.shutdown()
    return out


def human_wrapper(env):
    """The ``HumanInTheLoop`` inside a runner's vector env."""
    from rllib_sac_hybrid.envs.gym_hil import HumanInTheLoop

    while not isinstance(env, HumanInTheLoop):
        env = env.envs[0] if hasattr(env, "envs") else env.env
    return env


if __name__ == "__main__":
    parts = sys.argv[1:] or ["steps", "training"]
    print(json.dumps({p: keyboard_steps() if p == "steps" else training_iteration() for p in parts}))
