"""Every validation error names the field and the allowed values."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rllib_sac_hybrid import HybridSACConfig, HybridSACTorchRLModule
from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS
from rllib_sac_hybrid.module import MODEL_CONFIG_KEYS_ADDED_LATER

BAD_SETTINGS = [
    ({"num_subsample_critics": 3, "num_critics": 2}, "num_subsample_critics", "[1, num_critics]"),
    ({"num_subsample_critics": 0}, "num_subsample_critics", ">= 1"),
    ({"num_critics": 0}, "num_critics", ">= 1"),
    ({"utd_ratio": 0}, "utd_ratio", ">= 1"),
    ({"utd_ratio": 1.5}, "utd_ratio", "integer"),
    ({"policy_update_freq": 0}, "policy_update_freq", ">= 1"),
    ({"critic_actor_ratio": 0}, "critic_actor_ratio", ">= 1 or None"),
    ({"critic_actor_ratio": 2, "policy_update_freq": 2}, "critic_actor_ratio", "policy_update_freq=1"),
    ({"tau": 0.0}, "tau", "(0, 1]"),
    ({"tau": 1.5}, "tau", "(0, 1]"),
    ({"discount": -0.1}, "discount", "[0, 1]"),
    ({"discount": 1.01}, "discount", "[0, 1]"),
    ({"actor_lr": 0.0}, "actor_lr", "> 0"),
    ({"critic_lr": -1e-3}, "critic_lr", "> 0"),
    ({"temperature_lr": 0}, "temperature_lr", "> 0"),
    ({"temperature_init": 0.0}, "temperature_init", "> 0"),
    ({"temperature_init": -1.0}, "temperature_init", "> 0"),
    ({"actor_hidden_dims": []}, "actor_hidden_dims", "non-empty"),
    ({"critic_hidden_dims": ()}, "critic_hidden_dims", "non-empty"),
    ({"critic_hidden_dims": (256, 0)}, "critic_hidden_dims", "positive"),
    ({"activation": "swish2"}, "activation", "silu"),
    ({"actor_q_reduction": "max"}, "actor_q_reduction", "min"),
    ({"grad_clip_norm": 0.0}, "grad_clip_norm", "> 0"),
    ({"actor_dropout": 1.0}, "actor_dropout", "[0, 1)"),
    ({"init_final": -0.1}, "init_final", "> 0"),
    ({"critic_value_bins": 1}, "critic_value_bins", ">= 2 or None"),
    ({"discrete_advantage_learning": 1.0}, "discrete_advantage_learning", "[0, 1)"),
    ({"discrete_advantage_learning": -0.1}, "discrete_advantage_learning", "[0, 1)"),
    ({"discrete_advantage_learning": "yes"}, "discrete_advantage_learning", "[0, 1)"),
    ({"critic_value_bins": 51.0}, "critic_value_bins", '>= 2 or None or "auto"'),
    ({"critic_value_bins": "on"}, "critic_value_bins", '>= 2 or None or "auto"'),
    ({"critic_value_bins": 51, "init_final": 0.003}, "init_final", "critic_value_bins=None with init_final"),
    ({"std_min": 1.0, "std_max": 0.5}, "std_min", "std_min < std_max"),
    ({"replay_capacity": 0}, "replay_capacity", ">= 1"),
    ({"num_random_steps": -1}, "num_random_steps", ">= 0"),
    ({"train_batch_size_per_learner": 0}, "train_batch_size_per_learner", ">= 1"),
    ({"discrete_critic_hidden_dims": []}, "discrete_critic_hidden_dims", "non-empty"),
    ({"discrete_critic_lr": 0.0}, "discrete_critic_lr", "> 0"),
    ({"epsilon_start": 1.5}, "epsilon_start", "[0, 1]"),
    ({"epsilon_end": -0.1}, "epsilon_end", "[0, 1]"),
    ({"epsilon_decay_steps": -5}, "epsilon_decay_steps", ">= 0"),
    ({"learner_collective_timeout_s": 0}, "learner_collective_timeout_s", "seconds > 0"),
    ({"learner_collective_timeout_s": float("inf")}, "learner_collective_timeout_s", "finite"),
    ({"discrete_penalty_key": ""}, "discrete_penalty_key", "non-empty str"),
    ({"discrete_action_in_last_dim": "yes"}, "discrete_action_in_last_dim", "True or False"),
    ({"fixed_discrete_action": -1}, "fixed_discrete_action", ">= 0"),
    ({"torch_compile": 1}, "torch_compile", "True or False"),
    ({"checkpoint_replay": "yes"}, "checkpoint_replay", "True or False"),
    ({"non_finite_transitions": "ignore"}, "non_finite_transitions", "('raise', 'drop')"),
    ({"torch_compile_mode": "fast"}, "torch_compile_mode", "max-autotune-no-cudagraphs"),
    ({"learner_torch_threads": 0}, "learner_torch_threads", ">= 1"),
    ({"env_runner_torch_threads": 0}, "env_runner_torch_threads", ">= 1"),
    ({"async_sampling": 1}, "async_sampling", "True or False"),
    ({"async_sampling": True}, "num_env_runners=0", ">= 1"),  # no remote runner to step meanwhile
    ({"weights_push_every_rounds": 0}, "weights_push_every_rounds", ">= 1"),
    ({"weights_push_every_s": -1.0}, "weights_push_every_s", "None or a number > 0"),
    ({"utd_ratio": "fast"}, "utd_ratio='fast'", 'integer >= 1 or "auto"'),
    ({"utd_ratio_max": 4}, "utd_ratio_max=4 caps the critic steps of a fixed utd_ratio", "an integer utd_ratio"),
    ({"utd_ratio": 1, "utd_ratio_max": 0}, "utd_ratio_max", "None or an integer >= utd_ratio (1)"),
    ({"utd_ratio": 1, "utd_ratio_max": 4}, "utd_ratio_max=4 needs async_sampling=True", "async_sampling=True"),
    ({"online_ratio": 0.0}, "online_ratio", "(0, 1]"),
    ({"online_ratio": 1.5}, "online_ratio", "(0, 1]"),
    ({"demonstrations": []}, "demonstrations", "a path (or Minari dataset id)"),
    ({"demonstrations": 3}, "demonstrations", "a path (or Minari dataset id)"),
    ({"demonstration_format": "d4rl"}, "demonstration_format", "('rllib', 'minari')"),
    ({"demo_capacity": 0}, "demo_capacity", ">= 1"),
    ({"image_backbone": "resnet18"}, "image_backbone", "'package.module:function'"),
    ({"image_backbone": 3}, "image_backbone", "a callable of in_channels"),
    ({"freeze_image_backbone": "yes"}, "freeze_image_backbone", "True or False"),
    ({"discrete_exploration": "softmax"}, "discrete_exploration", "'epsilon', 'boltzmann'"),
    ({"image_backbone_weights": 3}, "image_backbone_weights", "None or the path"),
    ({"image_backbone_weights": "/no/such/backbone.pt"}, "image_backbone_weights", "is not a file"),
    ({"image_spatial_features": 0}, "image_spatial_features", ">= 1"),
    ({"image_augmentation": "crop"}, "image_augmentation", "('random_shift', None)"),
    ({"image_shift_pad": -1}, "image_shift_pad", ">= 0"),
    ({"image_shift_pad": "big"}, "image_shift_pad", '>= 0 or "auto"'),
    ({"bc_q_filter": 1}, "bc_q_filter", "True or False"),
    ({"bc_weight": "on"}, "bc_weight", '>= 0 (0: off) or "auto"'),
    ({"n_step": 0}, "n_step", ">= 1"),
    ({"n_step": 2.0}, "n_step", "integer"),
    ({"grasp_penalty": float("nan")}, "grasp_penalty", "finite number"),
    ({"reward_scaling": "std"}, "reward_scaling", "('return_std', None)"),
    ({"actor_layer_norm": 1}, "actor_layer_norm", "True or False"),
    ({"critic_layer_norm": "no"}, "critic_layer_norm", "True or False"),
    ({"shared_encoder": None}, "shared_encoder", "True or False"),
    ({"use_backup_entropy": 0}, "use_backup_entropy", "True or False"),
    ({"critic_dropout": -0.1}, "critic_dropout", "[0, 1)"),
    ({"encoder_latent_dim": 0}, "encoder_latent_dim", ">= 1"),
    ({"bc_pretrain_steps": -1}, "bc_pretrain_steps", '>= 0 or "auto"'),
    ({"discrete_critic_reads_arm": "yes"}, "discrete_critic_reads_arm", '"several_parts"'),
    ({"initial_policy": 3}, "initial_policy", "HybridSAC checkpoint"),
    ({"observation_normalization": "batch"}, "observation_normalization", "(None, 'running')"),
    ({"reward_classifier_mode": "swap"}, "reward_classifier_mode", "('replace', 'add')"),
    ({"reward_classifier_terminates": "yes"}, "reward_classifier_terminates", "True or False"),
    ({"reward_classifier_threshold": 1.0}, "reward_classifier_threshold", "(0, 1)"),
    ({"target_entropy": "high"}, "target_entropy", "None (auto) or a number"),
]


@pytest.mark.parametrize("settings,field,allowed", BAD_SETTINGS)
def test_bad_setting_raises_naming_field_and_allowed(settings, field, allowed):
    config = HybridSACConfig().environment("Pendulum-v1").training(**settings)
    with pytest.raises(ValueError) as err:
        config.validate()
    assert field in str(err.value)
    assert allowed in str(err.value)


BAD_RUNNER_RESOURCES = [
    ([{"robot_arm_0": 1}], "has 1 entries for num_env_runners=2"),
    ({"robot_arm_0": 1}, "has no entries for num_env_runners=2"),
    ([{"robot_arm_0": 1}, "robot_arm_1"], "custom_resources_by_env_runner[1]='robot_arm_1' is not a dict"),
    ([{"robot_arm_0": 1}, {"CPU": 1}], "names the resource 'CPU'"),
    ([{"robot_arm_0": 0}, {"robot_arm_1": 1}], "custom_resources_by_env_runner[0]['robot_arm_0']=0 is invalid"),
]


@pytest.mark.parametrize("by_runner,message", BAD_RUNNER_RESOURCES)
def test_bad_resources_by_runner_raise(by_runner, message):
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .env_runners(num_env_runners=2, custom_resources_by_env_runner=by_runner)
    )
    with pytest.raises(ValueError) as err:
        config.validate()
    assert message in str(err.value) and "allowed:" in str(err.value)


def test_resources_by_runner_validate_and_skip_evaluation_runners():
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .env_runners(num_env_runners=2, custom_resources_by_env_runner=({"robot_arm_0": 1}, {"robot_arm_1": 1}))
        .evaluation(evaluation_interval=1, evaluation_num_env_runners=1)
    )
    config.validate()
    assert config.custom_resources_by_env_runner == [{"robot_arm_0": 1}, {"robot_arm_1": 1}]
    config.get_evaluation_config_object().validate()  # 1 evaluation runner: the list is not its


def test_defaults_validate():
    HybridSACConfig().environment("Pendulum-v1").validate()


def test_auto_utd_ratio_rule():
    """utd_ratio="auto": 4 critic steps per env step only while batches mix in demonstration rows
    of vector observations; 1 online-only and with camera images. A number is used as it is."""
    auto = HybridSACConfig()
    assert auto.utd_ratio == "auto"
    assert auto.resolved_utd_ratio(mixes_demonstrations=True) == 4
    assert auto.resolved_utd_ratio(mixes_demonstrations=False) == 1
    assert auto.resolved_utd_ratio(mixes_demonstrations=True, has_images=True) == 1
    fixed = HybridSACConfig().training(utd_ratio=3)
    assert {fixed.resolved_utd_ratio(d, i) for d in (True, False) for i in (True, False)} == {3}


def test_auto_replay_capacity_rule():
    """A million transitions of vectors; 100,000 with camera images, as LeRobot's HIL-SERL keeps."""
    auto = HybridSACConfig()
    assert auto.replay_capacity == "auto"
    assert auto.resolved_replay_capacity(has_images=False) == 1_000_000
    assert auto.resolved_replay_capacity(has_images=True) == 100_000
    fixed = HybridSACConfig().training(replay_capacity=5000)
    assert {fixed.resolved_replay_capacity(i) for i in (True, False)} == {5000}


def test_every_setting_has_a_training_setter():
    values = {
        "num_critics": 10,
        "num_subsample_critics": 2,
        "utd_ratio": 20,
        "policy_update_freq": 1,  # must be 1 with critic_actor_ratio (policy_update_freq=2: test_checkpoint)
        "critic_actor_ratio": 3,
        "discount": 0.98,
        "tau": 0.01,
        "temperature_init": 0.1,
        "target_entropy": -3.0,
        "actor_lr": 1e-4,
        "critic_lr": 2e-4,
        "temperature_lr": 5e-4,
        "grad_clip_norm": 10.0,
        "use_backup_entropy": False,
        "actor_q_reduction": "mean",
        "encoder_latent_dim": 64,
        "shared_encoder": False,
        "actor_hidden_dims": [64, 64],
        "critic_hidden_dims": [32],
        "activation": "relu",
        "actor_layer_norm": False,
        "critic_layer_norm": False,
        "actor_dropout": 0.1,
        "critic_dropout": 0.01,
        "init_final": 0.003,
        "critic_value_bins": None,  # init_final is for scalar heads
        "std_min": 1e-4,
        "std_max": 5.0,
        "replay_capacity": 5000,
        "num_random_steps": 10,
        "discrete_action_in_last_dim": True,
        "fixed_discrete_action": 1,
        "discrete_critic_hidden_dims": [16],
        "discrete_critic_lr": 1e-3,
        "discrete_critic_reads_arm": False,
        "discrete_advantage_learning": 0.9,
        "discrete_penalty_key": "gripper_penalty",
        "epsilon_start": 0.5,
        "epsilon_end": 0.0,
        "epsilon_decay_steps": 100,
        "torch_compile": True,
        "torch_compile_mode": "default",
        "checkpoint_replay": False,
        "non_finite_transitions": "drop",
        "learner_torch_threads": 2,
        "env_runner_torch_threads": 2,
        "learner_collective_timeout_s": 60.0,
        "async_sampling": True,
        "weights_push_every_rounds": 4,
        "weights_push_every_s": 2.5,
        "utd_ratio_max": 24,
        "demonstrations": ("demos/a", "demos/b"),
        "demonstration_format": "minari",
        "online_ratio": 0.25,
        "demo_capacity": 1000,
        "reward_classifier": __file__,  # validate() only checks that the file exists
        "reward_classifier_threshold": 0.7,
        "reward_classifier_mode": "add",
        "reward_classifier_terminates": False,
        "initial_policy": "runs/ckpt",  # read when the algorithm is built, not by validate()
        "bc_pretrain_steps": 100,
        "bc_weight": 0.5,
        "bc_q_filter": True,
        "image_backbone": "torchvision.models:resnet18",
        "freeze_image_backbone": True,
        "image_backbone_weights": __file__,  # validate() only checks that the file exists
        "image_spatial_features": 4,
        "image_augmentation": None,
        "image_shift_pad": 2,
        "n_step": 3,
        "discrete_exploration": "boltzmann",
        "grasp_penalty": -0.05,
        "reward_scaling": "return_std",
        "observation_normalization": "running",
    }
    assert set(values) == set(HYBRID_SAC_DEFAULTS)
    config = HybridSACConfig().environment("Pendulum-v1").env_runners(num_env_runners=1).training(**values)
    config.validate()
    for name, value in values.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(config, name) == expected, name
    # network settings reach the module
    assert config._model_config_auto_includes["critic_hidden_dims"] == (32,)


def test_gamma_is_an_alias_of_discount():
    assert HybridSACConfig().training(gamma=0.9).discount == 0.9
    assert HybridSACConfig().training(gamma=0.9, discount=0.8).discount == 0.8


def test_settings_survive_dict_round_trip():
    config = HybridSACConfig().training(num_critics=7, utd_ratio=3, critic_hidden_dims=(64, 32))
    restored = HybridSACConfig().update_from_dict(config.to_dict())
    assert restored.num_critics == 7 and restored.utd_ratio == 3
    assert tuple(restored.critic_hidden_dims) == (64, 32)


def test_target_entropy_auto_rule():
    config = HybridSACConfig()
    assert config.resolved_target_entropy(gym.spaces.Box(-1, 1, (6,))) == -6.0  # SAC's -dim(a)
    assert config.training(target_entropy=-1.0).resolved_target_entropy(gym.spaces.Box(-1, 1, (6,))) == -1.0


@pytest.mark.parametrize(
    "space,field",
    [
        (gym.spaces.Tuple([gym.spaces.Discrete(3), gym.spaces.Tuple([gym.spaces.Discrete(2)])]), "action_space"),
        (gym.spaces.MultiDiscrete([[2, 3], [2, 2]]), "action_space"),
        (gym.spaces.Box(-np.inf, np.inf, (2,)), "action_space"),
        (gym.spaces.Box(0, 5, (2,), dtype=np.int64), "action_space"),
    ],
)
def test_unsupported_action_space_raises(space, field):
    config = HybridSACConfig().environment(observation_space=gym.spaces.Box(-1, 1, (3,)), action_space=space)
    with pytest.raises(ValueError) as err:
        config.validate()
    assert field in str(err.value) and "supported" in str(err.value)


@pytest.mark.parametrize(
    "space",
    [gym.spaces.Discrete(4), gym.spaces.Tuple([gym.spaces.Box(-1, 1, (2,))]), gym.spaces.Dict({})],
)
def test_unsupported_observation_space_raises(space):
    config = HybridSACConfig().environment(observation_space=space, action_space=gym.spaces.Box(-1, 1, (2,)))
    with pytest.raises(ValueError) as err:
        config.validate()
    assert "observation_space" in str(err.value) and "supported" in str(err.value)


def test_normalize_actions_is_refused():
    config = HybridSACConfig().environment("Pendulum-v1", normalize_actions=True)
    with pytest.raises(ValueError, match="normalize_actions"):
        config.validate()


def test_learner_torch_threads_rule():
    from rllib_sac_hybrid.learner import learner_torch_threads

    assert learner_torch_threads(HybridSACConfig().training(learner_torch_threads=3)) == 3
    # A plain process (no Ray actor): the process's own torch setting - conftest's 1 thread, so
    # that two xdist workers' learners do not run 4 threads on 2 cores - or whatever it is set to.
    assert learner_torch_threads(HybridSACConfig()) == torch.get_num_threads() == 1
    try:
        torch.set_num_threads(2)
        assert learner_torch_threads(HybridSACConfig().env_runners(num_env_runners=1)) == 2
    finally:
        torch.set_num_threads(1)


def test_a_module_saved_before_later_settings_existed_still_builds():
    """An earlier version's module config lacks the keys added since; they take the values that do
    what the module did then. Any other missing key still fails, naming it."""
    current = HybridSACConfig().training(critic_hidden_dims=(5,))._model_config_auto_includes
    spaces = dict(observation_space=gym.spaces.Box(-1.0, 1.0, (2,)), action_space=gym.spaces.Box(-1.0, 1.0, (2,)))
    old = {k: v for k, v in current.items() if k not in MODEL_CONFIG_KEYS_ADDED_LATER}
    module = HybridSACTorchRLModule(**spaces, model_config=old)
    assert module.discrete_exploration == "epsilon"
    assert {k: module.model_config[k] for k in MODEL_CONFIG_KEYS_ADDED_LATER} == MODEL_CONFIG_KEYS_ADDED_LATER
    with pytest.raises(ValueError, match=r"model_config is missing \['critic_hidden_dims'\]"):
        HybridSACTorchRLModule(**spaces, model_config={k: v for k, v in old.items() if k != "critic_hidden_dims"})


def test_behaviour_cloning_defaults_pretrain_only_with_demonstrations_and_clone_any_demo_rows():
    # Pretraining needs demonstrations; the online term is on for whatever the demonstration replay
    # gets (interventions too), and with an empty one there are no rows for it to touch.
    assert HybridSACConfig().resolved_bc_pretrain_steps() == 0 and HybridSACConfig().resolved_bc_weight() == 1.0
    config = HybridSACConfig().training(demonstrations="demos/")
    assert (config.resolved_bc_pretrain_steps(), config.resolved_bc_weight()) == (1000, 1.0)
    config = config.training(bc_pretrain_steps=0, bc_weight=0.25)
    assert (config.resolved_bc_pretrain_steps(), config.resolved_bc_weight()) == (0, 0.25)


def test_each_setting_is_validated_with_the_allowed_values_its_one_definition_names():
    """settings.SETTINGS is the one source: a bad value of a setting is refused with that
    setting's ``allowed`` text, and every setting with a check has a bad example above."""
    from rllib_sac_hybrid.settings import SETTINGS, SETTINGS_BY_NAME

    single: dict[str, dict] = {}
    for settings, field, _ in BAD_SETTINGS:  # the first bad value refused by the setting's own check
        if len(settings) == 1 and field in settings:
            single.setdefault(field, settings)
    checked = {s.name for s in SETTINGS if s.check is not None}
    assert checked <= set(single), f"settings without a bad example: {sorted(checked - set(single))}"
    for name in checked:
        config = HybridSACConfig().environment("Pendulum-v1").training(**single[name])
        with pytest.raises(ValueError) as err:
            config.validate()
        assert str(err.value).startswith(f"{name}=") and SETTINGS_BY_NAME[name].allowed in str(err.value)
    assert set(SETTINGS_BY_NAME) == set(HYBRID_SAC_DEFAULTS)
    for setting in SETTINGS:
        assert setting.meaning and setting.allowed and setting.name in HybridSACConfig.__doc__
        if setting.check is not None:
            assert setting.check(setting.default), f"{setting.name}'s default {setting.default!r} is not allowed"
