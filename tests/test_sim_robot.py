"""The simulated robot keeps the robot env contract: control rate, info keys, safe stops,
disconnects that raise, interventions, and its own account of idle time."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest

from rllib_sac_hybrid.envs import SIM_ROBOT_ID
from rllib_sac_hybrid.envs.sim_robot import RobotDisconnected, SimulatedRobotEnv


def test_contract_keys_rate_and_idle_account():
    env = gym.make(SIM_ROBOT_ID, control_hz=50.0)
    robot = env.unwrapped
    _, info = env.reset(seed=0)
    assert info["is_intervention"] is False and info["teleop_action"] is None
    start = time.monotonic()
    for _ in range(5):
        _, _, _, _, info = env.step(env.action_space.sample())
        assert {"is_intervention", "teleop_action", "discrete_penalty"} <= set(info)
    assert time.monotonic() - start >= 5 / 50.0  # one control period per step
    time.sleep(0.1)  # the policy is slow: the robot stands still
    env.step(env.action_space.sample())
    stats = robot.robot_stats()
    assert stats["steps"] == 6 and stats["idle_s"] >= 0.1 and 0.3 < stats["idle_fraction"] < 1.0
    env.close()
    assert stats["safe_stops"] == 0 and robot.robot_stats()["safe_stops"] == 1  # close() stops safely


def test_disconnect_raises_after_a_safe_stop_and_reset_reconnects():
    env = SimulatedRobotEnv(control_hz=1000.0, disconnect_every_s=0.01)
    env.reset(seed=1)
    with pytest.raises(RobotDisconnected):
        for _ in range(10_000):
            env.step(env.action_space.sample())
    stats = env.robot_stats()
    assert stats["disconnects"] == 1 and stats["safe_stops"] == 1
    with pytest.raises(RobotDisconnected, match="reset"):  # stays down until reset
        env.step(env.action_space.sample())
    env.reset()
    env.step(env.action_space.sample())


def test_an_intervention_executes_and_reports_the_teleop_action():
    env = SimulatedRobotEnv(control_hz=1000.0, intervention_prob=1.0, intervention_steps=3)
    shadow = SimulatedRobotEnv(control_hz=1000.0)
    env.reset(seed=3)
    shadow.reset(seed=3)
    policy_action = (np.zeros(2, np.float32), 1)  # stay still; the human moves instead
    obs, _, _, _, info = env.step(policy_action)
    assert info["is_intervention"] is True and env.action_space.contains(info["teleop_action"])
    expected, *_ = shadow.step(info["teleop_action"])
    np.testing.assert_array_equal(obs, expected)  # what the robot did is the teleop action
    assert env.robot_stats()["interventions"] == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"control_hz": 0}, "control_hz"),
        ({"latency_jitter_s": -1}, "latency_jitter_s"),
        ({"disconnect_every_s": 0}, "disconnect_every_s"),
        ({"intervention_prob": 2}, "intervention_prob"),
        ({"intervention_steps": 0}, "intervention_steps"),
    ],
)
def test_bad_robot_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=f"{match}=.*allowed"):
        SimulatedRobotEnv(**kwargs)
