"""Warm starts: ``bc_pretrain_steps`` clones the demonstrations before the first online step, and
``initial_policy`` starts the policy from a checkpoint or a state dict, with its shapes checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PICK_PLACE_ID, PICK_PLACE_SPARSE_ID
from rllib_sac_hybrid.robot.record import record
from rllib_sac_hybrid.robot.warm_start import load_initial_policy
from rllib_sac_hybrid.runtime.evaluation import greedy_evaluation
from tests.conftest import make_module, train_until_success

# The tests share the module's recorded demonstrations: one xdist worker runs them.
pytestmark = pytest.mark.xdist_group("warm_start")


@pytest.fixture(scope="module")
def demos(ray_session, tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("warm_start") / "demos")
    record(PICK_PLACE_SPARSE_ID, episodes=20, out=path, policy="scripted", seed=10_000)
    return path


def learner_module(algo):
    return algo.learner_group._learner.module[DEFAULT_MODULE_ID]


def test_behaviour_cloning_makes_a_greedy_policy_that_succeeds_before_any_online_step(demos):
    """20 scripted demonstrations of the sparse pick-and-place, 800 cloning steps, no env step
    trained on: the greedy policy succeeds where the untrained one does not (measured 0.00 ->
    0.48 after 500 steps, 0.58 after 2,000, 50 episodes), its gripper choices match the
    demonstrations', and the critics were trained on the demonstrations meanwhile."""
    config = (
        HybridSACConfig()
        .environment(PICK_PLACE_SPARSE_ID)
        .training(demonstrations=demos, bc_pretrain_steps=800)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        summary = algo.bc_pretrain_summary
        assert summary["bc_discrete_accuracy"] > 0.9, summary
        assert np.isfinite(summary["critic_loss"]) and summary["seconds"] > 0
        updater = algo.learner_group._learner.updater(DEFAULT_MODULE_ID)
        assert updater.num_critic_steps == 800 and updater.num_policy_steps == 0
        cloned = greedy_evaluation(algo.env_runner.module, PICK_PLACE_SPARSE_ID, 30)  # what the runner acts with
        assert cloned["success_rate"] >= 0.2, cloned
    finally:
        algo.stop()
    untrained = HybridSACConfig().environment(PICK_PLACE_SPARSE_ID).debugging(seed=0).build_algo()
    try:
        assert greedy_evaluation(untrained.env_runner.module, PICK_PLACE_SPARSE_ID, 30)["success_rate"] == 0.0
    finally:
        untrained.stop()


def test_the_defaults_learn_the_sparse_task_from_demonstrations_at_the_auto_utd(demos):
    """HybridSACConfig() with only the env and 20 demonstrations: cloning, then utd_ratio="auto"
    at 4 critic steps per env step. The CI version of ``benchmarks/learning.py --task
    pick-place-sparse --demos 20`` (seed 0, run alone: training success 0.97 at 3,000 env steps
    and 0.93 at 4,000, greedy 0.68 at 4,000; random actions: 0). Without demonstrations the
    sparse reward was not found in 30,000 env steps (README, "Demonstrations and interventions")."""
    algo = (
        HybridSACConfig()
        .environment(PICK_PLACE_SPARSE_ID)
        .training(demonstrations=demos, learner_torch_threads=1)
        .reporting(min_sample_timesteps_per_iteration=1000, metrics_num_episodes_for_smoothing=30)
        .debugging(seed=0)
        .build_algo()
    )
    try:
        curve = train_until_success(algo, None, 4_000)
        utd_ratio = algo.learner_group._learner.utd_ratio_for(DEFAULT_MODULE_ID)
        greedy = greedy_evaluation(algo.get_module(), PICK_PLACE_SPARSE_ID, 50, seed=0)
    finally:
        algo.stop()
    assert utd_ratio == 4
    assert curve[-1][1] >= 0.6, f"(env steps, training success): {curve}"
    assert greedy["success_rate"] >= 0.3, f"greedy {greedy}; curve {curve}"


def test_initial_policy_from_a_checkpoint_and_from_a_state_dict(demos, tmp_path):
    source = (
        HybridSACConfig()
        .environment(PICK_PLACE_ID)
        .training(demonstrations=demos, bc_pretrain_steps=50)
        .debugging(seed=1)
        .build_algo()
    )
    try:
        source.save_to_path(str(tmp_path / "ckpt"))
        trained = learner_module(source)
        torch.save(trained.state_dict(), tmp_path / "module.pt")
        torch.save({k: v for k, v in trained.state_dict().items() if k.startswith("actor.")}, tmp_path / "actor.pt")
    finally:
        source.stop()
    obs = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (64, 12)), dtype=torch.float32)
    want = trained.forward_inference({Columns.OBS: obs})[Columns.ACTIONS]
    for path in (tmp_path / "ckpt", tmp_path / "module.pt"):
        algo = (
            HybridSACConfig()
            .environment(PICK_PLACE_ID)
            .training(initial_policy=str(path))
            .debugging(seed=2)
            .build_algo()
        )
        try:
            module = learner_module(algo)
            got = module.forward_inference({Columns.OBS: obs})[Columns.ACTIONS]
            torch.testing.assert_close(got[0], want[0])
            torch.testing.assert_close(got[1], want[1])
            # The runner acts with it from the first step; targets follow the copied parts; the critics start anew.
            runner = algo.env_runner.module.forward_inference({Columns.OBS: obs})[Columns.ACTIONS]
            torch.testing.assert_close(runner[0], want[0])
            torch.testing.assert_close(module.target_encoder.state_dict(), module.encoder.state_dict())
            assert not torch.equal(next(module.critic.parameters()), next(trained.critic.parameters()))
        finally:
            algo.stop()
    module = make_module(trained.observation_space, trained.action_space, **_defaults_nets())
    assert load_initial_policy(module, tmp_path / "actor.pt") == ["actor"]  # a part alone is fine
    torch.testing.assert_close(module.actor.state_dict(), trained.actor.state_dict())


def _defaults_nets() -> dict:
    from rllib_sac_hybrid.config import HYBRID_SAC_DEFAULTS

    return {k: HYBRID_SAC_DEFAULTS[k] for k in ("encoder_latent_dim", "actor_hidden_dims", "critic_hidden_dims")}


def test_an_initial_policy_that_does_not_fit_is_refused_with_the_mismatches(tmp_path):
    import gymnasium as gym

    small = make_module(gym.spaces.Box(-1, 1, (12,)), gym.spaces.Box(-1, 1, (2,)))  # 4-wide actor
    torch.save(small.state_dict(), tmp_path / "small.pt")
    wide = make_module(gym.spaces.Box(-1, 1, (12,)), gym.spaces.Box(-1, 1, (2,)), actor_hidden_dims=(8,))
    before = {k: v.clone() for k, v in wide.state_dict().items()}
    with pytest.raises(ValueError, match=r"does not fit this module.*actor\..*\(4, 3\) in the file, \(8, 3\) here"):
        load_initial_policy(wide, tmp_path / "small.pt")
    torch.testing.assert_close(wide.state_dict(), before)  # nothing copied, not even the parts that fit
    torch.save({"critic.w": torch.zeros(1)}, tmp_path / "critic_only.pt")
    with pytest.raises(ValueError, match="has no actor weights"):
        load_initial_policy(wide, tmp_path / "critic_only.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="is not a torch state dict file"):
        load_initial_policy(wide, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="does not exist"):
        load_initial_policy(wide, tmp_path / "missing")


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({"bc_pretrain_steps": 10}, "bc_pretrain_steps=10 clones demonstrations, but demonstrations=None"),
        ({"bc_pretrain_steps": -1}, "bc_pretrain_steps"),
        ({"initial_policy": 3}, "initial_policy=3 is invalid"),
        ({"bc_weight": -0.1}, r"bc_weight=-0.1 is invalid; allowed: a number >= 0"),
        ({"bc_weight": "1"}, r"bc_weight='1' is invalid"),
    ],
)
def test_warm_start_settings_are_validated(training, message):
    with pytest.raises(ValueError, match=message):
        HybridSACConfig().environment(PICK_PLACE_ID).training(**training).validate()
