"""HybridSAC learns Pendulum-v1: mean return >= -400 within a CI-sized budget."""

from __future__ import annotations

from rllib_sac_hybrid import HybridSACConfig

TARGET_RETURN = -400.0
MAX_ENV_STEPS = 10_000


def test_pendulum_reaches_minus_400(ray_session):
    config = (
        HybridSACConfig()
        .environment("Pendulum-v1")
        .training(
            actor_hidden_dims=(64, 64),
            critic_hidden_dims=(64, 64),
            encoder_latent_dim=64,
            num_random_steps=500,
        )
        .env_runners(rollout_fragment_length=4)
        .reporting(min_sample_timesteps_per_iteration=500, metrics_num_episodes_for_smoothing=5)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    returns = []
    try:
        while True:
            result = algo.train()
            returns.append(result["env_runners"]["episode_return_windowed"])
            steps = result["num_env_steps_sampled_lifetime"]
            if returns[-1] >= TARGET_RETURN or steps >= MAX_ENV_STEPS:
                break
    finally:
        algo.stop()
    assert returns[-1] >= TARGET_RETURN, f"returns per 500 env steps: {[round(r) for r in returns]}"
