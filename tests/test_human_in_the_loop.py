"""A person at the keyboard in the loop: synthetic key presses on a virtual X display reach the
env's actions and flags, and a training iteration's demonstration replay.

Runs ``tests/keyboard_session.py`` in a subprocess on an Xvfb display that this test starts
(pynput reads the keyboard through X; the subprocess keeps its listener and its Ray apart from
the test workers). Skipped, with the reason, where Xvfb or xdotool is missing or gym-hil is not
installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("keyboard_session.py")

pytestmark = pytest.mark.skipif(importlib.util.find_spec("gym_hil") is None, reason="gym-hil is not installed")
needs_x = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
    reason="no virtual X display: install Debian's xvfb and xdotool (apt-get install xvfb xdotool)",
)


@pytest.fixture(scope="module")
def display():
    """A fresh Xvfb display, its number chosen by Xvfb itself (-displayfd)."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    deadline = time.monotonic() + 20
    number = b""
    with os.fdopen(read, "rb") as pipe:
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        server.kill()
        pytest.skip("Xvfb did not start a display")
    yield f":{number.decode().strip()}"
    server.terminate()
    server.wait(timeout=10)


def session(display: str, part: str, timeout: int) -> dict:
    env = {**os.environ, "DISPLAY": display, "MUJOCO_GL": "egl"}
    env.pop("RAY_ADDRESS", None)  # its own Ray, not the test workers'
    done = subprocess.run([sys.executable, str(SCRIPT), part], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])[part]


@needs_x
def test_keys_arrive_as_actions_flags_and_marks(display):
    idle, forward, left_down, close, open_, handed_back, success, failure = session(display, "steps", 300)
    # Nobody at the keys: the policy's action runs and nothing is flagged.
    assert not idle["is_intervention"] and idle["teleop_action"] is None and idle["human_mark"] is None
    # Space takes over; the arrows and Shift drive x, y, z; the gripper index stays 1 (keep).
    assert forward["is_intervention"] and forward["teleop_action"] == [1.0, 0.0, 0.0, 1.0]
    assert left_down["teleop_action"] == [0.0, 1.0, -1.0, 1.0]
    # Right Ctrl closes the fingers (gym-hil's "open", index 2), left Ctrl opens them (0).
    assert close["teleop_action"][3] == 2.0 and open_["teleop_action"][3] == 0.0
    # Space again hands back to the policy.
    assert not handed_back["is_intervention"] and handed_back["teleop_action"] is None
    # Enter marks a success: reward 1, the episode ends as terminated, not truncated.
    assert success["human_mark"] == "success" and success["succeed"] and success["reward"] == 1.0
    assert success["terminated"] and not success["truncated"]
    # Esc marks a failure: the episode ends, no success, no reward.
    assert failure["human_mark"] == "failure" and not failure["succeed"] and failure["reward"] == 0.0
    assert failure["terminated"]
    for row in (idle, forward, left_down, close, open_, handed_back):
        assert not row["terminated"] and row["human_mark"] is None


@needs_x
def test_interventions_reach_the_demonstration_replay(display):
    out = session(display, "training", 600)
    assert out["env_steps"] >= 100
    # The person took over at each episode's start and held Up, the gripper kept: every step is
    # theirs, stored online and copied to the demonstration replay.
    assert out["demo_rows"] == out["online_rows"] == out["env_steps"]
    assert out["demo_actions"] == [[1.0, 0.0, 0.0]] and out["demo_gripper"] == [1]
    assert out["intervention_rate"] == 1.0


class ScriptedInputs:
    """Stands in for gym-hil's ``InputsControlWrapper``: returns scripted controller readings
    (active, action, marked, success, rerecord), one per step."""

    def __init__(self, env, use_gripper, use_gamepad, controller_config_path):
        self.readings: list[tuple] = []
        self.controller = type("Controller", (), {"reset": lambda self: None, "stop": lambda self: None})()

    def get_gamepad_action(self):
        return self.readings.pop(0)


@pytest.mark.parametrize(
    "marked, success, rerecord, mark, reward",
    [(True, True, False, "success", 1.0), (True, False, False, "failure", 0.0), (True, False, True, "rerecord", 0.0)],
)
def test_marks_end_the_episode_with_the_reward_and_flags(monkeypatch, marked, success, rerecord, mark, reward):
    """Without a display: the wrapper's rules for a person's readings (the gamepad's re-record included)."""
    from rllib_sac_hybrid.envs import gym_hil

    monkeypatch.setattr(gym_hil, "_inputs_control_wrapper", lambda: ScriptedInputs)
    env = gym_hil.make_pick_cube(human_input="gamepad", viewer=False, reward_type="sparse")
    try:
        env.reset(seed=0)
        inputs = human(env)._inputs
        person = np.array([0.0, 1.0, 0.0, 2.0], dtype=np.float32)
        inputs.readings = [(False, person, False, False, False), (True, person, False, False, False),
                           (True, person, marked, success, rerecord)]  # fmt: skip
        policy = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
        _, _, terminated, _, info = env.step(policy)
        assert not info["is_intervention"] and info["teleop_action"] is None and not terminated
        _, _, terminated, _, info = env.step(policy)
        assert info["is_intervention"] and np.array_equal(info["teleop_action"], person) and not terminated
        _, r, terminated, truncated, info = env.step(policy)
        assert info["human_mark"] == mark and info["succeed"] == success
        assert terminated and not truncated and r == reward
    finally:
        env.close()


def human(env):
    from rllib_sac_hybrid.envs.gym_hil import HumanInTheLoop

    while not isinstance(env, HumanInTheLoop):
        env = env.env
    return env
