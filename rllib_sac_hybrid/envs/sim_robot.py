"""A simulated robot that follows the robot env contract: the built-in pick-and-place task behind a
robot link with a fixed control rate, latency jitter, disconnects, safe stops and interventions.

The contract HybridSAC expects of an env that drives hardware (docs/guides/robot.md):

- the gymnasium API; ``step`` applies the command for one control period (``1 / control_hz``)
  and returns the observation after it, so the loop runs at the robot's rate if the caller
  answers at once;
- ``info["is_intervention"]`` (bool): a human took over this step; ``info["teleop_action"]``: the
  command the robot executed instead, in the env's action format; ``info["discrete_penalty"]``
  (float): the gripper penalty of the discrete critic;
- ``close()``, and any exception raised from ``reset`` / ``step``, leave the robot in a safe stop
  (no motion, gripper held) before returning or raising.

The simulation also keeps the robot's own account of its time (``robot_stats()``): the seconds it
executed commands, and the seconds it stood still waiting for the next command (the gap between
one step's return and the next call), from which the idle fraction of a training setup follows.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from rllib_sac_hybrid.envs.pick_place import PickPlaceEnv

ROBOT_SETTINGS = {
    "control_hz": 10.0,  # commands per second
    "latency_jitter_s": 0.0,  # extra delay per step, uniform in [0, latency_jitter_s]
    "disconnect_every_s": None,  # mean seconds of stepping between disconnects (exponential); None: never
    "intervention_prob": 0.0,  # per step, the chance that a human takes over ...
    "intervention_steps": 5,  # ... for this many steps (a scripted expert plays the human)
}


class RobotDisconnected(ConnectionError):
    """The link to the (simulated) robot dropped; the robot is in a safe stop."""


class SimulatedRobotEnv(gym.Env):
    """Pick-and-place behind a simulated robot link (see the module docstring for the contract).

    Args (also read from RLlib's env config dict): ``control_hz``, ``latency_jitter_s``,
    ``disconnect_every_s``, ``intervention_prob``, ``intervention_steps`` (see ``ROBOT_SETTINGS``);
    every other key goes to ``PickPlaceEnv`` (e.g. ``reward_type``, ``action_layout``).
    """

    metadata = {"render_modes": []}

    def __init__(self, config: dict | None = None, **kwargs: Any) -> None:
        super().__init__()
        settings = dict(ROBOT_SETTINGS)
        task_kwargs = {}
        for key, value in {**dict(config or {}), **kwargs}.items():
            (settings if key in ROBOT_SETTINGS else task_kwargs)[key] = value
        _check(settings)
        self.control_hz = float(settings["control_hz"])
        self.latency_jitter_s = float(settings["latency_jitter_s"])
        self.disconnect_every_s = settings["disconnect_every_s"]
        self.intervention_prob = float(settings["intervention_prob"])
        self.intervention_steps = int(settings["intervention_steps"])
        self.task = PickPlaceEnv(**task_kwargs)
        self.observation_space, self.action_space = self.task.observation_space, self.task.action_space
        self._rng = np.random.default_rng()
        self._connected = False
        self._last_return: float | None = None
        self._intervening = 0
        self._stats = {"steps": 0, "busy_s": 0.0, "idle_s": 0.0, "disconnects": 0, "safe_stops": 0, "interventions": 0}

    # ---- gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        try:
            self._connect()
            obs, info = self.task.reset(seed=seed, options=options)
            self._run_period()
        except Exception:
            self.safe_stop()
            raise
        self._intervening = 0
        return obs, self._contract_info(info, teleop_action=None)

    def step(self, action):
        if not self._connected:
            self.safe_stop()
            raise RobotDisconnected("step() on a disconnected robot; call reset() to reconnect.")
        try:
            self._account_idle()
            if self._disconnect_due():
                self._stats["disconnects"] += 1
                raise RobotDisconnected("simulated robot link dropped")
            teleop_action = self._teleop_action()
            obs, reward, terminated, truncated, info = self.task.step(
                teleop_action if teleop_action is not None else action
            )
            self._run_period()
        except Exception:
            self.safe_stop()
            raise
        self._stats["steps"] += 1
        return obs, reward, terminated, truncated, self._contract_info(info, teleop_action)

    def close(self) -> None:
        self.safe_stop()
        super().close()

    # ---- the robot -----------------------------------------------------------------------------
    def safe_stop(self) -> None:
        """No motion, gripper held, link closed: what every failure and ``close()`` end in."""
        if self._connected:
            self._stats["safe_stops"] += 1
        self._connected = False
        self._last_return = None

    def robot_stats(self) -> dict[str, float]:
        """Steps, seconds executing commands (busy) and waiting for them (idle), idle fraction,
        disconnects, safe stops and intervention steps so far."""
        stats = dict(self._stats)
        total = stats["busy_s"] + stats["idle_s"]
        stats["idle_fraction"] = stats["idle_s"] / total if total > 0 else 0.0
        return stats

    def _connect(self) -> None:
        self._connected = True
        self._last_return = None
        self._disconnect_budget = (
            self._rng.exponential(self.disconnect_every_s) if self.disconnect_every_s is not None else np.inf
        )

    def _disconnect_due(self) -> bool:
        self._disconnect_budget -= 1.0 / self.control_hz
        return self._disconnect_budget <= 0

    def _account_idle(self) -> None:
        if self._last_return is not None:
            self._stats["idle_s"] += time.monotonic() - self._last_return

    def _run_period(self) -> None:
        """The command executes for one control period (plus link latency)."""
        period = 1.0 / self.control_hz + (
            self._rng.uniform(0.0, self.latency_jitter_s) if self.latency_jitter_s else 0.0
        )
        time.sleep(period)
        self._stats["busy_s"] += period
        self._last_return = time.monotonic()

    def _teleop_action(self):
        if self._intervening == 0 and self.intervention_prob > 0 and self._rng.random() < self.intervention_prob:
            self._intervening = self.intervention_steps
        if self._intervening == 0:
            return None
        self._intervening -= 1
        self._stats["interventions"] += 1
        return self.task.scripted_action()

    @staticmethod
    def _contract_info(info: dict, teleop_action) -> dict:
        info = dict(info)
        info["is_intervention"] = teleop_action is not None
        info["teleop_action"] = teleop_action
        info.setdefault("discrete_penalty", 0.0)
        return info


def _check(settings: dict) -> None:
    unknown_types = {k: v for k, v in settings.items() if v is not None and not isinstance(v, (int, float))}
    if unknown_types:
        raise ValueError(f"robot settings {unknown_types} are invalid; allowed: numbers (see ROBOT_SETTINGS).")
    if not settings["control_hz"] > 0:
        raise ValueError(f"control_hz={settings['control_hz']!r} is invalid; allowed: a number > 0.")
    if not settings["latency_jitter_s"] >= 0:
        raise ValueError(f"latency_jitter_s={settings['latency_jitter_s']!r} is invalid; allowed: a number >= 0.")
    if settings["disconnect_every_s"] is not None and not settings["disconnect_every_s"] > 0:
        raise ValueError(
            f"disconnect_every_s={settings['disconnect_every_s']!r} is invalid; allowed: None or a number > 0."
        )
    if not 0.0 <= settings["intervention_prob"] <= 1.0:
        raise ValueError(f"intervention_prob={settings['intervention_prob']!r} is invalid; allowed: [0, 1].")
    if not isinstance(settings["intervention_steps"], int) or settings["intervention_steps"] < 1:
        raise ValueError(f"intervention_steps={settings['intervention_steps']!r} is invalid; allowed: an integer >= 1.")
