"""``HybridSACEnvRunner`` and ``HybridSACMultiAgentEnvRunner``: RLlib's single- and multi-agent
EnvRunners with set torch threads, seeded random actions and, in checkpoints, the state of their
envs and unfinished episodes."""

from __future__ import annotations

import inspect
import logging

import torch
from ray import cloudpickle
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

from rllib_sac_hybrid.robot.reward_classifier import RewardClassifierVectorWrapper
from rllib_sac_hybrid.runtime.rng import rng_state, set_rng_state

logger = logging.getLogger(__name__)

COMPONENT_ENV_STATE = "hybrid_sac_env_state"  # env-runner state key: envs, unfinished episodes, RNG


class _HybridSACRunnerParts:
    """What HybridSAC adds to an RLlib EnvRunner (see ``HybridSACEnvRunner``)."""

    def _seed_action_spaces(self) -> None:
        raise NotImplementedError

    def __init__(self, *, config, **kwargs) -> None:
        if kwargs.get("worker_index", 0) > 0:
            torch.set_num_threads(config.env_runner_torch_threads)
        super().__init__(config=config, **kwargs)

    def make_env(self) -> None:
        super().make_env()
        if self.env is not None and getattr(self.config, "reward_classifier", None) is not None:
            # In this runner's process, on its CPU: one batched forward over the sub-envs a step.
            self.env = RewardClassifierVectorWrapper(
                self.env,
                self.config.reward_classifier,
                threshold=self.config.reward_classifier_threshold,
                mode=self.config.reward_classifier_mode,
                terminate=self.config.reward_classifier_terminates,
            )
        if self.env is not None and self._seed is not None:
            self._seed_action_spaces()

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict:
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self.env is not None and self._check_component(COMPONENT_ENV_STATE, components, not_components):
            state[COMPONENT_ENV_STATE] = self._env_state()
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        env_state = state.get(COMPONENT_ENV_STATE)
        if (
            env_state is not None
            and self.env is not None
            and env_state.get("env") is not None
            # RLlib also pushes the local runner's state into restarted remote runners: an env is
            # only ever restored into the runner it was saved from.
            and env_state.get("worker_index") == self.worker_index
        ):
            self._set_env_state(env_state)

    def _env_state(self) -> dict:
        try:
            env = _pickle_env(self.env)
            episodes = cloudpickle.dumps(
                {
                    "ongoing": self._ongoing_episodes,
                    "ongoing_for_metrics": dict(self._ongoing_episodes_for_metrics),
                    "cached_to_module": self._cached_to_module,
                    "shared_data": self._shared_data,
                }
            )
        except Exception as error:  # e.g. an env holding a hardware handle or a GL context
            logger.warning("HybridSACEnvRunner: env not picklable (%s); a restore starts new episodes.", error)
            env = episodes = None
        return {
            "worker_index": self.worker_index,
            "env": env,
            "episodes": episodes,
            "needs_initial_reset": self._needs_initial_reset,
            "rng": rng_state(),
        }

    def _set_env_state(self, state: dict) -> None:
        episodes = cloudpickle.loads(state["episodes"])
        self.env.close()
        self.env = cloudpickle.loads(state["env"])
        self._needs_initial_reset = state["needs_initial_reset"]
        self._ongoing_episodes = episodes["ongoing"]
        self._ongoing_episodes_for_metrics.clear()
        self._ongoing_episodes_for_metrics.update(episodes["ongoing_for_metrics"])
        self._cached_to_module = episodes["cached_to_module"]
        self._shared_data = episodes["shared_data"]
        set_rng_state(state["rng"])


class HybridSACEnvRunner(_HybridSACRunnerParts, SingleAgentEnvRunner):
    """A ``SingleAgentEnvRunner`` that

    - runs its policy on ``env_runner_torch_threads`` torch threads (remote runners only: the
      local runner lives in the algorithm's process, whose threads the learner setting owns).
      An EnvRunner's forward pass is one small batch per env step: extra intra-op threads only
      add synchronisation and compete with the learner for cores;
    - seeds the env's action space with the runner's seed, so that the uniform random actions of
      the warm-up (``num_random_steps``) repeat in a seeded run (RLlib leaves that space unseeded);
    - puts its envs (pickled, when they can be), its unfinished episodes and its RNG states into
      its checkpoint state, so that a restored run continues the very episodes it was in the
      middle of. Envs that cannot be pickled start fresh episodes after a restore (logged).
    """

    def _seed_action_spaces(self) -> None:
        self.env.action_space.seed(self._seed)


class HybridSACMultiAgentEnvRunner(_HybridSACRunnerParts, MultiAgentEnvRunner):
    """RLlib's ``MultiAgentEnvRunner`` with what ``HybridSACEnvRunner`` adds; each agent's action
    space is seeded (runner seed + the agent's position among the env's possible agents), so that
    the random warm-up repeats. ``HybridSACConfig`` uses it for ``.multi_agent(...)`` configs."""

    def _seed_action_spaces(self) -> None:
        for env in self.env.envs:
            inner = env.unwrapped
            for offset, agent_id in enumerate(inner.possible_agents):
                inner.get_action_space(agent_id).seed(self._seed + offset)


def _pickle_env(env) -> bytes:
    """cloudpickle of a (wrapped) gymnasium vector env. A ``SyncVectorEnv`` keeps the generator
    of env makers it was built from, which cannot be pickled and is not needed after __init__:
    it is left out."""
    inner = env
    while inner is not None and not hasattr(inner, "env_fns"):
        inner = getattr(inner, "env", None)
    makers = getattr(inner, "env_fns", None)
    if makers is not None and inspect.isgenerator(makers):
        inner.env_fns = None
    try:
        return cloudpickle.dumps(env)
    finally:
        if makers is not None and inspect.isgenerator(makers):
            inner.env_fns = makers
