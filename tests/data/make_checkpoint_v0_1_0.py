"""Writes the checkpoint of tests/data/checkpoint_v0_1_0: a HybridSAC run saved by version 0.1.0
(the flat package layout), restored by tests/test_checkpoint.py after the move to sub-packages."""

import sys

import ray

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PICK_PLACE_ID

out = sys.argv[1]  # python tests/data/make_checkpoint_v0_1_0.py tests/data/checkpoint_v0_1_0
ray.init(num_cpus=2, include_dashboard=False)
config = (
    HybridSACConfig()
    .environment(PICK_PLACE_ID)
    .training(
        encoder_latent_dim=8,
        actor_hidden_dims=(8,),
        critic_hidden_dims=(8,),
        discrete_critic_hidden_dims=(8,),
        num_critics=2,
        num_random_steps=20,
        train_batch_size_per_learner=8,
        replay_capacity=200,
        learner_torch_threads=1,
    )
    .env_runners(num_env_runners=0, rollout_fragment_length=2)
    .reporting(min_sample_timesteps_per_iteration=40)
    .debugging(seed=3)
)
algo = config.build_algo()
r = algo.train()
print(r["num_env_steps_sampled_lifetime"])
algo.save_to_path(out)
algo.stop()
