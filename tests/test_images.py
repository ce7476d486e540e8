"""Camera images: the image encoder and pluggable backbones, a frozen backbone computed once per
batch, DrQ's random shift, uint8 storage, and a few training iterations on the pixel task."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from torch import nn

from rllib_sac_hybrid import HybridSACConfig, losses
from rllib_sac_hybrid.data.augment import random_shift, shift_images, shift_pad_for
from rllib_sac_hybrid.data.batch import Batch, last_rows
from rllib_sac_hybrid.data.replay import TensorReplayBuffer
from rllib_sac_hybrid.envs import PICK_PLACE_PIXELS_ID
from rllib_sac_hybrid.networks import BackboneFeatures, FrozenBackbone, ObservationEncoder, SmallCNN
from rllib_sac_hybrid.spaces import ActionLayout, image_shapes, observation_dims
from rllib_sac_hybrid.update import SACUpdater, UpdateSettings, make_optimizer, param_groups
from tests.conftest import make_module

TWO_CAMERAS = gym.spaces.Dict(
    {
        "pixels": gym.spaces.Dict(
            {
                "front": gym.spaces.Box(0, 255, (32, 32, 3), np.uint8),
                "wrist": gym.spaces.Box(0, 255, (24, 24, 3), np.uint8),
            }
        ),
        "agent_pos": gym.spaces.Box(-1.0, 1.0, (5,), np.float32),
    }
)
ACTIONS = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)


def tiny_backbone(in_channels: int) -> nn.Module:
    """A pluggable backbone, importable as 'tests.test_images:tiny_backbone'."""
    return nn.Sequential(nn.Conv2d(in_channels, 4, 5, stride=2), nn.ReLU())


def random_obs(space: gym.Space, batch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    flat = {}
    for key, shape in image_shapes(space).items():
        flat[key] = torch.as_tensor(rng.integers(0, 256, (batch, *shape), dtype=np.uint8))
    for key, dim in observation_dims(space).items():
        if key not in flat:
            flat[key] = torch.as_tensor(rng.normal(size=(batch, dim)).astype(np.float32))
    return flat


# ---- encoder and backbones ---------------------------------------------------------------------
def test_two_cameras_and_a_vector_encode_to_one_latent():
    shapes = image_shapes(TWO_CAMERAS)
    assert shapes == {"pixels/front": (32, 32, 3), "pixels/wrist": (24, 24, 3)}
    encoder = ObservationEncoder(observation_dims(TWO_CAMERAS), 16, image_shapes=shapes)
    assert encoder.image_keys == ["pixels/front", "pixels/wrist"]
    assert isinstance(encoder.image_encoder("pixels/front").backbone, SmallCNN)
    latent = encoder(random_obs(TWO_CAMERAS, 5))
    assert latent.shape == (5, 48) and encoder.out_dim == 48
    assert latent.abs().max() <= 1.0  # Linear -> LayerNorm -> Tanh per part


@pytest.mark.parametrize("side, padding, feature_side", [(16, 1, 7), (24, 1, 11), (32, 0, 9), (84, 0, 35)])
def test_the_default_backbone_pads_small_images_to_keep_a_feature_map(side, padding, feature_side):
    # Unpadded, a 16 px view ends as a 1x1 map: nothing left of where things are.
    net = SmallCNN.for_image((side, side, 3))
    assert net.net[2].padding == (padding, padding)
    assert net(torch.zeros(1, 3, side, side)).shape == (1, 32, feature_side, feature_side)
    space = gym.spaces.Dict({"pixels": gym.spaces.Box(0, 255, (side, side, 3), np.uint8)})
    module = make_module(space, ACTIONS)
    spatial = module.encoder.image_encoder("pixels").spatial.kernel
    assert spatial.shape[1:3] == (feature_side, feature_side)


@pytest.mark.parametrize("backbone", [tiny_backbone, "tests.test_images:tiny_backbone"])
def test_backbones_plug_in_as_callable_or_import_path(backbone):
    module = make_module(TWO_CAMERAS, ACTIONS, image_backbone=backbone)
    for key in ("pixels/front", "pixels/wrist"):
        net = module.encoder.image_encoder(key).backbone
        assert isinstance(net, nn.Sequential) and net[0].out_channels == 4
    flat = random_obs(TWO_CAMERAS, 2)
    nested = {"pixels": {"front": flat["pixels/front"], "wrist": flat["pixels/wrist"]}, "agent_pos": flat["agent_pos"]}
    out = module.forward_inference({"obs": nested})["actions"]
    assert out.shape == (2, 3)


def test_a_backbone_without_a_feature_map_is_refused():
    with pytest.raises(ValueError, match="feature map"):
        make_module(TWO_CAMERAS, ACTIONS, image_backbone=lambda c: nn.Sequential(nn.Flatten()))
    with pytest.raises(ValueError, match="cannot be imported"):
        make_module(TWO_CAMERAS, ACTIONS, image_backbone="tests.test_images:no_such_function")


def test_actor_reads_the_shared_image_encoder_detached():
    module = make_module(TWO_CAMERAS, ACTIONS)
    obs = random_obs(TWO_CAMERAS, 4)
    latent = module.actor_latent(obs)
    module.actor.sample(latent)[0].sum().backward()
    assert all(p.grad is None for p in module.encoder.parameters())


# ---- frozen backbone: shared, never trained, computed once per batch ---------------------------
def _updater(module, utd: int = 2, bc_weight: float = 0.0) -> SACUpdater:
    groups = param_groups(module)
    settings = UpdateSettings(
        utd_ratio=utd, policy_update_freq=1, discount=0.99, tau=0.005, num_critics=2, num_subsample_critics=None,
        use_backup_entropy=True, actor_q_reduction="min", grad_clip_norm=None, target_entropy=-1.5,
        bc_weight=bc_weight,
    )  # fmt: skip
    return SACUpdater(module, {name: make_optimizer(p, 1e-3) for name, p in groups.items()}, settings)


def _batch(space: gym.Space, size: int, seed: int) -> Batch:
    return Batch(
        obs=random_obs(space, size, seed),
        action=torch.zeros(size, 3).uniform_(-1, 1),
        reward=torch.randn(size),
        next_obs=random_obs(space, size, seed + 1),
        done=torch.zeros(size),
    )


def test_frozen_backbone_is_shared_and_trains_in_no_optimizer():
    module = make_module(TWO_CAMERAS, ACTIONS, freeze_image_backbone=True)
    for key in ("pixels/front", "pixels/wrist"):
        online = module.encoder.image_encoder(key).backbone
        assert isinstance(online, FrozenBackbone) and module.target_encoder.image_encoder(key).backbone is online
        assert not any(p.requires_grad for p in online.parameters())
    frozen = {id(p) for net in module.frozen_backbones.values() for p in net.parameters()}
    assert not any(id(p) in frozen for params in param_groups(module).values() for p in params)
    module.train()
    assert not any(net.net.training for net in module.frozen_backbones.values())  # stays in eval mode
    updater = _updater(module)
    assert not any(id(p) in frozen for p in updater._online + updater._target)  # no Polyak on it


def test_frozen_backbone_runs_once_per_batch_and_gives_the_uncached_results():
    torch.manual_seed(0)
    module = make_module(TWO_CAMERAS, ACTIONS, freeze_image_backbone=True)
    calls = []
    for key, net in module.frozen_backbones.items():
        net.register_forward_hook(lambda m, i, o, key=key: calls.append((key, i[0].shape[0])))
    batches = [_batch(TWO_CAMERAS, 8, seed) for seed in range(2)]
    cached = module.prepare_batch(batches[0])
    assert len(calls) == 2 and all(rows == 16 for _, rows in calls)  # obs + next obs in one call per camera
    assert isinstance(cached.obs["pixels/front"], BackboneFeatures)
    # Every encoding of the step from the cache equals the one from the images.
    for a, b in zip(module.encode_batch(cached), module.encode_batch(batches[0])):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(module.actor_latent(cached.obs), module.actor_latent(batches[0].obs))
    # One update at UTD 2 (two critic steps, then actor and temperature steps): one backbone
    # call per camera per batch, none for the policy step or the targets.
    calls.clear()
    stream = iter(batches)
    _updater(module, utd=2).update(lambda: next(stream))
    assert sorted(calls) == sorted([("pixels/front", 16), ("pixels/wrist", 16)] * 2)


def test_frozen_backbone_features_feed_the_cloning_term_on_demonstration_rows():
    """The cloning term reads the batch's last (demonstration) rows of the cached features; it
    once sliced the features' NamedTuple as a tuple and failed on the first policy step."""
    torch.manual_seed(0)
    module = make_module(TWO_CAMERAS, ACTIONS, freeze_image_backbone=True)
    batch = _batch(TWO_CAMERAS, 8, seed=0)
    cached = module.prepare_batch(batch)
    demo = last_rows(cached, 3)
    assert isinstance(demo.obs["pixels/front"], BackboneFeatures) and demo.obs["pixels/front"].features.shape[0] == 3
    from_cache = losses.demonstrated_action_error(module, demo.obs, demo.action)
    from_images = losses.demonstrated_action_error(module, last_rows(batch, 3).obs, demo.action)
    torch.testing.assert_close(from_cache, from_images)
    metrics = _updater(module, utd=1, bc_weight=1.0).update(lambda: batch, demo_rows=3)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for m in metrics for v in m.values())


# ---- augmentation -------------------------------------------------------------------------------
def test_random_shift_crops_the_padded_image_at_a_random_offset_per_image():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 12, 10, 3), dtype=torch.uint8, generator=generator)
    shifted = random_shift(images, pad=2, generator=generator)
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    padded = torch.nn.functional.pad(images.permute(0, 3, 1, 2).float(), (2, 2, 2, 2), mode="replicate")
    offsets = set()
    for b in range(64):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(padded[b, :, dy : dy + 12, dx : dx + 10].permute(1, 2, 0).to(torch.uint8), shifted[b])
        ]
        assert matches, f"image {b} is no crop of its padded image"
        offsets.add(matches[0])
    assert len(offsets) > 10  # offsets differ between images
    assert torch.equal(random_shift(images, pad=0), images)


def test_shift_images_touches_image_keys_of_obs_and_next_obs_only():
    batch = _batch(TWO_CAMERAS, 16, 0)
    out = shift_images(batch, {"pixels/front": 4, "pixels/wrist": 0})
    assert not torch.equal(out.obs["pixels/front"], batch.obs["pixels/front"])
    assert not torch.equal(out.next_obs["pixels/front"], batch.next_obs["pixels/front"])
    assert torch.equal(out.obs["pixels/wrist"], batch.obs["pixels/wrist"])
    assert torch.equal(out.obs["agent_pos"], batch.obs["agent_pos"])


@pytest.mark.parametrize(("side", "pad"), [(16, 1), (32, 2), (64, 3), (84, 4), (128, 6)])
def test_auto_shift_pad_is_drqs_share_of_the_side(side, pad):
    assert shift_pad_for((side, side, 3), "auto") == pad
    assert shift_pad_for((side, side, 3), 4) == 4  # a number is taken as it is


def test_auto_pads_each_camera_by_its_own_size():
    config = HybridSACConfig().environment(PICK_PLACE_PIXELS_ID, env_config={"image_size": 16})
    space = gym.spaces.Dict({"front": gym.spaces.Box(0, 255, (64, 64, 3), np.uint8),
                             "wrist": gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)})  # fmt: skip
    pads = {key: shift_pad_for(shape, config.image_shift_pad) for key, shape in image_shapes(space).items()}
    assert config.image_shift_pad == "auto" and pads == {"front": 3, "wrist": 1}


# ---- storage ------------------------------------------------------------------------------------
def test_images_are_stored_as_uint8_and_next_observations_once():
    layout = ActionLayout.from_space(ACTIONS)
    replay = TensorReplayBuffer(100, TWO_CAMERAS, layout, next_obs_slots=10)
    assert replay.frames["pixels/front"].dtype == torch.uint8
    assert replay.frames["agent_pos"].dtype == torch.float32
    obs = {k: v.numpy() for k, v in random_obs(TWO_CAMERAS, 21).items()}
    transitions = {
        "obs": {k: v[:-1] for k, v in obs.items()},
        "next_obs": {k: v[1:] for k, v in obs.items()},
        "action": np.zeros((20, 3), np.float32),
        "reward": np.zeros(20, np.float32),
        "done": np.zeros(20, np.float32),
        "next_is_next_row": np.ones(20, bool),
        "episode_id": np.full(20, "e", dtype=object),
        "episode_end": np.zeros(20, bool),
    }
    replay.add(transitions)
    batch = replay.gather(torch.arange(19))
    assert batch.obs["pixels/front"].dtype == torch.uint8
    assert torch.equal(batch.next_obs["pixels/front"], torch.as_tensor(obs["pixels/front"][1:20]))
    assert len(replay._free_slots) == 9  # one extra frame: the chunk's last next observation only
    # Bytes per transition: 2 cameras of 128x128x3 uint8 plus 5 floats, frames counted with their
    # share of extra next-observation frames (a quarter of the capacity by default).
    cameras = gym.spaces.Dict(
        {f"cam{i}": gym.spaces.Box(0, 255, (128, 128, 3), np.uint8) for i in range(2)}
        | {"agent_pos": gym.spaces.Box(-1.0, 1.0, (5,), np.float32)}
    )
    big = TensorReplayBuffer(1_000_000, cameras, layout, device="meta")  # sizes only, nothing allocated
    frame = 2 * 128 * 128 * 3 + 5 * 4
    assert frame * 1.25 < big.nbytes_per_transition() < frame * 1.27


# ---- training ----------------------------------------------------------------------------------
@pytest.mark.parametrize("frozen", [False, True])
def test_a_few_training_iterations_on_the_pixel_task(ray_session, frozen):
    config = (
        HybridSACConfig()
        .environment(PICK_PLACE_PIXELS_ID, env_config={"image_size": 32})
        .training(
            encoder_latent_dim=16,
            actor_hidden_dims=(32,),
            critic_hidden_dims=(32,),
            discrete_critic_hidden_dims=(32,),
            num_random_steps=30,
            train_batch_size_per_learner=16,
            freeze_image_backbone=frozen,
            replay_capacity=1000,
        )
        .env_runners(num_env_runners=1)
        .reporting(min_sample_timesteps_per_iteration=40)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        for _ in range(2):
            result = algo.train()
        learner = algo.learner_group._learner
        module = learner.module[DEFAULT_MODULE_ID]
        assert learner.replay(DEFAULT_MODULE_ID).frames["pixels"].dtype == torch.uint8
        assert learner._image_shift[DEFAULT_MODULE_ID] == {"pixels": 2}  # "auto" at 32x32
    finally:
        algo.stop()
    metrics = result["learners"][DEFAULT_MODULE_ID]
    assert result["num_env_steps_sampled_lifetime"] == metrics["replay_size"] == 80
    assert metrics["num_critic_steps_lifetime"] == 80 - 30 + 1
    assert np.isfinite(metrics["critic_loss"]) and np.isfinite(metrics["actor_loss"])
    assert bool(module.frozen_backbones) == frozen


def test_a_replay_that_cannot_fit_in_memory_fails_before_allocating():
    with pytest.raises(ValueError, match=r"replay_capacity=1000000000 needs .* GiB .* allowed: replay_capacity <="):
        TensorReplayBuffer(10**9, TWO_CAMERAS, ActionLayout.from_space(ACTIONS))


HYBRID = gym.spaces.Tuple((gym.spaces.Box(-1.0, 1.0, (2,), np.float32), gym.spaces.Discrete(3)))


@pytest.mark.parametrize(
    "setting, actions, training, with_cameras, bins",
    [
        ("auto", HYBRID, {}, False, 101),  # a gripper's choice the arm critics do not see
        ("auto", HYBRID, {}, True, None),  # camera images
        ("auto", ACTIONS, {}, False, None),  # a Box action: the critics see all of it
        ("auto", HYBRID, {"fixed_discrete_action": 1}, False, None),  # no discrete critic, no hidden choice
        ("auto", HYBRID, {"init_final": 0.003}, False, None),  # a scalar head's setting asks for scalar heads
        (21, ACTIONS, {}, True, 21),  # a number is taken as it is
        (None, HYBRID, {}, False, None),
    ],
)
def test_critic_value_bins_auto_is_categorical_for_hybrid_actions_from_vectors(
    setting, actions, training, with_cameras, bins
):
    """'auto' gives 101-value categorical heads where a discrete critic picks part of the action
    and the observations are vectors, scalar heads elsewhere (README, "Categorical critics")."""
    space = TWO_CAMERAS if with_cameras else gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
    module = make_module(space, actions, critic_value_bins=setting, **training)
    assert module.critic.value_bins == bins
    assert (module.value_support is None) == (bins is None)
    assert module.critic.out.weight.shape[-1] == (bins or 1)
