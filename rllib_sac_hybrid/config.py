"""``HybridSACConfig``: RLlib's config object with HybridSAC's settings (defined in ``settings.py``),
their validation and the wiring of module, learner and EnvRunners."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.util.debug import log_once

from rllib_sac_hybrid.learner import HybridSACTorchLearner
from rllib_sac_hybrid.module import MODEL_CONFIG_KEYS, RLMODULE_CONFIG_DEPRECATION_KEY, HybridSACTorchRLModule
from rllib_sac_hybrid.presets import preset_settings
from rllib_sac_hybrid.rllib_settings import check_rllib_settings, check_training_names
from rllib_sac_hybrid.runtime.callbacks import EpisodeMetricsCallback
from rllib_sac_hybrid.runtime.env_runner import HybridSACEnvRunner, HybridSACMultiAgentEnvRunner
from rllib_sac_hybrid.settings import (
    DEFAULTS_BEFORE_THE_SETTING,
    HYBRID_SAC_DEFAULTS,
    NON_FINITE_MODES,
    SETTINGS,
    SETTINGS_BY_NAME,
    check_setting,
    docstring_table,
    resolved_bc_pretrain_steps,
    resolved_bc_weight,
    resolved_replay_capacity,
    resolved_target_entropy,
    resolved_utd_ratio,
)
from rllib_sac_hybrid.spaces import ActionLayout, observation_dims

__all__ = ["HYBRID_SAC_DEFAULTS", "NON_FINITE_MODES", "HybridSACConfig"]  # the two constants: older imports


class HybridSACConfig(AlgorithmConfig):
    """Configuration of HybridSAC: SAC with a critic ensemble, subsampled targets and a UTD loop.

    Example:
        >>> from rllib_sac_hybrid import HybridSACConfig
        >>> config = (
        ...     HybridSACConfig()
        ...     .environment("Pendulum-v1")
        ...     .training(num_critics=10, num_subsample_critics=2, utd_ratio=20)
        ... )
        >>> algo = config.build_algo()  # doctest: +SKIP
        >>> algo.train()  # doctest: +SKIP

    Every HybridSAC setting goes through ``.training(...)``; each one's default, allowed values and
    meaning are defined once, in ``rllib_sac_hybrid.settings.SETTINGS`` (listed below at runtime,
    and in the docs' settings reference). Besides them:

    - ``.env_runners(custom_resources_by_env_runner=[{...}, ...])``: one dict of custom Ray
      resources per remote EnvRunner, so that runner i runs on the node that has them (a robot's
      machine); see ``runtime/placement.py``.
    - ``.learners(num_learners=L)``, L > 1: data-parallel learners, each with the whole replay,
      gradients averaged (see ``HybridSACTorchLearner``).
    - ``.preset(name)``: a named recipe (``presets.PRESETS``).
    """

    def __init__(self, algo_class: type | None = None) -> None:
        from rllib_sac_hybrid.algorithm import HybridSAC  # the one loop: algorithm builds on the config

        super().__init__(algo_class=algo_class or HybridSAC)
        for name, default in HYBRID_SAC_DEFAULTS.items():
            setattr(self, name, default)
        # RLlib settings with HybridSAC defaults.
        self.train_batch_size_per_learner = 256
        self.lr = None  # unused: each optimizer has its own lr above
        self.normalize_actions = False  # the module emits env-scaled actions itself
        self.clip_actions = False
        self.rollout_fragment_length = 1  # env steps per runner per round
        self.min_time_s_per_iteration = None
        self.min_sample_timesteps_per_iteration = 1000
        # The windowed metrics (episode_return_windowed, ...) cover the last 10 training episodes,
        # as SB3 and rl-zoo report theirs; RLlib's default of 100 lags far behind a learning curve.
        self.metrics_num_episodes_for_smoothing = 10
        # Evaluation acts deterministically: tanh(mean) and the discrete critic's argmax.
        self.evaluation_config = {"explore": False}
        # Reports env_runners/episode_success_rate and episode_intervention_rate (see callbacks.py).
        self.callbacks_class = EpisodeMetricsCallback
        # Asynchronous sampling: a runner's next sample call waits queued behind the running one.
        self.max_requests_in_flight_per_env_runner = 2
        # Sets torch threads in remote EnvRunners (env_runner_torch_threads).
        self.env_runner_cls = HybridSACEnvRunner
        # A failing EnvRunner waits this long before it exits and Ray restarts it. Rounds are
        # synchronous: RLlib's 60 s would hold every round that long waiting for its last sample.
        self.delay_between_env_runner_restarts_s = 1.0
        self.custom_resources_by_env_runner: list[dict[str, float]] | None = None

    def env_runners(
        self, *, custom_resources_by_env_runner: Sequence[dict[str, float]] | None = NotProvided, **kwargs
    ) -> HybridSACConfig:
        """RLlib's EnvRunner settings, plus ``custom_resources_by_env_runner`` (see the class docstring)."""
        super().env_runners(**kwargs)
        if custom_resources_by_env_runner is not NotProvided:
            value = custom_resources_by_env_runner
            self.custom_resources_by_env_runner = list(value) if isinstance(value, tuple) else value
        return self

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HybridSACConfig:
        """RLlib's restore path (``Algorithm.from_checkpoint``): a config saved by an older version
        gets, for each setting it predates, the value that version ran with (an older checkpoint's
        critics are scalar heads), not today's default."""
        predated = {k: v for k, v in DEFAULTS_BEFORE_THE_SETTING.items() if k not in state}
        return super().from_state({**state, **predated})

    def preset(self, name: str) -> HybridSACConfig:
        """Applies the named settings of a known recipe (``presets.PRESETS``: "hil-serl", "redq",
        "droq"); every other setting stays as it is, and settings passed after this call
        override the preset's. ValueError, listing the names, for an unknown one.

        Example: ``HybridSACConfig().environment(...).preset("hil-serl").training(discount=0.99)``.
        """
        return self.training(**preset_settings(name))

    def training(self, *, gamma: float | None = NotProvided, **kwargs) -> HybridSACConfig:
        """Sets training settings: every HybridSAC setting (see the class docstring) and RLlib's."""
        ours = {k: kwargs.pop(k) for k in list(kwargs) if k in HYBRID_SAC_DEFAULTS}
        check_training_names({k: v for k, v in kwargs.items() if v is not NotProvided})
        if gamma is not NotProvided and "discount" not in ours:
            ours["discount"] = gamma
        super().training(gamma=gamma, **kwargs)
        for name, value in ours.items():
            if value is not NotProvided:
                is_dims = name.endswith("hidden_dims") and isinstance(value, (list, tuple))
                setattr(self, name, tuple(value) if is_dims else value)
        return self

    def get_evaluation_config_object(self) -> AlgorithmConfig | None:
        """RLlib's evaluation config; an evaluation counted in episodes reports its means over all
        of its episodes (RLlib would average the last ``metrics_num_episodes_for_smoothing``)."""
        eval_config = super().get_evaluation_config_object()
        if (
            eval_config is not None
            and self.evaluation_duration_unit == "episodes"
            and isinstance(self.evaluation_duration, int)
            and isinstance(self.evaluation_config, (dict, type(None)))
            and "metrics_num_episodes_for_smoothing" not in (self.evaluation_config or {})
        ):
            eval_config.metrics_num_episodes_for_smoothing = max(
                eval_config.metrics_num_episodes_for_smoothing, self.evaluation_duration
            )
        return eval_config

    # ---- wiring ----------------------------------------------------------------------------
    def get_default_rl_module_spec(self) -> RLModuleSpec:
        log_once(RLMODULE_CONFIG_DEPRECATION_KEY)  # before RLlib's MultiRLModule around ours logs it
        return RLModuleSpec(module_class=HybridSACTorchRLModule)

    def get_default_learner_class(self) -> type:
        return HybridSACTorchLearner

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {k: getattr(self, k) for k in MODEL_CONFIG_KEYS}

    def resolved_target_entropy(self, action_space: gym.Space) -> float:
        """``target_entropy``, or its auto rule (``settings.resolved_target_entropy``) for ``action_space``."""
        layout = self.action_layout(action_space)
        learned_parts = layout.num_parts if self.fixed_discrete_action is None else 0
        joint = layout.num_joint_choices if layout.discrete_only else 0
        return resolved_target_entropy(self.target_entropy, layout.continuous_dim, learned_parts, joint)

    def resolved_utd_ratio(self, mixes_demonstrations: bool, has_images: bool = False) -> int:
        """``utd_ratio``, or what "auto" resolves to (``settings.resolved_utd_ratio``)."""
        return resolved_utd_ratio(self.utd_ratio, mixes_demonstrations, has_images)

    def resolved_replay_capacity(self, has_images: bool) -> int:
        """``replay_capacity``, or what "auto" resolves to (``settings.resolved_replay_capacity``)."""
        return resolved_replay_capacity(self.replay_capacity, has_images)

    def resolved_bc_pretrain_steps(self) -> int:
        """``bc_pretrain_steps``, or what "auto" resolves to (``settings.resolved_bc_pretrain_steps``)."""
        return resolved_bc_pretrain_steps(self.bc_pretrain_steps, self.demonstrations is not None)

    def resolved_bc_weight(self) -> float:
        """``bc_weight``, or what "auto" resolves to (``settings.resolved_bc_weight``)."""
        return resolved_bc_weight(self.bc_weight)

    def action_layout(self, action_space: gym.Space) -> ActionLayout:
        """How ``action_space`` splits into continuous and discrete parts under these settings."""
        return ActionLayout.from_space(action_space, self.discrete_action_in_last_dim)

    # ---- validation --------------------------------------------------------------------------
    def validate(self) -> None:
        """RLlib's checks, then each HybridSAC setting; raises ValueError naming field and allowed values."""
        # RLlib warns that an algorithm "is running on the new API stack" unless this key was
        # logged; HybridSAC exists only on the new stack, so the notice says nothing to its users.
        log_once(new_api_stack_notice_key(self.algo_class))
        super().validate()
        check_rllib_settings(self)
        self.validate_hybrid_sac_settings()

    def validate_hybrid_sac_settings(self) -> None:
        """The HybridSAC-specific checks alone (also run by ``validate``): each setting against its
        allowed values (``settings.SETTINGS``), then the settings that are checked together."""
        for setting in SETTINGS:
            check_setting(setting.name, getattr(self, setting.name))
        _int_at_least("train_batch_size_per_learner", self.train_batch_size_per_learner, 1)
        self._validate_combinations()
        self._validate_paths()
        self._validate_runtime()
        if self.observation_space is not None:
            observation_dims(self.observation_space)
        if self.action_space is not None:
            self.validate_action_space(self.action_space)

    def _validate_combinations(self) -> None:
        """Settings whose allowed values depend on other settings."""
        if self.num_subsample_critics is not None and not (
            isinstance(self.num_subsample_critics, int)
            and not isinstance(self.num_subsample_critics, bool)
            and 1 <= self.num_subsample_critics <= self.num_critics
        ):
            raise ValueError(
                f"num_subsample_critics={self.num_subsample_critics!r} is invalid for num_critics="
                f"{self.num_critics}; allowed: None or an integer >= 1 in [1, num_critics]."
            )
        if self.critic_actor_ratio is not None and self.policy_update_freq != 1:
            raise ValueError(
                f"critic_actor_ratio={self.critic_actor_ratio} and policy_update_freq={self.policy_update_freq} "
                "both set when actor steps come; allowed: one of them, i.e. critic_actor_ratio=None or "
                "policy_update_freq=1."
            )
        if self.critic_value_bins not in (None, "auto") and self.init_final is not None:
            raise ValueError(
                f"init_final={self.init_final!r} sets scalar critic heads' output layer, but "
                f"critic_value_bins={self.critic_value_bins!r} makes the heads categorical (their output "
                "layers start at zero: uniform distributions); allowed: init_final=None, or "
                "critic_value_bins=None with init_final."
            )
        if not (_real(self.std_min) and _real(self.std_max) and 0 < self.std_min < self.std_max):
            raise ValueError(
                f"std_min={self.std_min!r}, std_max={self.std_max!r} are invalid; allowed: 0 < std_min < std_max."
            )
        if self.demonstrations is not None and self.is_multi_agent:
            raise ValueError(
                f"demonstrations={self.demonstrations!r} with multi_agent(policies={sorted(self.policies)}): "
                "recorded episodes are single-agent, and which policy each belongs to is not known; allowed: "
                "demonstrations=None for a multi-agent config (interventions, info['is_intervention'], "
                "still reach each policy's demonstration replay)."
            )
        if self.resolved_bc_pretrain_steps() > 0 and self.demonstrations is None:  # "auto" is 0 without them
            raise ValueError(
                f"bc_pretrain_steps={self.bc_pretrain_steps} clones demonstrations, but demonstrations=None; allowed: "
                "bc_pretrain_steps=0, or demonstrations=<recorded episodes>."
            )
        if self.initial_policy is not None and self.is_multi_agent:
            raise ValueError(
                f"initial_policy={str(self.initial_policy)!r} with multi_agent(policies={sorted(self.policies)}): "
                "which policy it starts is not known; allowed: initial_policy=None for a multi-agent config."
            )
        if self.reward_classifier is not None and self.is_multi_agent:
            raise ValueError("reward_classifier with multi_agent(...): not supported; allowed: reward_classifier=None.")
        if self.is_multi_agent and self.num_learners > 1:
            raise ValueError(
                f"num_learners={self.num_learners} with multi_agent(policies={sorted(self.policies)}) is not "
                "supported yet (every learner would all-reduce each policy's steps in lockstep, untested); "
                "allowed: num_learners 0 or 1 for a multi-agent config."
            )
        if self.utd_ratio_max is not None:
            value = self.utd_ratio_max
            if self.utd_ratio == "auto":
                raise ValueError(
                    f"utd_ratio_max={value!r} caps the critic steps of a fixed utd_ratio, but utd_ratio='auto'; "
                    "allowed: utd_ratio_max=None, or an integer utd_ratio (e.g. utd_ratio=1, utd_ratio_max=8)."
                )
            if not isinstance(value, int) or isinstance(value, bool) or value < self.utd_ratio:
                raise ValueError(
                    f"utd_ratio_max={value!r} is invalid; allowed: None or an integer >= utd_ratio ({self.utd_ratio})."
                )
            if not self.async_sampling:
                raise ValueError(
                    f"utd_ratio_max={self.utd_ratio_max} needs async_sampling=True (synchronous rounds never wait "
                    "with the learner idle); allowed: None, or async_sampling=True with remote EnvRunners."
                )

    def _validate_paths(self) -> None:
        """Settings that name files: they must exist where the config is built."""
        weights = self.image_backbone_weights
        allowed = "None or the path of a file written by python -m rllib_sac_hybrid.robot.pretrain"
        if weights is not None:
            if not isinstance(weights, (str, os.PathLike)):
                raise ValueError(f"image_backbone_weights={weights!r} is invalid; allowed: {allowed}.")
            if not os.path.isfile(weights):
                raise ValueError(f"image_backbone_weights={weights!r} is not a file; allowed: {allowed}.")
        classifier = self.reward_classifier
        if classifier is not None and (
            not isinstance(classifier, (str, os.PathLike)) or not os.path.isfile(classifier)
        ):
            raise ValueError(
                f"reward_classifier={classifier!r} is not a file; allowed: "
                f"{SETTINGS_BY_NAME['reward_classifier'].allowed}."
            )

    def _validate_runtime(self) -> None:
        """RLlib settings HybridSAC depends on, and the runner class that matches them."""
        # RLlib picks its multi-agent runner only when env_runner_cls is None: ours, to match.
        wanted = HybridSACMultiAgentEnvRunner if self.is_multi_agent else HybridSACEnvRunner
        ours = (HybridSACEnvRunner, HybridSACMultiAgentEnvRunner)
        if self.env_runner_cls in ours and self.env_runner_cls is not wanted:
            self.env_runner_cls = wanted
        if self.async_sampling and self.num_env_runners < 1 and not self.in_evaluation:  # evaluation: RLlib's own loop
            raise ValueError(
                f"async_sampling=True needs remote EnvRunners to step while the learner trains; "
                f"num_env_runners={self.num_env_runners}, allowed: >= 1 (.env_runners(num_env_runners=...))."
            )
        if self.normalize_actions or self.clip_actions:
            raise ValueError(
                "normalize_actions / clip_actions must be False for HybridSAC: its module already "
                "emits actions within the env's bounds; allowed: False."
            )
        _int_at_least("num_learners", self.num_learners, 0)
        if not self.in_evaluation:  # evaluation runners take no per-runner resources
            _validate_resources_by_runner(self.custom_resources_by_env_runner, self.num_env_runners)

    def validate_action_space(self, action_space: gym.Space) -> ActionLayout:
        """The layout of ``action_space``; ValueError if unsupported or inconsistent with the settings."""
        layout = self.action_layout(action_space)
        fixed = self.fixed_discrete_action
        if fixed is not None:
            if not layout.has_discrete:
                raise ValueError(
                    f"fixed_discrete_action={fixed} needs an action space with a discrete "
                    f"part; {action_space} has none. Allowed: None."
                )
            if layout.discrete_only:
                raise ValueError(
                    f"fixed_discrete_action={fixed} would leave {action_space} nothing to learn; allowed: None."
                )
            values = list(fixed) if isinstance(fixed, (list, tuple)) else [fixed]
            allowed = " x ".join(f"[0, {k - 1}]" for k in layout.discrete_sizes)
            if len(values) != layout.num_parts or any(v >= k for v, k in zip(values, layout.discrete_sizes)):
                raise ValueError(
                    f"fixed_discrete_action={fixed} is out of range; allowed: None or "
                    + (
                        f"an integer in {allowed}."
                        if layout.num_parts == 1
                        else f"a list with one index per part in {allowed}."
                    )
                )
        if layout.discrete_only and isinstance(self.critic_value_bins, int):
            raise ValueError(
                f"critic_value_bins={self.critic_value_bins} is for a continuous action's critics; {action_space} "
                'is discrete only and its critics output one Q per choice; allowed: None or "auto".'
            )
        return layout


HybridSACConfig.__doc__ += (
    "\n    HybridSAC settings (``.training(...)``), from ``settings.SETTINGS``:\n" + docstring_table() + "\n"
)


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_at_least(name: str, value: Any, minimum: int, also: str = "") -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid; allowed: an integer >= {minimum}{' ' + also if also else ''}.")


RESERVED_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


def _validate_resources_by_runner(by_runner: Any, num_env_runners: int) -> None:
    if by_runner is None:
        return
    allowed = (
        "None, or a list with one dict {resource name: amount > 0} per remote EnvRunner, "
        "e.g. [{'robot_arm_0': 1}, {'robot_arm_1': 1}]"
    )
    if not isinstance(by_runner, (list, tuple)) or len(by_runner) != num_env_runners:
        size = len(by_runner) if isinstance(by_runner, (list, tuple)) else "no"
        raise ValueError(
            f"custom_resources_by_env_runner={by_runner!r} has {size} entries for num_env_runners="
            f"{num_env_runners} remote EnvRunners; allowed: {allowed}."
        )
    for index, resources in enumerate(by_runner):
        if not isinstance(resources, dict):
            raise ValueError(
                f"custom_resources_by_env_runner[{index}]={resources!r} is not a dict; allowed: {allowed}."
            )
        for name, amount in resources.items():
            if not isinstance(name, str) or not name or name in RESERVED_RESOURCES:
                raise ValueError(
                    f"custom_resources_by_env_runner[{index}] names the resource {name!r}; allowed: a custom "
                    f"resource name (not one of {RESERVED_RESOURCES}: use num_cpus_per_env_runner / "
                    "num_gpus_per_env_runner for those)."
                )
            if not _real(amount) or not amount > 0 or not math.isfinite(amount):
                raise ValueError(
                    f"custom_resources_by_env_runner[{index}][{name!r}]={amount!r} is invalid; allowed: a number > 0."
                )


def new_api_stack_notice_key(algo_class: type) -> str:
    """The ``log_once`` key of RLlib 2.60's "You are running <algo> on the new API stack!" notice."""
    return f"{algo_class.__name__}_on_new_api_stack"
