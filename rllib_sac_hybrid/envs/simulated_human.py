"""A simulated human operator for human-in-the-loop RL (HIL-SERL): a scripted expert that takes
over some steps, less and less often as the run goes on, behind the robot env contract.

HIL-SERL's operators watch the robot and take the controls when it goes wrong; early in a run
that is often, later rarely. ``SimulatedHuman`` plays that role with the env's scripted expert
(``envs.experts.scripted_policy``: the built-in tasks' ``scripted_action``, the gym-hil pick-cube
controller) or any ``expert(env, obs, info) -> action``:

- ``trigger="random"``: at each step the policy drives, an intervention starts with probability
  ``intervention_prob * max(0, 1 - steps / decay_steps)`` (``steps``: this env copy's own count,
  so each EnvRunner's env decays on the steps it took) and lasts ``intervention_steps`` steps or
  to the episode's end;
- ``trigger="on_error"``: the human watches the policy and takes over when it goes wrong, as an
  operator does (HG-DAgger's gating): when the policy's action has differed from what the
  expert would do (``action_discrepancy`` >= ``error_threshold``: half the action range by
  default, or another gripper choice) for ``patience`` steps in a row, an intervention starts
  with the same decaying probability. As the policy learns it deviates less, so the human
  takes over less, whatever the schedule;
- on those steps the expert's action is executed instead of the policy's, and the info carries
  ``is_intervention=True`` and ``teleop_action`` (the executed action, env format), which is what
  HybridSAC stores (and copies to its demonstration replay); on the others ``is_intervention``
  is False and ``teleop_action`` None;
- ``intervention_stats()`` gives the steps taken, the steps intervened and the current start
  probability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from rllib_sac_hybrid.envs.experts import scripted_policy

Expert = Callable[[gym.Env, Any, dict], Any]
SIMULATED_HUMAN_SETTINGS = {
    "intervention_prob": 0.05,  # per policy-driven step at the start of the run ...
    "intervention_steps": 10,  # ... an intervention of this many steps begins
    "decay_steps": 5_000,  # the start probability falls linearly to 0 over this many env steps
    "trigger": "random",  # or "on_error": only after the policy strayed from the expert (see the module)
    "error_threshold": 0.5,  # on_error: action_discrepancy at or above this is a wrong step ...
    "patience": 3,  # ... and this many wrong steps in a row make the human take over
}
TRIGGERS = ("random", "on_error")


def action_discrepancy(space: gym.Space, a, b) -> float:
    """How far apart two actions are, in [0, 1]: for Box parts the largest per-component
    difference as a fraction of that component's range (a flat Box's gripper index included),
    for Discrete parts 1 when the choices differ; the largest over a Tuple's or Dict's parts."""
    if isinstance(space, gym.spaces.Box):
        span = np.where(np.isfinite(space.high - space.low), space.high - space.low, 2.0)
        diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) / np.maximum(span, 1e-9)
        return float(np.clip(diff, 0.0, 1.0).max()) if diff.size else 0.0
    if isinstance(space, gym.spaces.Discrete):
        return float(int(a) != int(b))
    if isinstance(space, gym.spaces.Tuple):
        return max(action_discrepancy(sub, x, y) for sub, x, y in zip(space.spaces, a, b))
    if isinstance(space, gym.spaces.Dict):
        return max(action_discrepancy(sub, a[k], b[k]) for k, sub in space.spaces.items())
    raise ValueError(f"action_discrepancy: unsupported action space {space}; allowed: Box, Discrete, Tuple, Dict.")


class SimulatedHuman(gym.Wrapper):
    """A scripted expert that takes over some steps, less often as the run goes on (see the module).

    Args:
        env: the env the human supervises.
        expert: ``expert(env, obs, info) -> action`` in ``env``'s action format; None takes the
            env's scripted expert (``envs.experts.scripted_policy``).
        intervention_prob, intervention_steps, decay_steps, trigger, error_threshold, patience:
            see ``SIMULATED_HUMAN_SETTINGS``.

    Raises:
        ValueError: a setting out of range, or no ``expert`` and the env has no scripted one.
    """

    def __init__(
        self,
        env: gym.Env,
        expert: Expert | None = None,
        intervention_prob: float = SIMULATED_HUMAN_SETTINGS["intervention_prob"],
        intervention_steps: int = SIMULATED_HUMAN_SETTINGS["intervention_steps"],
        decay_steps: int = SIMULATED_HUMAN_SETTINGS["decay_steps"],
        trigger: str = SIMULATED_HUMAN_SETTINGS["trigger"],
        error_threshold: float = SIMULATED_HUMAN_SETTINGS["error_threshold"],
        patience: int = SIMULATED_HUMAN_SETTINGS["patience"],
    ) -> None:
        super().__init__(env)
        if not isinstance(intervention_prob, (int, float)) or not 0.0 <= intervention_prob <= 1.0:
            raise ValueError(f"intervention_prob={intervention_prob!r} is invalid; allowed: a number in [0, 1].")
        if not isinstance(intervention_steps, int) or intervention_steps < 1:
            raise ValueError(f"intervention_steps={intervention_steps!r} is invalid; allowed: an integer >= 1.")
        if not isinstance(decay_steps, int) or decay_steps < 1:
            raise ValueError(f"decay_steps={decay_steps!r} is invalid; allowed: an integer >= 1.")
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger={trigger!r} is unknown; allowed: {TRIGGERS}.")
        if not isinstance(error_threshold, (int, float)) or not 0.0 < error_threshold <= 1.0:
            raise ValueError(f"error_threshold={error_threshold!r} is invalid; allowed: a number in (0, 1].")
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience={patience!r} is invalid; allowed: an integer >= 1.")
        if expert is None:
            expert = scripted_policy(env)
        self.expert = expert
        self.intervention_prob = float(intervention_prob)
        self.intervention_steps = intervention_steps
        self.decay_steps = decay_steps
        self.trigger, self.error_threshold, self.patience = trigger, float(error_threshold), patience
        self._wrong = 0  # on_error: the policy's wrong steps in a row
        self._rng = np.random.default_rng()
        self._obs: Any = None
        self._info: dict = {}
        self._left = 0  # steps left in the current intervention
        self._steps = 0
        self._intervened = 0

    def start_probability(self) -> float:
        """The chance that an intervention starts at the next policy-driven step."""
        return self.intervention_prob * max(0.0, 1.0 - self._steps / self.decay_steps)

    def intervention_stats(self) -> dict[str, float]:
        return {"steps": self._steps, "intervened": self._intervened, "start_probability": self.start_probability()}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._obs, info = self.env.reset(seed=seed, options=options)
        self._info, self._left, self._wrong = dict(info), 0, 0  # a new episode: the human lets go
        return self._obs, self._contract(info, None)

    def step(self, action):
        expert_action = None
        if self._left == 0:
            if self.trigger == "on_error":
                expert_action = self.expert(self.env, self._obs, self._info)
                wrong = action_discrepancy(self.env.action_space, action, expert_action) >= self.error_threshold
                self._wrong = self._wrong + 1 if wrong else 0
                due = self._wrong >= self.patience
            else:
                due = True
            if due and self._rng.random() < self.start_probability():
                self._left, self._wrong = self.intervention_steps, 0
        teleop_action = None
        if self._left > 0:
            self._left -= 1
            self._intervened += 1
            teleop_action = expert_action if expert_action is not None else self.expert(self.env, self._obs, self._info)
        obs, reward, terminated, truncated, info = self.env.step(teleop_action if teleop_action is not None else action)
        self._steps += 1
        self._obs, self._info = obs, dict(info)
        return obs, reward, terminated, truncated, self._contract(info, teleop_action)

    @staticmethod
    def _contract(info: dict, teleop_action) -> dict:
        info = dict(info)
        info["is_intervention"] = teleop_action is not None
        info["teleop_action"] = teleop_action
        return info
