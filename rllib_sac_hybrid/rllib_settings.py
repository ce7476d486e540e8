"""RLlib settings that HybridSAC does not honour, each refused with what to use instead.

A Ray user brings habits from RLlib's own SAC and ``AlgorithmConfig``. A setting HybridSAC
silently ignored would train something other than what the user asked for, so each one below
fails at ``validate()`` (or at ``.training(...)``) with a ``ValueError`` that names the setting
and says what to use. Settings HybridSAC honours as RLlib does (``num_envs_per_env_runner``,
``batch_mode``, ``explore``, env-to-module connectors such as ``MeanStdFilter``, evaluation
settings, ``num_learners``, ...) are not listed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rllib_sac_hybrid.settings import HYBRID_SAC_DEFAULTS

# RLlib SACConfig.training() names -> what HybridSAC reads instead.
RLLIB_SAC_TRAINING_NAMES: dict[str, str] = {
    "initial_alpha": "temperature_init",
    "alpha_lr": "temperature_lr",
    "twin_q": "num_critics (2 is the twin; N heads form one batched ensemble)",
    "q_model_config": "critic_hidden_dims, activation and critic_layer_norm",
    "policy_model_config": "actor_hidden_dims, activation and actor_layer_norm",
    "replay_buffer_config": "replay_capacity (HybridSAC keeps its own replay on the learner)",
    "num_steps_sampled_before_learning_starts": "num_random_steps",
    "target_network_update_freq": "tau (Polyak averaging after every critic step)",
    "training_intensity": "utd_ratio (critic updates per env step)",
    "optimization_config": "actor_lr, critic_lr and temperature_lr",
    "store_buffer_in_checkpoints": "checkpoint_replay",
    "use_state_preprocessor": "the module's own observation encoder (encoder_latent_dim)",
    "_deterministic_loss": "debugging(seed=...) for reproducible runs",
    "_use_beta_distribution": "nothing: the actor is a tanh-Gaussian",
    "worker_side_prioritization": "nothing: the replay samples uniformly",
    # AlgorithmConfig.training() settings with a HybridSAC counterpart.
    "lr": "actor_lr, critic_lr, temperature_lr and discrete_critic_lr (one Adam optimizer each)",
    "grad_clip": "grad_clip_norm (every optimizer step clips its global norm)",
    "grad_clip_by": "grad_clip_norm (always the global norm)",
    "train_batch_size": "train_batch_size_per_learner (rows of every gradient step)",
}


# AlgorithmConfig's own values of the names above that it has: passing these is a no-op (config
# dicts, e.g. from to_dict() or a checkpoint, carry them), anything else is refused.
ALGORITHM_CONFIG_VALUES: dict[str, Any] = {"lr": None, "grad_clip": None, "grad_clip_by": "global_norm",
                                           "train_batch_size": 32}  # fmt: skip


def check_training_names(kwargs: dict[str, Any]) -> None:
    """Refuses RLlib names that ``HybridSACConfig.training`` would otherwise pass on or reject
    with a bare TypeError."""
    for name, value in kwargs.items():
        if name in ALGORITHM_CONFIG_VALUES and value == ALGORITHM_CONFIG_VALUES[name]:
            continue
        if name in RLLIB_SAC_TRAINING_NAMES:
            raise ValueError(
                f"training({name}=...) is not read by HybridSAC (it is RLlib SAC's or AlgorithmConfig's); "
                f"use {RLLIB_SAC_TRAINING_NAMES[name]}."
            )


def _user_model_config(config) -> dict:
    return dict(config._model_config or {}) if isinstance(config._model_config, dict) else {}


def _evaluation_overrides(config) -> list[str]:
    overrides = config.evaluation_config
    if overrides is None or not isinstance(overrides, dict):
        return []
    return sorted(k for k in overrides if k in HYBRID_SAC_DEFAULTS or k in RLLIB_SAC_TRAINING_NAMES)


# (setting, is it set in a way HybridSAC does not honour?, what to use instead)
CHECKS: list[tuple[str, Callable[[Any], bool], str]] = [
    (
        "api_stack(enable_rl_module_and_learner=False) / enable_env_runner_and_connector_v2=False",
        lambda c: not (c.enable_rl_module_and_learner and c.enable_env_runner_and_connector_v2),
        "HybridSAC exists only on RLlib's new API stack: leave api_stack() at its defaults",
    ),
    ("lr", lambda c: c.lr is not None, RLLIB_SAC_TRAINING_NAMES["lr"]),
    ("grad_clip", lambda c: c.grad_clip is not None, RLLIB_SAC_TRAINING_NAMES["grad_clip"]),
    (
        "resources(num_gpus=...)",
        lambda c: bool(c.num_gpus),
        "learners(num_gpus_per_learner=...) (num_gpus is the old API stack's)",
    ),
    (
        'env_runners(rollout_fragment_length="auto")',
        lambda c: c.rollout_fragment_length == "auto",
        "an integer: the env steps each runner samples per round (default 1; the UTD loop then "
        "runs utd_ratio critic updates per env step)",
    ),
    (
        "rl_module(model_config=...)",
        lambda c: bool(_user_model_config(c)) and c._rl_module_spec is None,
        "the network settings of .training(...), e.g. actor_hidden_dims, critic_hidden_dims, activation "
        "(HybridSAC's module reads no RLlib catalog keys such as fcnet_hiddens)",
    ),
    (
        "offline_data(input_=...)",
        lambda c: c.input_ != "sampler",
        "training(demonstrations=...): recorded episodes go to the demonstration replay and are mixed "
        "into every batch (online_ratio)",
    ),
    (
        "env_runners(module_to_env_connector=...)",
        lambda c: c._module_to_env_connector is not None,
        "a gymnasium wrapper around the env: the module already emits env-format actions, and the "
        "replay stores what it emitted, so a connector that changed them would train the critics on "
        "actions the env never executed",
    ),
    (
        'multi_agent(count_steps_by="agent_steps")',
        lambda c: c.count_steps_by != "env_steps",
        'count_steps_by="env_steps": iterations count env steps, and each policy runs one UTD round '
        "per transition it receives (its agents' steps) either way",
    ),
    (
        "evaluation(evaluation_config={<a training setting>: ...})",
        lambda c: bool(_evaluation_overrides(c)),
        "nothing: evaluation runs the trained module (greedy by default); training settings there change "
        "nothing, set them with .training(...)",
    ),
]


def check_rllib_settings(config) -> None:
    """Raises ValueError for the first RLlib setting in ``CHECKS`` that is set."""
    for setting, is_set, instead in CHECKS:
        if is_set(config):
            detail = ""
            if setting.startswith("rl_module(model_config"):
                detail = f" (got keys {sorted(_user_model_config(config))})"
            elif setting.startswith("evaluation("):
                detail = f" (got {_evaluation_overrides(config)})"
            raise ValueError(f"{setting} is not honoured by HybridSAC{detail}; use {instead}.")
