"""LeRobot's datasets in and out (``robot.lerobot_dataset``).

The mapping tests run everywhere. The round trips run LeRobot's own writer and reader in a LeRobot
environment (``make lerobot-env`` builds ``.venv-lerobot``; ``LEROBOT_PYTHON`` names another) and
are skipped, saying so, where there is none.
"""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rllib_sac_hybrid.data.demonstrations import read_episodes
from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_PIXELS_ID
from rllib_sac_hybrid.robot import lerobot_dataset as lr
from rllib_sac_hybrid.robot.record import record

REPO = Path(__file__).resolve().parents[1]
LEROBOT_PYTHON = os.environ.get(lr.LEROBOT_PYTHON_ENV) or str(REPO / ".venv-lerobot" / "bin" / "python")
needs_lerobot = pytest.mark.skipif(
    not Path(LEROBOT_PYTHON).is_file(),
    reason=f"no LeRobot environment: `make lerobot-env` builds .venv-lerobot (or set {lr.LEROBOT_PYTHON_ENV})",
)
CAMERA_ENV = {"image_size": 32, "render_quality": "cpu", "reward_type": "sparse"}


def test_observation_keys_map_to_lerobot_feature_names():
    space = gym.spaces.Dict({
        "agent_pos": gym.spaces.Box(-1, 1, (18,)),
        "environment_state": gym.spaces.Box(-1, 1, (3,)),
        "pixels": gym.spaces.Dict({"front": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)}),
        "tactile": gym.spaces.Dict({"left": gym.spaces.Box(-1, 1, (4,))}),
    })  # fmt: skip
    assert lr.feature_keys(space) == {
        "agent_pos": "observation.state",
        "environment_state": "observation.environment_state",
        "pixels/front": "observation.images.front",
        "tactile/left": "observation.tactile.left",
    }
    assert lr.feature_keys(gym.spaces.Box(-1, 1, (5,))) == {None: "observation.state"}
    renamed = lr.feature_keys(space, {"pixels/front": "observation.images.top"})
    assert renamed["pixels/front"] == "observation.images.top"
    with pytest.raises(ValueError, match="not an observation key"):
        lr.feature_keys(space, {"camera": "observation.images.top"})
    with pytest.raises(ValueError, match="two observation keys map to one"):
        lr.feature_keys(space, {"tactile/left": "observation.state"})


@pytest.mark.parametrize(
    "space, action",
    [
        (gym.spaces.Box(-1, 1, (3,)), np.array([0.5, -0.25, 1.0], np.float32)),
        (gym.spaces.Discrete(3, start=-1), np.int64(1)),
        (gym.spaces.Tuple((gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(3))),
         (np.array([0.1, 0.2], np.float32), 2)),
        (gym.spaces.Dict({"grip": gym.spaces.Discrete(2), "move": gym.spaces.Box(-1, 1, (2,))}),
         {"grip": 1, "move": np.array([0.3, -0.3], np.float32)}),
    ],
)  # fmt: skip
def test_actions_flatten_to_one_vector_and_back(space, action):
    vector = lr.flat_action(action, space)
    assert vector.dtype == np.float32 and vector.shape == (lr.action_size(space),)
    back = lr.env_action(vector, space)
    assert space.contains(back)
    np.testing.assert_equal(lr.flat_action(back, space), vector)
    with pytest.raises(ValueError, match="does not fit"):
        lr.env_action(np.zeros(lr.action_size(space) + 1, np.float32), space)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """gym-hil pick-cube from 32x32 cameras: a scripted success (terminated, succeed on its last
    step), and random steps with a simulated person taking over (interventions, a time-out)."""
    root = tmp_path_factory.mktemp("recordings")
    success = root / "scripted"
    record(GYM_HIL_PICK_CUBE_PIXELS_ID, 1, str(success), "scripted", seed=3, env_config=CAMERA_ENV)
    helped = root / "helped"
    human = {"intervention_prob": 0.3, "intervention_steps": 5, "decay_steps": 1_000_000}
    record(GYM_HIL_PICK_CUBE_PIXELS_ID, 1, str(helped), "random", seed=4,
           env_config={**CAMERA_ENV, "simulated_human": human})  # fmt: skip
    return [str(success), str(helped)]


def executed(episode) -> list[np.ndarray]:
    """What ran each step: the person's action where they intervened, else the recorded one."""
    space = gym.spaces.Box(np.array([-1, -1, -1, 0], np.float32), np.array([1, 1, 1, 2], np.float32))
    out = []
    for t in range(len(episode)):
        info = episode.get_infos(t + 1)
        chosen = info["teleop_action"] if info.get("is_intervention") else episode.get_actions(t)
        out.append(lr.flat_action(chosen, space))
    return out


def assert_same_episodes(original, restored, exact_images: bool) -> None:
    assert len(original) == len(restored)
    for before, after in zip(original, restored):
        steps = len(before)
        assert len(after) == steps
        for t in range(steps):  # o_0 .. o_{T-1}; LeRobot's format keeps no final observation
            a, b = before.get_observations(t), after.get_observations(t)
            np.testing.assert_array_equal(np.asarray(a["agent_pos"], np.float32), b["agent_pos"])
            for camera in ("front", "wrist"):
                x, y = np.asarray(a["pixels"][camera]), np.asarray(b["pixels"][camera])
                assert y.dtype == np.uint8 and y.shape == x.shape
                if exact_images:
                    np.testing.assert_array_equal(x, y)
                else:  # LeRobot's video (AV1): close, not equal
                    assert np.abs(x.astype(float) - y).mean() < 6.0, camera
        # The final observation repeats the last stored one (a terminal step never bootstraps from it).
        np.testing.assert_array_equal(
            after.get_observations(steps)["agent_pos"], after.get_observations(steps - 1)["agent_pos"]
        )
        np.testing.assert_allclose(np.stack(executed(before)), np.stack([np.asarray(a) for a in after.get_actions()]))
        np.testing.assert_allclose(before.get_rewards(), after.get_rewards())
        assert (after.is_terminated, after.is_truncated) == (before.is_terminated, before.is_truncated)
        for t in range(1, steps + 1):
            old, new = before.get_infos(t), after.get_infos(t)
            assert bool(new["is_intervention"]) == bool(old.get("is_intervention", False)), t
            assert new["succeed"] == bool(old.get("succeed", False)), t
            assert new["discrete_penalty"] == pytest.approx(old.get("discrete_penalty", 0.0))


@needs_lerobot
@pytest.mark.parametrize("images", ["png", "video"])
def test_episodes_round_trip_through_a_lerobot_dataset(recordings, tmp_path, images):
    original = read_episodes(recordings)
    assert any(i.get("is_intervention") for e in original for i in e.get_infos()), "the recording has interventions"
    assert original[0].is_terminated and original[1].is_truncated
    summary = lr.to_lerobot(recordings, str(tmp_path / "dataset"), "local/pick_cube", GYM_HIL_PICK_CUBE_PIXELS_ID,
                            CAMERA_ENV, images=images, lerobot_python=LEROBOT_PYTHON)  # fmt: skip
    assert summary["episodes"] == 2 and summary["frames"] == sum(len(e) for e in original)
    back = lr.from_lerobot(str(tmp_path / "dataset"), "local/pick_cube", str(tmp_path / "episodes"),
                           GYM_HIL_PICK_CUBE_PIXELS_ID, CAMERA_ENV, lerobot_python=LEROBOT_PYTHON)  # fmt: skip
    assert back["intervention_steps"] > 0
    assert_same_episodes(original, read_episodes(str(tmp_path / "episodes")), exact_images=images == "png")


@needs_lerobot
def test_a_dataset_that_does_not_fit_the_env_is_refused_naming_the_feature(recordings, tmp_path):
    lr.to_lerobot(recordings[:1], str(tmp_path / "dataset"), "local/pick_cube", GYM_HIL_PICK_CUBE_PIXELS_ID,
                  CAMERA_ENV, images="png", lerobot_python=LEROBOT_PYTHON)  # fmt: skip
    dataset, out = str(tmp_path / "dataset"), str(tmp_path / "out")
    with pytest.raises(ValueError, match="observation.images.front.*has shape"):
        lr.from_lerobot(dataset, "local/pick_cube", out, GYM_HIL_PICK_CUBE_PIXELS_ID, {**CAMERA_ENV, "image_size": 48},
                        lerobot_python=LEROBOT_PYTHON)  # fmt: skip
    with pytest.raises(ValueError, match="no feature 'observation.images.top'"):
        lr.from_lerobot(dataset, "local/pick_cube", out, GYM_HIL_PICK_CUBE_PIXELS_ID, CAMERA_ENV,
                        key_map={"pixels/front": "observation.images.top"}, lerobot_python=LEROBOT_PYTHON)  # fmt: skip
