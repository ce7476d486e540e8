"""Named settings for known kinds of task: ``HybridSACConfig().preset("hil-serl")``.

A preset is a dict of ``.training(...)`` settings taken from a paper or its published code, each
value with its source. Applying one sets those values and leaves every other setting as it was;
settings passed after it win::

    HybridSACConfig().environment("rllib_sac_hybrid/GymHilPickCube-v0").preset("hil-serl").training(
        discrete_action_in_last_dim=True, demonstrations="demos/")

The defaults themselves live in ``settings.SETTINGS``; presets only say where a known
recipe differs from them or fixes a value on purpose.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # HIL-SERL (Luo et al. 2024, "Precise and Dexterous Robotic Manipulation via Human-in-the-Loop
    # RL"), rail-berkeley/hil-serl: serl_launcher/utils/launcher.py
    # make_sac_pixel_agent_hybrid_single_arm (the learned-gripper agent), and
    # examples/experiments/config.py DefaultTrainingConfig, examples/train_rlpd.py.
    "hil-serl": {
        "temperature_init": 1e-2,  # launcher.py: temperature_init=1e-2
        "discount": 0.97,  # config.py: discount = 0.97
        "use_backup_entropy": False,  # launcher.py: backup_entropy=False
        "num_critics": 2,  # launcher.py: critic_ensemble_size=2
        "num_subsample_critics": None,  # launcher.py: critic_subsample_size=None (min over both)
        # sac_hybrid_single.py policy_loss_fn: predicted_q = predicted_qs.mean(axis=0), the actor
        # maximises the mean of the two critics (the target keeps their min).
        "actor_q_reduction": "mean",
        "critic_layer_norm": True,  # launcher.py: use_layer_norm=True (critic, grasp critic, policy)
        "actor_layer_norm": True,
        "activation": "tanh",  # launcher.py: activations=nn.tanh
        "critic_hidden_dims": (256, 256),  # launcher.py: hidden_dims=[256, 256] (all three networks)
        "actor_hidden_dims": (256, 256),
        "discrete_critic_hidden_dims": (256, 256),
        "critic_value_bins": None,  # sac_hybrid_single.py critic_loss_fn: squared TD error (MSE) on scalar Qs
        # sac_hybrid_single.py grasp_critic_loss_fn: plain double-DQN targets for the grasp critic
        "discrete_advantage_learning": 0.0,
        # sac_hybrid_single.py forward_grasp_critic(observations, ...): the grasp critic reads the
        # observation only, and sample_actions takes its argmax next to the sampled arm action.
        "discrete_critic_reads_arm": False,
        "std_max": 5.0,  # launcher.py: std_max=5 (std_min=1e-5, as here)
        # config.py: cta_ratio = 2; train_rlpd.py runs cta_ratio - 1 critic-only steps, then one
        # step of critic, grasp critic, actor and temperature: two critic steps per actor step.
        "critic_actor_ratio": 2,
        "policy_update_freq": 1,
        # The learner runs free of the robot (train_rlpd.py's learner loop never waits for env
        # steps), so its critic steps per env step are not published: "auto" (docs/research/gym-hil.md).
        "utd_ratio": "auto",
        "train_batch_size_per_learner": 256,  # config.py: batch_size = 256
        "online_ratio": 0.5,  # train_rlpd.py: "50/50 sampling from RLPD", batch_size // 2 from each
        "tau": 0.005,  # sac_hybrid_single.py: soft_target_update_rate=0.005
        "actor_lr": 3e-4,  # sac_hybrid_single.py: learning_rate 3e-4 for every optimizer
        "critic_lr": 3e-4,
        "discrete_critic_lr": 3e-4,
        "temperature_lr": 3e-4,
        # usb_pickup_insertion/config.py and object_handover/config.py: GripperPenaltyWrapper(
        # penalty=-0.02) on each gripper flip, added to the grasp critic's reward only
        # (sac_hybrid_single.py: grasp_rewards = rewards + grasp_penalty); the class default is -0.05.
        "grasp_penalty": -0.02,
        "image_augmentation": "random_shift",  # make_batch_augmentation_func: random crop, padding 4
        "image_shift_pad": 4,
        # sac_hybrid_single.py sample_actions: grasp_action = grasp_q_values.argmax(axis=-1), no
        # epsilon: the gripper explores only through demonstrations and interventions.
        "epsilon_start": 0.0,
        "epsilon_end": 0.0,
        # config.py: random_steps = 0, training_starts = 100 (the learner waits for 100 online
        # transitions). Here learning starts after num_random_steps steps of random actions, so
        # the closest is a short random warm-up of the same length.
        "num_random_steps": 100,
        # Not set, so this library's cloning of demonstrations applies (train_rlpd.py has none; the
        # preset learned gym-hil better with it: docs/research/gym-hil.md). HIL-SERL's exact recipe:
        # .training(bc_pretrain_steps=0, bc_weight=0.0).
    },
    # REDQ (Chen et al. 2021, "Randomized Ensembled Double Q-Learning"), watchernyu/REDQ:
    # redq/algos/redq_sac.py REDQSACAgent defaults.
    "redq": {
        "num_critics": 10,  # num_Q=10
        "num_subsample_critics": 2,  # num_min=2
        "utd_ratio": 20,  # utd_ratio=20
        "policy_update_freq": 1,  # policy_update_delay=20 critic steps: one actor step per env step
        "actor_q_reduction": "mean",  # the policy loss uses ave_q, the mean over all N heads
        "num_random_steps": 5000,  # start_steps=5000
        "discount": 0.99,  # gamma=0.99
        "tau": 0.005,  # polyak=0.995
        "train_batch_size_per_learner": 256,  # batch_size=256
        "actor_lr": 3e-4,  # lr=3e-4
        "critic_lr": 3e-4,
        "temperature_lr": 3e-4,
        "critic_layer_norm": False,  # plain MLPs, hidden_sizes=(256, 256)
        "actor_layer_norm": False,
        "critic_hidden_dims": (256, 256),
        "actor_hidden_dims": (256, 256),
        "use_backup_entropy": True,
        "critic_value_bins": None,  # redq_sac.py: q_loss_all = self.mse_criterion(...), scalar Q-networks
    },
    # DroQ (Hiraoka et al. 2022, "Dropout Q-Functions for Doubly Efficient RL"): Algorithm 2 and
    # its hyperparameters, as sbx's and sheeprl's DroQ implementations default them.
    "droq": {
        "num_critics": 2,  # M=2 Q-functions
        "num_subsample_critics": None,  # the target is the min over both (Algorithm 2, line 6)
        "actor_q_reduction": "mean",  # the policy loss uses their mean (Algorithm 2, line 10)
        "critic_dropout": 0.01,  # dropout rate 0.01, followed by LayerNorm in each hidden layer
        "critic_layer_norm": True,
        "utd_ratio": 20,  # G=20 critic updates per env step
        "policy_update_freq": 1,  # one policy update per env step
        "num_random_steps": 5000,  # as REDQ, on whose code DroQ's is built
        "discount": 0.99,
        "tau": 0.005,
        "train_batch_size_per_learner": 256,
        "critic_hidden_dims": (256, 256),
        "actor_hidden_dims": (256, 256),
        "critic_value_bins": None,  # scalar Q-functions regressed by squared TD error, as in SAC and REDQ
    },
}


def preset_settings(name: str) -> dict[str, Any]:
    """A copy of preset ``name``'s settings; ValueError listing the names if unknown."""
    if name not in PRESETS:
        raise ValueError(f"preset {name!r} is unknown; allowed: {sorted(PRESETS)}.")
    return dict(PRESETS[name])
