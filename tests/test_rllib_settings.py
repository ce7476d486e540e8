"""Every RLlib setting HybridSAC does not honour fails with a ValueError naming it and what to
use instead; the settings it honours still validate."""

from __future__ import annotations

import pytest
from ray.rllib.connectors.env_to_module import MeanStdFilter

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.rllib_settings import CHECKS, RLLIB_SAC_TRAINING_NAMES


def base() -> HybridSACConfig:
    return HybridSACConfig().environment("Pendulum-v1")


def mapping_fn(agent_id, episode, **kwargs):
    return "p0"


REFUSED_AT_VALIDATE = [
    (lambda c: c.api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False),
     "api_stack", "new API stack"),
    (lambda c: c.training(lr=None).update_from_dict({"lr": 0.01}), r"^lr is not honoured", "actor_lr"),
    (lambda c: c.update_from_dict({"grad_clip": 1.0}), r"^grad_clip is not honoured", "grad_clip_norm"),
    (lambda c: c.resources(num_gpus=1), r"num_gpus=\.\.\.\) is not honoured", "num_gpus_per_learner"),
    (lambda c: c.env_runners(rollout_fragment_length="auto"), "rollout_fragment_length", "an integer"),
    (lambda c: c.rl_module(model_config={"fcnet_hiddens": [32]}), r"model_config.*\['fcnet_hiddens'\]",
     "actor_hidden_dims"),
    (lambda c: c.offline_data(input_="/tmp/episodes"), "input_", "demonstrations="),
    (lambda c: c.env_runners(module_to_env_connector=lambda env, spaces=None, device=None: []),
     "module_to_env_connector", "gymnasium wrapper"),
    (lambda c: c.update_from_dict({"count_steps_by": "agent_steps"}), "count_steps_by", '"env_steps"'),
    (lambda c: c.evaluation(evaluation_interval=1, evaluation_config={"utd_ratio": 3, "explore": False}),
     r"evaluation_config.*\['utd_ratio'\]", "set them with .training"),
]  # fmt: skip


@pytest.mark.parametrize(("configure", "names", "instead"), REFUSED_AT_VALIDATE)
def test_unhonoured_rllib_settings_fail_at_validate(configure, names, instead):
    config = configure(base())
    with pytest.raises(ValueError, match=names) as error:
        config.validate()
    assert instead in str(error.value) and "not honoured by HybridSAC" in str(error.value)


@pytest.mark.parametrize("name", sorted(RLLIB_SAC_TRAINING_NAMES))
def test_rllib_sac_training_names_fail_at_training(name):
    with pytest.raises(ValueError, match=rf"training\({name}=\.\.\.\) is not read by HybridSAC.*; use ") as error:
        base().training(**{name: "anything"})
    assert RLLIB_SAC_TRAINING_NAMES[name] in str(error.value)


def test_every_check_has_a_case():
    assert len(REFUSED_AT_VALIDATE) == len(CHECKS)
    print(f"{len(CHECKS)} settings refused at validate(), {len(RLLIB_SAC_TRAINING_NAMES)} names at training()")


HONOURED = [
    lambda c: c.env_runners(num_envs_per_env_runner=4),
    lambda c: c.env_runners(batch_mode="complete_episodes"),
    lambda c: c.env_runners(explore=False),
    lambda c: c.env_runners(env_to_module_connector=lambda env, spaces=None, device=None: MeanStdFilter()),
    lambda c: c.evaluation(evaluation_interval=1, evaluation_config={"explore": True, "env_config": {"x": 1}}),
    lambda c: c.learners(num_learners=2),
    lambda c: c.training(lr=None, grad_clip=None, train_batch_size=32),  # AlgorithmConfig's own values: no-ops
    lambda c: HybridSACConfig().update_from_dict(c.to_dict()),  # a config dict round trip carries lr etc.
    lambda c: c.multi_agent(policies={"p0", "p1"}, policy_mapping_fn=mapping_fn, policies_to_train=["p0"]),
]


@pytest.mark.parametrize("configure", HONOURED)
def test_honoured_settings_still_validate(configure):
    configure(base()).validate()
