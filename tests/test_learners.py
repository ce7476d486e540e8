"""Two data-parallel learners (num_learners=2, CPU, gloo): they train, stay identical after every
iteration, average their gradients exactly, and restore from a checkpoint.

That they learn Pendulum is shown by ``python benchmarks/learners.py --learn`` (about 2.5 minutes
alone). Beside another xdist worker every all-reduce waits for a descheduled peer (a learning run
took 13 minutes there), so this module is marked ``serial``: ``make test`` runs it on its own after
the parallel phase, where both CPUs are free for the two learners. Averaged gradients equal to
the mean of the local ones (checked exactly below) make two learners one learner with twice the
batch, which the single-learner learning tests cover."""

from __future__ import annotations

import time

import pytest
import ray
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_sac_hybrid import HybridSACConfig, distributed

pytestmark = pytest.mark.serial

STEPS_PER_ITERATION = 200
ITERATIONS = 3  # the random warm-up, then two learning iterations


def two_learner_config() -> HybridSACConfig:
    return (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .learners(num_learners=2)  # one CPU each: the session's two
        .training(
            actor_hidden_dims=(64, 64),
            critic_hidden_dims=(64, 64),
            encoder_latent_dim=64,
            num_critics=4,
            num_subsample_critics=2,  # the subset draw must agree across learners
            num_random_steps=STEPS_PER_ITERATION,
            train_batch_size_per_learner=128,  # 2 x 128 rows per gradient step
        )
        .env_runners(rollout_fragment_length=4)
        .reporting(min_sample_timesteps_per_iteration=STEPS_PER_ITERATION, metrics_num_episodes_for_smoothing=5)
        .debugging(seed=0)
    )


def learner_snapshot(learner) -> dict:
    """Everything that must agree across learners, plus what must not (the next batch's indices)."""
    module = learner.module[DEFAULT_MODULE_ID].unwrapped()
    updater = learner.updater(DEFAULT_MODULE_ID)
    replay = learner.replay(DEFAULT_MODULE_ID)
    return {
        "rank": distributed.rank(),
        "weights": {name: tensor.clone() for name, tensor in module.state_dict().items()},  # incl. targets, log_alpha
        "head_generator": updater.head_generator.get_state(),
        "counters": updater.get_state()["num_critic_steps"],
        "replay_size": len(replay),
        "next_indices": replay.sample_indices(1, 8, torch.Generator().manual_seed(0)).tolist(),
        "own_draw": torch.randint(0, 2**30, (4,)).tolist(),
    }


def assert_learners_identical(snapshots: list[dict]) -> None:
    first, second = snapshots
    assert {first["rank"], second["rank"]} == {0, 1}
    assert first["weights"].keys() == second["weights"].keys()
    assert any("target" in name for name in first["weights"]) and "log_alpha" in first["weights"]
    for name, tensor in first["weights"].items():
        assert torch.equal(tensor, second["weights"][name]), f"{name} differs between the learners"
    assert torch.equal(first["head_generator"], second["head_generator"])
    assert first["counters"] == second["counters"] > 0
    assert first["replay_size"] == second["replay_size"]  # every learner holds every transition
    assert first["own_draw"] != second["own_draw"]  # but draws its own batches


def gradients_before_and_after_averaging(learner) -> dict:
    """One critic loss on a batch of this learner's own, its gradients, then the averaged ones."""
    updater = learner.updater(DEFAULT_MODULE_ID)
    batch = learner.replay(DEFAULT_MODULE_ID).sample(32)
    params = updater.params["critic"]
    for p in params:
        p.grad = None
    loss, _ = updater._critic_losses(batch, updater.alpha(), None)
    loss.backward()
    local = [p.grad.clone() for p in params]
    distributed.average_gradients_(params)
    averaged = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    return {"rank": distributed.rank(), "local": local, "averaged": averaged}


@pytest.fixture(scope="module")
def run(ray_session, tmp_path_factory) -> dict:
    """Trains with two learners (snapshots after every iteration), averages one gradient, saves,
    stops, restores into two new learners and trains one more iteration. Both runs hold both CPUs,
    so they take turns."""
    algo = two_learner_config().build_algo()
    out: dict = {"snapshots": []}
    try:
        for _ in range(ITERATIONS):
            result = algo.train()
            out["snapshots"].append(foreach_learner(algo, learner_snapshot))
        out["result"] = result
        out["gradients"] = {g["rank"]: g for g in foreach_learner(algo, gradients_before_and_after_averaging)}
        path = str(tmp_path_factory.mktemp("two_learners"))
        algo.save_to_path(path)
        out["saved"] = foreach_learner(algo, learner_snapshot)
    finally:
        algo.stop()
    restored = two_learner_config().build_algo()
    try:
        restored.restore_from_path(path)
        out["restored"] = foreach_learner(restored, learner_snapshot)
        restored.train()
        out["restored_trained"] = foreach_learner(restored, learner_snapshot)
    finally:
        restored.stop()
    return out


def foreach_learner(algo, fn) -> list:
    return [r.get() for r in algo.learner_group.foreach_learner(fn)]


def test_two_learners_train_on_both_batches(run):
    result = run["result"]
    assert result["num_env_steps_sampled_lifetime"] == ITERATIONS * STEPS_PER_ITERATION
    # Rows trained count both learners' batches: 2 x 128 per critic step.
    steps = result["learners"][DEFAULT_MODULE_ID]["num_critic_steps_lifetime"]
    assert result["learners"]["__all_modules__"]["num_env_steps_trained_lifetime"] == steps * 256


def test_weights_targets_and_temperature_agree_after_every_iteration(run):
    assert len(run["snapshots"]) >= 2
    for pair in run["snapshots"][1:]:  # the first iteration is warm-up only
        assert_learners_identical(pair)


def test_gradients_are_averaged_across_learners(run):
    g0, g1 = run["gradients"][0]["local"], run["gradients"][1]["local"]
    assert any(not torch.equal(a, b) for a, b in zip(g0, g1))  # different batches, different gradients
    for rank in (0, 1):
        for a, b, mean in zip(g0, g1, run["gradients"][rank]["averaged"]):
            torch.testing.assert_close(mean, (a + b) / 2, rtol=1e-6, atol=1e-7)


def test_two_learners_restore_from_a_checkpoint(run):
    saved, restored = run["saved"][0], run["restored"]
    for snapshot in restored:  # both new learners got the checkpoint's weights and replay
        for name, tensor in saved["weights"].items():
            assert torch.equal(tensor, snapshot["weights"][name]), name
        assert snapshot["replay_size"] == saved["replay_size"]
    assert_learners_identical(run["restored_trained"])
    assert run["restored_trained"][0]["counters"] > saved["counters"]


def _stall(learner, seconds: float = 10.0) -> int:
    time.sleep(seconds)  # the actor is single-threaded: its next update waits behind this
    return distributed.rank()


@pytest.mark.parametrize("failure", ["stalled", "dead"])
def test_a_failed_learner_ends_the_step_with_a_clear_error_not_a_30_minute_wait(ray_session, failure, monkeypatch):
    # Ray Train waits this long for the broken process group to shut down at algo.stop() (30 s by default).
    monkeypatch.setenv("TORCH_PROCESS_GROUP_SHUTDOWN_TIMEOUT_S", "2")
    t0 = time.monotonic()
    config = two_learner_config().training(learner_collective_timeout_s=5.0)
    algo = config.build_algo()
    try:
        algo.train()  # the random warm-up: no collective yet
        manager = algo.learner_group._worker_manager
        second = manager.actor_ids()[1]
        if failure == "stalled":
            algo.learner_group.foreach_learner(_stall, remote_actor_ids=[second], timeout_seconds=0.0)
        else:
            ray.kill(manager._actors[second], no_restart=True)
        start = time.monotonic()
        with pytest.raises(Exception) as error:
            algo.train()  # rank 0 reaches the gradient all-reduce; its peer never does (in time)
        waited = time.monotonic() - start
        message = str(error.value)
        print(f"{failure}: built and warmed up in {start - t0:.1f} s; train() failed after {waited:.1f} s")
        assert "learner_collective_timeout_s=5 s" in message and "all-reduce of the gradients" in message
        assert waited < 120, f"train() took {waited:.0f} s to fail"
    finally:
        algo.stop()  # quick: the shutdown timeout above
