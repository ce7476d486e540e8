"""The learned reward: a success classifier trained on recorded episodes, used by every EnvRunner
in place of the env's reward."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import rllib_sac_hybrid.envs as envs
from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.robot.record import record
from rllib_sac_hybrid.robot.reward_classifier import (
    RewardClassifierVectorWrapper,
    load_classifier,
    main,
    train_classifier,
)
from tests.conftest import TINY_NETS

# The tests share the recorded episodes and one trained classifier: one xdist worker runs them.
pytestmark = pytest.mark.xdist_group("reward")


@pytest.fixture(scope="module")
def episodes(ray_session, tmp_path_factory) -> list[str]:
    """Successes (the scripted expert) and failures (random actions) of the state pick-and-place."""
    root = tmp_path_factory.mktemp("reward")
    record(envs.PICK_PLACE_ID, 20, str(root / "expert"), "scripted", seed=0)
    record(envs.PICK_PLACE_ID, 8, str(root / "random"), "random", seed=100)
    return [str(root / "expert"), str(root / "random")]


@pytest.fixture(scope="module")
def classifier(episodes, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("classifier") / "classifier.pt")
    summary = train_classifier(episodes, out, epochs=150, patience=10, progress=False)
    return out, summary


def test_the_classifier_finds_the_successes_of_held_out_episodes(classifier):
    """Success is the last frame of each expert episode (the object released at the goal): few
    positives, so the positive class is weighted; validation is on whole held-out episodes."""
    _, summary = classifier
    assert summary["validation_recall"] >= 0.6 and summary["validation_precision"] >= 0.6, summary
    assert 0.0 < summary["threshold"] < 1.0 and load_classifier(classifier[0]).threshold == summary["threshold"]
    assert summary["validation_frames"] > 0 and 0 < summary["train_positives"] < summary["train_frames"] / 5


def test_every_runner_takes_its_reward_and_success_flag_from_the_classifier(classifier, ray_session):
    path, _ = classifier
    config = (
        HybridSACConfig()
        .environment(envs.PICK_PLACE_ID)
        .training(**TINY_NETS, reward_classifier=path, num_random_steps=50, train_batch_size_per_learner=16)
        .env_runners(num_envs_per_env_runner=2)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        result = algo.train()
        assert isinstance(algo.env_runner.env, RewardClassifierVectorWrapper)
        assert np.isfinite(result["learners"]["default_policy"]["critic_loss"])
        # The env reports its own success too: the window compares the two at every episode end.
        assert 0.0 <= result["env_runners"]["episode_env_success_rate_windowed"] <= 1.0
    finally:
        algo.stop()


def test_the_wrapper_replaces_or_adds_the_reward_batched_over_the_sub_envs(classifier):
    path, _ = classifier
    model = load_classifier(path)
    for mode in ("replace", "add"):
        env = RewardClassifierVectorWrapper(
            gym.vector.SyncVectorEnv([lambda: gym.make(envs.PICK_PLACE_ID)] * 3),
            path,
            threshold=0.5,
            mode=mode,
            terminate=False,  # the twin must run the same episodes
        )
        twin = gym.vector.SyncVectorEnv([lambda: gym.make(envs.PICK_PLACE_ID)] * 3)  # the env's own rewards
        env.reset(seed=0)
        twin.reset(seed=0)
        env.action_space.seed(0)
        previous_done = np.zeros(3, bool)
        for _ in range(80):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            _, env_reward, *_ = twin.step(action)
            with torch.no_grad():
                probability = torch.sigmoid(model(torch.as_tensor(obs))).numpy()
            learned = np.where(previous_done, 0.0, (probability >= 0.5).astype(np.float32))  # autoreset steps: 0
            np.testing.assert_allclose(info["reward_classifier_probability"], probability, atol=1e-6)
            expected = learned if mode == "replace" else env_reward + learned
            np.testing.assert_allclose(reward, np.where(previous_done, env_reward, expected), atol=1e-6)
            np.testing.assert_array_equal(info["is_success"], (learned > 0))
            previous_done = terminated | truncated
        env.close()
        twin.close()


def test_a_classified_success_ends_the_episode_and_the_sub_env_resets_on_its_next_step(classifier):
    """With a threshold every frame passes, each step is a success: the episode ends there
    (terminated), the next step resets that sub-env (reward 0, a fresh episode), as the vector
    env does after an end of its own."""
    path, _ = classifier
    env = RewardClassifierVectorWrapper(
        gym.vector.SyncVectorEnv([lambda: gym.make(envs.PICK_PLACE_ID)] * 2), path, threshold=1e-9
    )
    env.reset(seed=0)
    inner = [sub.unwrapped for sub in env.unwrapped.envs]
    for step in range(6):
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        ending = step % 2 == 0  # steps 0, 2, 4 are successes; 1, 3, 5 are the resets after them
        np.testing.assert_array_equal(terminated, [ending] * 2)
        np.testing.assert_array_equal(reward, [1.0 if ending else 0.0] * 2)
        np.testing.assert_array_equal(info["is_success"], [ending] * 2)
        assert [sub._t for sub in inner] == [1 if ending else 0] * 2, step  # the env's own step counter
        assert not truncated.any()
    with pytest.raises(ValueError, match="reward_classifier_terminates=True needs a gymnasium SyncVectorEnv"):
        RewardClassifierVectorWrapper(
            gym.vector.SyncVectorEnv([lambda: gym.make(envs.PICK_PLACE_ID)], autoreset_mode="SameStep"), path
        )
    with pytest.raises(ValueError, match="reward_classifier_terminates='yes' is invalid"):
        HybridSACConfig().environment(envs.PICK_PLACE_ID).training(reward_classifier_terminates="yes").validate()


def test_a_pixel_classifier_trains_and_the_cli_writes_it(ray_session, tmp_path):
    """Camera images (uint8) and a vector key, through the policy's encoder family."""
    record(envs.PICK_PLACE_PIXELS_ID, 3, str(tmp_path / "expert"), "scripted", seed=0)
    record(envs.PICK_PLACE_PIXELS_ID, 2, str(tmp_path / "random"), "random", seed=5)
    out = tmp_path / "pixels.pt"
    summary = main(["train", "--episodes", str(tmp_path / "expert"), str(tmp_path / "random"), "--out", str(out),
                    "--epochs", "2", "--validation-fraction", "0.4"])  # fmt: skip
    assert summary["epochs"] == 2 and out.is_file()
    env = gym.make(envs.PICK_PLACE_PIXELS_ID)
    assert load_classifier(out, env.observation_space).encoder.image_keys == ["pixels"]
    with pytest.raises(ValueError, match="was trained on observations"):
        load_classifier(out, gym.make(envs.PICK_PLACE_ID).observation_space)


def test_clear_errors(episodes, tmp_path):
    from rllib_sac_hybrid.robot.reward_classifier import list_episodes

    expert, random = episodes
    with pytest.raises(ValueError, match="all .* frames are labelled failure"):
        train_classifier([random], str(tmp_path / "c.pt"), progress=False)
    first = list_episodes([expert])[0]
    (tmp_path / "labels.json").write_text(json.dumps({first["id"]: [0, 1]}))
    with pytest.raises(ValueError, match=f"episode {first['id']} has {first['steps']} steps but 2 labels"):
        train_classifier([expert], str(tmp_path / "c.pt"), labels=str(tmp_path / "labels.json"), progress=False)
    (tmp_path / "labels.json").write_text(json.dumps({"not-an-id": 3}))
    with pytest.raises(ValueError, match="episode 'not-an-id' is not one of the 20 episodes"):
        train_classifier([expert], str(tmp_path / "c.pt"), labels=str(tmp_path / "labels.json"), progress=False)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="is not a classifier file"):
        load_classifier(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="reward_classifier='nope.pt' is not a file"):
        HybridSACConfig().environment(envs.PICK_PLACE_ID).training(reward_classifier="nope.pt").validate()
    with pytest.raises(ValueError, match="reward_classifier_mode='swap' is invalid"):
        HybridSACConfig().environment(envs.PICK_PLACE_ID).training(reward_classifier_mode="swap").validate()


def test_hand_labels_turn_frames_into_successes(episodes, tmp_path):
    """A labels file marks frames of failed episodes as successes (a human's judgement), keyed by
    the ids ``reward list`` prints."""
    from rllib_sac_hybrid.robot.reward_classifier import labelled_frames, list_episodes

    _, random = episodes
    listed = list_episodes([random])
    assert [row["success"] for row in listed] == [False] * len(listed)
    _, labels, _ = labelled_frames([random], None)
    a, b = listed[0], listed[1]
    (tmp_path / "labels.json").write_text(json.dumps({a["id"]: 5, b["id"]: [1] * b["steps"]}))
    _, hand, _ = labelled_frames([random], str(tmp_path / "labels.json"))
    assert hand[0].tolist() == [0.0] * 5 + [1.0] * (a["steps"] - 5)
    assert hand[1].tolist() == [1.0] * b["steps"]
    assert all((h == x).all() for h, x in zip(hand[2:], labels[2:]))


def test_progress_in_a_log_file_is_one_line_per_epoch(episodes, tmp_path, capsys):
    """Captured stdout is not a terminal: no redrawn bar, one readable line per epoch."""
    train_classifier(episodes, str(tmp_path / "c.pt"), epochs=2, patience=5, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2"]
    assert all("\r" not in line and "#" not in line for line in lines)
