"""Presets: named recipes, applied as one call, overridable, validated; the grasp penalty."""

from __future__ import annotations

import numpy as np
import pytest
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS
from rllib_sac_hybrid.data.transitions import episodes_to_transitions
from rllib_sac_hybrid.presets import PRESETS
from rllib_sac_hybrid.spaces import ActionLayout


def test_hil_serl_holds_its_published_settings():
    config = HybridSACConfig().preset("hil-serl")
    assert config.temperature_init == 1e-2
    assert config.discount == 0.97
    assert config.use_backup_entropy is False
    assert config.actor_q_reduction == "mean"  # policy_loss_fn: predicted_qs.mean(axis=0)
    assert config.critic_actor_ratio == 2  # two critic steps per actor step (cta_ratio)
    assert config.utd_ratio == "auto"  # its learner runs free of the env: no published ratio
    assert config.online_ratio == 0.5
    assert config.train_batch_size_per_learner == 256
    assert config.critic_layer_norm is True
    assert config.grasp_penalty == -0.02
    assert (config.epsilon_start, config.epsilon_end) == (0.0, 0.0)  # the grasp critic's argmax


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid_and_only_sets_known_fields(name):
    assert set(PRESETS[name]) <= set(HYBRID_SAC_DEFAULTS) | {"train_batch_size_per_learner"}
    config = HybridSACConfig().preset(name)
    config.validate_hybrid_sac_settings()
    for key, value in PRESETS[name].items():
        assert getattr(config, key) == value


def test_settings_after_a_preset_override_it_and_others_stay():
    config = HybridSACConfig().training(replay_capacity=1234).preset("redq").training(num_critics=5)
    assert config.num_critics == 5  # passed after the preset
    assert config.num_subsample_critics == 2  # the preset's
    assert config.replay_capacity == 1234  # not in the preset: as set before


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match=r"preset 'hilserl' is unknown; allowed: \['droq', 'hil-serl', 'redq'\]"):
        HybridSACConfig().preset("hilserl")


def test_grasp_penalty_replaces_the_envs_penalty_on_flips():
    space = __import__("gymnasium").spaces
    action_space = space.Tuple((space.Box(-1, 1, (1,)), space.Discrete(3)))
    episode = SingleAgentEpisode()
    episode.add_env_reset(observation=np.zeros(1, np.float32))
    for penalty in (0.0, -0.02, 0.0, -0.02):  # the env reports -0.02 on each flip
        episode.add_env_step(observation=np.zeros(1, np.float32), action=(np.zeros(1, np.float32), 0), reward=0.0,
                             infos={"discrete_penalty": penalty})  # fmt: skip
    layout = ActionLayout.from_space(action_space)
    obs_space = space.Box(-1, 1, (1,))
    own = episodes_to_transitions([episode.to_numpy()], obs_space, layout)
    np.testing.assert_allclose(own["discrete_penalty"][:, 0], [0, -0.02, 0, -0.02])  # (n, P): one part
    hil = episodes_to_transitions([episode.to_numpy()], obs_space, layout, grasp_penalty=-0.05)
    np.testing.assert_allclose(hil["discrete_penalty"][:, 0], [0, -0.05, 0, -0.05])
    with pytest.raises(ValueError, match="grasp_penalty"):
        HybridSACConfig().training(grasp_penalty="big").validate_hybrid_sac_settings()
