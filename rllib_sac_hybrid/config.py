"""``HybridSACConfig``: every HybridSAC setting, its default (defined here only) and its checks."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.util.debug import log_once

from rllib_sac_hybrid.callbacks import EpisodeMetricsCallback
from rllib_sac_hybrid.demos import FORMATS as DEMONSTRATION_FORMATS
from rllib_sac_hybrid.env_runner import HybridSACEnvRunner, HybridSACMultiAgentEnvRunner
from rllib_sac_hybrid.module import MODEL_CONFIG_KEYS
from rllib_sac_hybrid.networks import ACTIVATIONS
from rllib_sac_hybrid.observation_normalization import NORMALIZATIONS as OBSERVATION_NORMALIZATIONS
from rllib_sac_hybrid.presets import preset_settings
from rllib_sac_hybrid.rllib_settings import check_rllib_settings, check_training_names
from rllib_sac_hybrid.spaces import ActionLayout, observation_dims

ACTOR_Q_REDUCTIONS = ("min", "mean")

# name -> default, for every HybridSAC-specific setting settable through `.training(...)`.
HYBRID_SAC_DEFAULTS: dict[str, Any] = {
    # Critic ensemble and targets.
    "num_critics": 2,
    "num_subsample_critics": None,  # None: min over all N target heads
    # 0.99 leaves "act now" and "act next step" a (1 - gamma) V apart: at the goal the discrete
    # critic's argmax then kept "stay" over "open" and the greedy policy stalled (pick-and-place,
    # 10,000 env steps: greedy success 0.53 at 0.99, 0.96 at 0.97; training 0.93 / 0.97).
    # HIL-SERL uses 0.97 on its robots.
    "discount": 0.97,
    "n_step": 1,  # n-step returns: the discounted sum of n rewards, then gamma^n times the bootstrap
    "reward_scaling": None,  # or "return_std": rewards / running std of discounted returns
    # Off by default (measured in the README's "Observation normalisation").
    "observation_normalization": None,  # or "running": vector keys standardised in the module
    "tau": 0.005,
    "use_backup_entropy": True,
    # Update-to-data loop. "auto": 1 (SAC) while batches come from the online replay alone, 4
    # while they mix in demonstration-replay rows (recorded demonstrations or human interventions:
    # RLPD's regime, where offline rows make a higher UTD pay), except with camera observations
    # (1: no gain measured there, at 4x the CNN updates). Measured in the README ("Learning").
    "utd_ratio": "auto",
    "policy_update_freq": 1,
    "critic_actor_ratio": None,  # None: one actor step per update (after its last critic step)
    # Temperature. An entropy bonus of alpha ~ 1 a step swamps rewards of a few units per
    # episode, and log_alpha moves about lr per step: HIL-SERL's 1e-2 (see the README's "Learning").
    "temperature_init": 0.01,
    # None: -(dim(a_c) + 1) / 2 with a discrete part (HIL-SERL's; GraspCarry explores its gripper
    # task only with a high target), -dim(a_c) without one (SAC's, Haarnoja et al. 2018: on Reacher-v5
    # -dim/2 kept a control-cost task's policy too noisy to reach -6; README, "Wall clock").
    "target_entropy": None,
    # Optimisation.
    "actor_lr": 3e-4,
    "critic_lr": 3e-4,
    "temperature_lr": 3e-4,
    "grad_clip_norm": 40.0,
    "actor_q_reduction": "min",
    # Networks. "auto" widths: 64 with a discrete critic (hybrid actions), 256 for a Box action
    # (module.AUTO_HIDDEN_DIMS: measured both ways, README "Network widths").
    "encoder_latent_dim": 64,
    "shared_encoder": True,
    "actor_hidden_dims": "auto",
    "critic_hidden_dims": "auto",
    "activation": "silu",
    "actor_layer_norm": True,
    "critic_layer_norm": True,
    "actor_dropout": 0.0,
    "critic_dropout": 0.0,
    "init_final": None,  # None: orthogonal output layers
    # None: scalar heads, squared TD error; K: categorical heads over K values, two-hot cross-entropy;
    # "auto": 101 with a discrete critic (hybrid actions) and vector observations, else None
    # (module.AUTO_CRITIC_VALUE_BINS).
    "critic_value_bins": "auto",
    "std_min": 1e-5,
    "std_max": 10.0,
    # Camera images (uint8 H x W x C observation keys).
    "image_backbone": None,  # None: a small CNN; or a callable / "pkg.module:function" of in_channels
    "freeze_image_backbone": False,  # True: no training, features computed once per batch
    "image_backbone_weights": None,  # a file of python -m rllib_sac_hybrid.pretrain: loaded into each camera's backbone
    "image_spatial_features": 8,  # learned spatial kernels per backbone channel
    "image_augmentation": "random_shift",  # DrQ's pad-and-crop on image keys at replay-sample time; or None
    "image_shift_pad": "auto",
    # Hybrid actions: the discrete part (e.g. a gripper's close / stay / open).
    "discrete_action_in_last_dim": False,  # LeRobot / gym-hil layout: a Box whose last component is the index
    "fixed_discrete_action": None,  # an index: no discrete critic, always this choice
    "discrete_critic_hidden_dims": (64, 64),
    "discrete_critic_lr": 3e-4,
    # False: Q_d(s) (HIL-SERL's); True: Q_d(s, a_c), the gripper chosen after the arm; "auto": True with
    # vector observations, False with camera images. True narrowed the greedy gap on GraspCarry with
    # observe_grasped and on the pick-and-place, but on GraspCarry as specified (its first-grasp +1 not in
    # the observation) it reached 0.13 / 0.43 / 0.23 training success at 100,000 env steps (seeds 0-2)
    # against False's 0.67 / 0.83 / 0.27, and the pixel task learned later with it (README, "The gripper
    # chosen after the arm").
    "discrete_critic_reads_arm": False,
    # Advantage learning (Bellemare et al. 2016) in the discrete critic's target. Off: on GraspCarry from
    # scratch 0.5 helped 3 seed pairs of 8 and hurt 2 (README, "Advantage learning for the gripper").
    "discrete_advantage_learning": 0.0,
    "discrete_penalty_key": "discrete_penalty",
    "grasp_penalty": None,  # None: the env's info[discrete_penalty_key]; a number: that on every gripper flip
    "discrete_exploration": "epsilon",  # or "boltzmann": sample softmax(Q_d / alpha) while exploring
    "epsilon_start": 0.2,
    "epsilon_end": 0.02,
    "epsilon_decay_steps": 20_000,
    # Replay and data collection.
    "replay_capacity": 1_000_000,
    "num_random_steps": 1000,
    "checkpoint_replay": True,  # save the replay buffer with the learner's state
    "non_finite_transitions": "raise",  # or "drop": NaN / inf in an env's observation, reward or action
    # Demonstrations and human interventions (RLPD / HIL-SERL): a second replay, mixed into every batch.
    "demonstrations": None,  # a directory of recorded episodes (or a list), or Minari dataset ids
    "demonstration_format": "rllib",  # or "minari"
    "online_ratio": 0.5,  # of each batch's rows from the online replay, while the demonstration replay has rows
    "demo_capacity": 100_000,  # transitions the demonstration replay keeps (loaded + interventions)
    # A learned reward (reward.py): a success classifier on the observations, run in each EnvRunner.
    "reward_classifier": None,  # a file of python -m rllib_sac_hybrid.reward train
    "reward_classifier_threshold": None,  # None: the file's (best F1 on its validation frames); or a probability
    "reward_classifier_mode": "replace",  # or "add": the classifier's 1.0 / 0.0 on top of the env's reward
    "reward_classifier_terminates": True,  # a classified success ends the episode (a real robot has no other end)
    # Warm starts (warm_start.py).
    "initial_policy": None,  # a HybridSAC checkpoint or state dict file: actor, encoder, discrete critic from it
    # "auto": 1000 steps / weight 1.0 when demonstrations= is set, 0 without (README, "Warm starts").
    "bc_pretrain_steps": "auto",  # behaviour cloning steps on the demonstrations before the first online step
    "bc_weight": "auto",  # online: the actor loss adds bc_weight * ||greedy action - demonstrated action||^2
    "bc_q_filter": False,  # True: bc_weight's term only where Q(s, a_demo) > Q(s, greedy action)
    # Speed.
    "torch_compile": False,  # off by default: +1.3x per update on CPU, but 20-40 s of compiling per process
    "torch_compile_mode": "max-autotune-no-cudagraphs",
    "learner_torch_threads": None,  # None: the CPUs Ray gave the learner's process (see learner_torch_threads)
    "env_runner_torch_threads": 1,
    # Several learners: a collective (gradient all-reduce, broadcast) not done in this time fails the
    # step with an error on every learner still alive (RLlib's process group would wait 30 minutes).
    "learner_collective_timeout_s": 300.0,
    # Sampling: synchronous rounds (default) or runners that step on while the learner trains.
    "async_sampling": False,
    "weights_push_every_rounds": 1,  # async: new weights to the runners every this many rounds ...
    "weights_push_every_s": None,  # ... or every this many seconds, whichever comes first
    # async: while no sample has arrived, the learner goes on updating, up to this many critic
    # steps per env step received (HIL-SERL's learner is free-running); None: exactly utd_ratio.
    "utd_ratio_max": None,
}
# Settings whose default changed after checkpoints were being written, with the value the versions
# before them ran with: a checkpoint saved then lacks the key, and restores with that value
# (HybridSACConfig.from_state), so its networks keep their shapes.
DEFAULTS_BEFORE_THE_SETTING: dict[str, Any] = {"critic_value_bins": None, "discrete_critic_reads_arm": False}
NON_FINITE_MODES = ("raise", "drop")
REWARD_SCALINGS = ("return_std", None)
DISCRETE_EXPLORATIONS = ("epsilon", "boltzmann")
IMAGE_AUGMENTATIONS = ("random_shift", None)
# bc_pretrain_steps "auto" with demonstrations and bc_weight "auto": measured on the sparse pick-and-place,
# GraspCarry, gym-hil's pick-cube (demonstrations, and a simulated human's interventions) and the pixel
# task (README, "Warm starts" and "gym-hil pick-cube").
AUTO_BC_PRETRAIN_STEPS = 1000
AUTO_BC_WEIGHT = 1.0
# utd_ratio "auto": critic steps per env step without and with demonstration-replay rows in the batches.
# 4 with them: gym-hil's pick-cube with 20 demonstrations is learned in 10,000 env steps at 4 and 8, not at 1;
# 8 cost twice the compute for nothing more. Observations with camera images stay at 1: the pixel task with 20
# demonstrations learned less at 4 (training 0.53 vs >= 0.8 at 8,000 env steps) at 3-4x the time per env step.
AUTO_UTD_RATIO_ONLINE = 1
AUTO_UTD_RATIO_WITH_DEMONSTRATIONS = 4
TORCH_COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class HybridSACConfig(AlgorithmConfig):
    """Configuration of HybridSAC: SAC with a critic ensemble, subsampled targets and a UTD loop.

    Example:
        >>> from rllib_sac_hybrid import HybridSACConfig
        >>> config = (
        ...     HybridSACConfig()
        ...     .environment("Pendulum-v1")
        ...     .training(num_critics=10, num_subsample_critics=2, utd_ratio=20)
        ... )
        >>> algo = config.build_algo()  # doctest: +SKIP
        >>> algo.train()  # doctest: +SKIP

    HybridSAC settings (all through ``.training(...)``):
        num_critics: N, critic heads in the ensemble.
        num_subsample_critics: M, target heads drawn per critic step for the min (None = N).
        utd_ratio: critic updates per env step; each on a fresh batch, each followed by Polyak.
            "auto" (default): 1 while each batch comes from the online replay alone, 4 while
            the demonstration replay holds rows (``demonstrations=``, or a human's
            interventions) and batches mix them in (RLPD's regime); 1 with camera images.
        policy_update_freq: every this many updates, this many actor + temperature steps.
        critic_actor_ratio: None (default), or k: an actor + temperature step after every k-th
            critic step, on that step's batch, counted across updates (HIL-SERL's ``cta_ratio``).
            It fixes critic steps per actor step apart from ``utd_ratio``, the critic steps per
            env step: ``utd_ratio=4, critic_actor_ratio=2`` gives two actor steps per env step.
            Needs ``policy_update_freq=1``.
        discount: gamma. ``training(gamma=...)`` is accepted as an alias.
        n_step: n-step returns (default 1): each critic target is the discounted sum of up to n
            rewards plus gamma^n times the bootstrap from the n-th next observation; it stops at
            a termination (no bootstrap) and at a truncation (bootstrap from the true last
            observation, gamma^k for the k steps taken). Made from the stored transitions when a
            batch is sampled (online and demonstration replay alike). The entropy term of the
            target (``use_backup_entropy``) is that of the bootstrap action only.
        tau: Polyak coefficient, target <- tau * online + (1 - tau) * target.
        temperature_init: initial alpha; log_alpha starts at log(temperature_init).
        target_entropy: entropy target of the temperature loss; None = -(dim(a_c) + 1) / 2 with a
            discrete critic (HIL-SERL's), -dim(a_c) without one (SAC's).
        actor_lr, critic_lr, temperature_lr: Adam learning rates.
        grad_clip_norm: max gradient norm of every optimizer step (None = no clipping).
        use_backup_entropy: subtract alpha * log pi' in the critic target.
        actor_q_reduction: "min" (SAC) or "mean" (REDQ) over heads in the actor loss.
        encoder_latent_dim, shared_encoder: observation encoder width; share it with the actor.
        actor_hidden_dims, critic_hidden_dims: MLP widths; "auto": (64, 64) with a discrete
            critic (hybrid actions), (256, 256) for a Box action.
        activation, actor_layer_norm, critic_layer_norm, actor_dropout, critic_dropout,
        init_final: MLP settings; init_final = uniform(+-x) init of scalar critics' output layer
            (None = orthogonal).
        critic_value_bins: None (Q regressed by squared TD error) or K >= 2: categorical critic
            heads, each a distribution over K fixed values from -3,000 to 3,000 (symlog-spaced)
            learned by cross-entropy to the two-hot split of the TD target; "auto": 101 with a
            discrete critic (hybrid actions) and vector observations, else None (and None when
            ``init_final`` is set: that asks for scalar heads).
        std_min, std_max: clamp of the actor's standard deviation.
        discrete_action_in_last_dim: read a Box action's last component as a discrete index
            (LeRobot / gym-hil layout). Tuple(Box, Discrete) and Dict(Box, Discrete) need no flag.
        fixed_discrete_action: an index that replaces the discrete critic (always this choice).
        discrete_critic_hidden_dims, discrete_critic_lr: the discrete critic's MLP and Adam lr.
        discrete_critic_reads_arm: True: the discrete critic also reads the arm (continuous)
            action taken in the same step, Q_d(s, a_c), and the gripper is chosen after the arm:
            a_c ~ pi(s), then argmax_k Q_d(s, a_c)_k. A gripper command that takes effect after
            the step's motion (open where the move ends) is then judged on that motion. False:
            Q_d(s) (HIL-SERL's). "auto": True with vector observations, False with camera images.
        discrete_advantage_learning: beta in [0, 1) (0: plain double DQN): the discrete critic's
            target of a choice below its best in s is lowered by beta times the shortfall,
            max_k Q_d(s)_k - Q_d(s)[a_d] (advantage learning, Bellemare et al. 2016). The best
            choice keeps its value; the others settle 1 / (1 - beta) times further below it, so
            the greedy argmax holds where acting now and one step later differ by (1 - gamma) V.
        discrete_penalty_key: info key of the penalty added to the discrete critic's reward.
        reward_scaling: None: rewards as the env gives them; "return_std": every sampled batch's
            rewards (and discrete penalties) divided by the running std of the discounted
            returns of the steps stored so far (``reward_scale.ReturnScale``), so that the
            critic, the temperature and the learning rates see rewards of one scale whatever
            the task's units (learners/<module>/reward_scale reports the factor).
        observation_normalization: None: observations reach the encoders as the env gives them;
            "running": every vector observation key (never camera images) is standardised, as
            clip((x - mean) / std, -10, 10), by the running mean and std of all observations the
            learner has received (demonstrations included). The statistics are buffers of the
            module, so EnvRunners, ``forward_inference`` and checkpoints use the same ones; they
            change once per round, before its updates (``observation_normalization.py``).
        grasp_penalty: None (default): that info value as the env reports it; a number (e.g.
            HIL-SERL's -0.05): this penalty on every step whose info reports a non-zero one (a
            gripper flip), whatever magnitude the env uses.
        discrete_exploration: how the discrete part explores (greedy at evaluation / inference either
            way). "epsilon" (default): epsilon-greedy with the schedule below, the same rate in
            every state. "boltzmann": sampled from softmax(Q_d(s, .) / alpha), alpha being SAC's
            current temperature: choices the discrete critic cannot tell apart are tried about as
            often as each other (e.g. "stay" and "open" while holding at the goal), a choice it
            knows to be worse (opening mid-lift) almost never; the epsilon settings then do nothing.
        epsilon_start, epsilon_end, epsilon_decay_steps: linear epsilon-greedy schedule of the
            discrete part over env steps while exploring (``discrete_exploration="epsilon"``).
        replay_capacity: transitions kept in the replay buffer.
        num_random_steps: env steps with uniform random actions before learning starts.
        non_finite_transitions: what a NaN or inf in an env's observation, reward or action does:
            "raise" (a ValueError naming the field and the EnvRunner) or "drop" (the transition is
            not stored; counted in env_runners/num_non_finite_transitions_dropped). A non-finite
            loss or gradient never reaches the weights either way: that optimizer step is skipped
            and counted (learners/<module>/<optimizer>_steps_skipped).
        checkpoint_replay: include the replay buffer in checkpoints (default True: a restored run
            continues with everything it had collected; False keeps checkpoints small).
        demonstrations: recorded episodes loaded into a second, demonstration replay at start: a
            directory (or list) in RLlib's offline episode format - what
            ``offline_data(output=..., output_write_episodes=True)`` and
            ``python -m rllib_sac_hybrid.record`` write - or Minari dataset ids with
            ``demonstration_format="minari"``. Transitions a human drove (``info["is_intervention"]``)
            go there too. Online data never does; the demonstration replay is always checkpointed.
        reward_classifier: a success classifier file (``python -m rllib_sac_hybrid.reward
            train``): every EnvRunner computes the reward from it, batched over its sub-envs, and
            sets ``info["is_success"]`` (the env's own flag stays as ``info["env_is_success"]``).
            ``reward_classifier_threshold``: the probability from which a frame counts as
            success (None: the file's, chosen for the best F1 on its validation frames);
            ``reward_classifier_mode``: "replace" the env's reward by 1.0 / 0.0, or "add" it.
            ``reward_classifier_terminates``: a frame classified as success ends the episode
            (``terminated``), as HIL-SERL's and LeRobot's classifier wrappers do; the env's own
            terminations stay.
        initial_policy: start the actor, the encoder it reads, the discrete critic and the
            observation statistics from a HybridSAC checkpoint (an Algorithm's, or an RLModule's
            in one) or a ``torch.save(module.state_dict())`` file; every tensor must match in name
            and shape (a ValueError lists the mismatches). The continuous critics start anew.
        bc_pretrain_steps: before the first online step, this many steps on demonstration batches:
            behaviour cloning of the actor (log-likelihood of the demonstrated action) and of
            the discrete critic (cross-entropy of its values as logits), each next to a critic step
            on the same batch so that online training starts with critics that value the
            demonstrated actions. Needs ``demonstrations``. 0 (default): none.
        bc_weight: during online training, the actor loss adds ``bc_weight`` times the squared
            distance of the greedy arm action tanh(mean) to the demonstrated one (TD3+BC's term),
            over each policy step's demonstration rows (recorded demonstrations and human
            interventions), so that the policy keeps what the demonstrations show while the
            critics are still wrong; the std stays the entropy term's. 0: plain SAC. "auto"
            (default): 1.0; no effect while the demonstration replay is empty, so a run with neither
            demonstrations nor interventions is plain SAC.
        online_ratio: the share of each batch's rows drawn from the online replay, in every UTD step,
            while the demonstration replay holds rows; the rest come from it (RLPD: 0.5). 1 is plain
            online training.
        demo_capacity: transitions the demonstration replay keeps; when interventions fill it, the
            oldest rows give way.
        image_backbone: each camera's CNN backbone (observation keys that are uint8 H x W x C
            Boxes): None is a small CNN (4 conv layers, 32 channels); or a callable / an import path
            ``"package.module:function"`` that takes the number of input channels and returns an
            ``nn.Module`` mapping (B, C, H, W) floats in [0, 1] to a feature map (B, C', h, w) - e.g.
            a torchvision ResNet loaded from a local weights file. Nothing is downloaded.
            Each feature map goes through a spatial learned embedding
            (``image_spatial_features`` kernels per channel) -> Linear -> LayerNorm -> Tanh.
        freeze_image_backbone: True: the backbone never trains; one copy serves the online, target
            and actor encoders, and its features for obs and next obs are computed once per batch
            and reused by every loss of that step.
        image_backbone_weights: None, or the path of a file written by ``python -m
            rllib_sac_hybrid.pretrain`` (backbones trained on your demonstrations): each camera's
            backbone starts from its weights (frozen with ``freeze_image_backbone=True``). The
            file is read where modules are built (learners and EnvRunners), so on a cluster it
            must be readable on every node; checkpoints carry the weights themselves.
        image_augmentation, image_shift_pad: "random_shift" (default): DrQ's augmentation - each
            image of a sampled batch padded by ``image_shift_pad`` pixels and cropped back at a
            random offset; None: off. ``image_shift_pad="auto"`` (default) pads each camera by
            DrQ's share of its side (4 pixels at 84x84): 1 at 16, 2 at 32, 3 at 64, 6 at 128.
        train_batch_size_per_learner: batch size B of every gradient step (RLlib's setting).
        torch_compile, torch_compile_mode: compile the loss forwards (and their backward graphs)
            with ``torch.compile(mode=torch_compile_mode)``. Off by default: on a 2-core CPU it
            makes an update about 1.3x faster but costs 20-40 s of compiling in each learner process.
        learner_torch_threads: torch intra-op threads of the learner; None = the CPUs Ray assigned
            to the learner's process (a remote learner or a Tune trial), or, for a learner in a
            plain driver process, the driver's ``torch.get_num_threads()`` (torch's default is
            every core; sampling and learning take turns).
        env_runner_torch_threads: torch threads of each remote EnvRunner (default 1: its forward
            pass is one small batch per env step).
        learner_collective_timeout_s: with several learners, seconds any collective between them
            (the gradient all-reduce, the start-up broadcasts) may take before it fails with a
            ``LearnerCollectiveError`` on the learners still alive (default 300; RLlib's own
            process group would wait gloo's 30 minutes for a learner that died).
        async_sampling: False (default): each round waits for every runner's
            ``rollout_fragment_length`` steps, then trains. True: remote runners (needs
            ``num_env_runners >= 1``) keep ``max_requests_in_flight_per_env_runner`` sample calls
            queued and step on with the weights they have while the learner trains (a robot at a
            fixed control rate never stands still); each round stores what has arrived and runs
            ``utd_ratio`` critic steps per env step received.
        weights_push_every_rounds, weights_push_every_s: with async_sampling, new weights go to the
            runners every this many learner rounds (default 1) or this many seconds (None: off),
            whichever comes first.
        utd_ratio_max: None (default): every round runs exactly ``utd_ratio`` critic steps per env
            step received. An integer >= ``utd_ratio`` (needs ``async_sampling``): while the
            learner waits for the runners' next samples (a slow simulator, a robot at its control
            rate) it runs further updates instead of idling, as HIL-SERL's free-running learner
            does, until the critic steps so far reach ``utd_ratio_max`` per env step trained on.
            The extra update calls are counted in ``num_updates_while_waiting(_lifetime)``.

    Placement (through ``.env_runners(...)``):
        custom_resources_by_env_runner: None, or one dict of custom Ray resources per remote
            EnvRunner, which that runner requires on top of ``custom_resources_per_env_runner``:
            ``[{"robot_arm_0": 1}, {"robot_arm_1": 1}]`` puts runner 1 on the node started with
            ``--resources='{"robot_arm_0": 1}'`` and runner 2 on the one with ``robot_arm_1``.
            Its env learns its index from ``env_config.worker_index`` (1-based). A restarted
            runner comes back on the same node.

    Several learners (``.learners(num_learners=L)``, L > 1) train data-parallel: each keeps the
    whole replay and draws its own ``train_batch_size_per_learner`` rows, the gradients are
    averaged, and the target-head subsets agree (see ``HybridSACTorchLearner``).
    """

    def __init__(self, algo_class: type | None = None) -> None:
        from rllib_sac_hybrid.algorithm import HybridSAC

        super().__init__(algo_class=algo_class or HybridSAC)
        for name, default in HYBRID_SAC_DEFAULTS.items():
            setattr(self, name, default)
        # RLlib settings with HybridSAC defaults.
        self.train_batch_size_per_learner = 256
        self.lr = None  # unused: each optimizer has its own lr above
        self.normalize_actions = False  # the module emits env-scaled actions itself
        self.clip_actions = False
        self.rollout_fragment_length = 1  # env steps per runner per round
        self.min_time_s_per_iteration = None
        self.min_sample_timesteps_per_iteration = 1000
        # The windowed metrics (episode_return_windowed, ...) cover the last 10 training episodes,
        # as SB3 and rl-zoo report theirs; RLlib's default of 100 lags far behind a learning curve.
        self.metrics_num_episodes_for_smoothing = 10
        # Evaluation acts deterministically: tanh(mean) and the discrete critic's argmax.
        self.evaluation_config = {"explore": False}
        # Reports env_runners/episode_success_rate and episode_intervention_rate (see callbacks.py).
        self.callbacks_class = EpisodeMetricsCallback
        # Asynchronous sampling: a runner's next sample call waits queued behind the running one.
        self.max_requests_in_flight_per_env_runner = 2
        # Sets torch threads in remote EnvRunners (env_runner_torch_threads).
        self.env_runner_cls = HybridSACEnvRunner
        # A failing EnvRunner waits this long before it exits and Ray restarts it. Rounds are
        # synchronous: RLlib's 60 s would hold every round that long waiting for its last sample.
        self.delay_between_env_runner_restarts_s = 1.0
        self.custom_resources_by_env_runner: list[dict[str, float]] | None = None

    def env_runners(
        self, *, custom_resources_by_env_runner: Sequence[dict[str, float]] | None = NotProvided, **kwargs
    ) -> HybridSACConfig:
        """RLlib's EnvRunner settings, plus ``custom_resources_by_env_runner`` (see the class docstring)."""
        super().env_runners(**kwargs)
        if custom_resources_by_env_runner is not NotProvided:
            value = custom_resources_by_env_runner
            self.custom_resources_by_env_runner = list(value) if isinstance(value, tuple) else value
        return self

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HybridSACConfig:
        """RLlib's restore path (``Algorithm.from_checkpoint``): a config saved by an older version
        gets, for each setting it predates, the value that version ran with (an older checkpoint's
        critics are scalar heads), not today's default."""
        predated = {k: v for k, v in DEFAULTS_BEFORE_THE_SETTING.items() if k not in state}
        return super().from_state({**state, **predated})

    def preset(self, name: str) -> HybridSACConfig:
        """Applies the named settings of a known recipe (``presets.PRESETS``: "hil-serl", "redq",
        "droq"); every other setting stays as it is, and settings passed after this call
        override the preset's. ValueError, listing the names, for an unknown one.

        Example: ``HybridSACConfig().environment(...).preset("hil-serl").training(discount=0.99)``.
        """
        return self.training(**preset_settings(name))

    def training(self, *, gamma: float | None = NotProvided, **kwargs) -> HybridSACConfig:
        """Sets training settings: every HybridSAC setting (see the class docstring) and RLlib's."""
        ours = {k: kwargs.pop(k) for k in list(kwargs) if k in HYBRID_SAC_DEFAULTS}
        check_training_names({k: v for k, v in kwargs.items() if v is not NotProvided})
        if gamma is not NotProvided and "discount" not in ours:
            ours["discount"] = gamma
        super().training(gamma=gamma, **kwargs)
        for name, value in ours.items():
            if value is not NotProvided:
                is_dims = name.endswith("hidden_dims") and isinstance(value, (list, tuple))
                setattr(self, name, tuple(value) if is_dims else value)
        return self

    def get_evaluation_config_object(self) -> AlgorithmConfig | None:
        """RLlib's evaluation config; an evaluation counted in episodes reports its means over all
        of its episodes (RLlib would average the last ``metrics_num_episodes_for_smoothing``)."""
        eval_config = super().get_evaluation_config_object()
        if (
            eval_config is not None
            and self.evaluation_duration_unit == "episodes"
            and isinstance(self.evaluation_duration, int)
            and isinstance(self.evaluation_config, (dict, type(None)))
            and "metrics_num_episodes_for_smoothing" not in (self.evaluation_config or {})
        ):
            eval_config.metrics_num_episodes_for_smoothing = max(
                eval_config.metrics_num_episodes_for_smoothing, self.evaluation_duration
            )
        return eval_config

    # ---- wiring ----------------------------------------------------------------------------
    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_sac_hybrid.module import RLMODULE_CONFIG_DEPRECATION_KEY, HybridSACTorchRLModule

        log_once(RLMODULE_CONFIG_DEPRECATION_KEY)  # before RLlib's MultiRLModule around ours logs it
        return RLModuleSpec(module_class=HybridSACTorchRLModule)

    def get_default_learner_class(self) -> type:
        from rllib_sac_hybrid.learner import HybridSACTorchLearner

        return HybridSACTorchLearner

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {k: getattr(self, k) for k in MODEL_CONFIG_KEYS}

    def resolved_target_entropy(self, action_space: gym.Space) -> float:
        """``target_entropy``, or the auto rule: -(dim(a_c) + 1) / 2 with a discrete critic
        (HIL-SERL's), -dim(a_c) without one (SAC's)."""
        if self.target_entropy is not None:
            return float(self.target_entropy)
        layout = self.action_layout(action_space)
        if layout.has_discrete and self.fixed_discrete_action is None:
            return -(layout.continuous_dim + 1) / 2.0
        return -float(layout.continuous_dim)

    def resolved_utd_ratio(self, mixes_demonstrations: bool, has_images: bool = False) -> int:
        """``utd_ratio``, or for "auto" 4 while batches mix in demonstration rows of vector
        observations, else 1 (online only, or camera images)."""
        if self.utd_ratio == "auto":
            if mixes_demonstrations and not has_images:
                return AUTO_UTD_RATIO_WITH_DEMONSTRATIONS
            return AUTO_UTD_RATIO_ONLINE
        return int(self.utd_ratio)

    def resolved_bc_pretrain_steps(self) -> int:
        """``bc_pretrain_steps``, or for "auto" 1000 with demonstrations and 0 without."""
        if self.bc_pretrain_steps == "auto":
            return AUTO_BC_PRETRAIN_STEPS if self.demonstrations is not None else 0
        return int(self.bc_pretrain_steps)

    def resolved_bc_weight(self) -> float:
        """``bc_weight``, or for "auto" 1.0: the term clones only demonstration-replay rows
        (loaded demonstrations and human interventions), so without either it changes nothing."""
        if self.bc_weight == "auto":
            return AUTO_BC_WEIGHT
        return float(self.bc_weight)

    def action_layout(self, action_space: gym.Space) -> ActionLayout:
        """How ``action_space`` splits into continuous and discrete parts under these settings."""
        return ActionLayout.from_space(action_space, self.discrete_action_in_last_dim)

    # ---- validation --------------------------------------------------------------------------
    def validate(self) -> None:
        """RLlib's checks, then each HybridSAC setting; raises ValueError naming field and allowed values."""
        # RLlib warns that an algorithm "is running on the new API stack" unless this key was
        # logged; HybridSAC exists only on the new stack, so the notice says nothing to its users.
        log_once(new_api_stack_notice_key(self.algo_class))
        super().validate()
        check_rllib_settings(self)
        self.validate_hybrid_sac_settings()

    def validate_hybrid_sac_settings(self) -> None:
        """The HybridSAC-specific checks alone (also run by ``validate``)."""
        _int_at_least("num_critics", self.num_critics, 1)
        if self.num_subsample_critics is not None:
            _int_at_least("num_subsample_critics", self.num_subsample_critics, 1)
            if self.num_subsample_critics > self.num_critics:
                raise ValueError(
                    f"num_subsample_critics={self.num_subsample_critics} exceeds num_critics="
                    f"{self.num_critics}; allowed: None or an integer in [1, num_critics]."
                )
        if self.utd_ratio != "auto":
            _int_at_least("utd_ratio", self.utd_ratio, 1, also='or "auto"')
        _int_at_least("policy_update_freq", self.policy_update_freq, 1)
        if self.critic_actor_ratio is not None:
            _int_at_least("critic_actor_ratio", self.critic_actor_ratio, 1, also="or None")
            if self.policy_update_freq != 1:
                raise ValueError(
                    f"critic_actor_ratio={self.critic_actor_ratio} and policy_update_freq={self.policy_update_freq} "
                    "both set when actor steps come; allowed: one of them, i.e. critic_actor_ratio=None or "
                    "policy_update_freq=1."
                )
        if not _real(self.tau) or not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau={self.tau!r} is invalid; allowed: a number in (0, 1].")
        if not _real(self.discount) or not 0.0 <= self.discount <= 1.0:
            raise ValueError(f"discount={self.discount!r} is invalid; allowed: a number in [0, 1].")
        _int_at_least("n_step", self.n_step, 1)
        if self.reward_scaling not in REWARD_SCALINGS:
            raise ValueError(f"reward_scaling={self.reward_scaling!r} is unknown; allowed: {REWARD_SCALINGS}.")
        if self.observation_normalization not in OBSERVATION_NORMALIZATIONS:
            raise ValueError(
                f"observation_normalization={self.observation_normalization!r} is unknown; allowed: "
                f"{OBSERVATION_NORMALIZATIONS}."
            )
        if self.grasp_penalty is not None and (not _real(self.grasp_penalty) or not math.isfinite(self.grasp_penalty)):
            raise ValueError(
                f"grasp_penalty={self.grasp_penalty!r} is invalid; allowed: None (the env's own penalty) or a finite "
                "number, e.g. -0.05."
            )
        if not (isinstance(self.discrete_critic_reads_arm, bool) or self.discrete_critic_reads_arm == "auto"):
            raise ValueError(
                f"discrete_critic_reads_arm={self.discrete_critic_reads_arm!r} is invalid; allowed: True, False or "
                '"auto" (True with vector observations, False with camera images).'
            )
        beta = self.discrete_advantage_learning
        if not _real(beta) or not 0.0 <= beta < 1.0:
            raise ValueError(
                f"discrete_advantage_learning={beta!r} is invalid; allowed: a number in [0, 1) (0: plain double DQN)."
            )
        for name in ("actor_lr", "critic_lr", "temperature_lr", "discrete_critic_lr"):
            value = getattr(self, name)
            if not _real(value) or not value > 0 or not math.isfinite(value):
                raise ValueError(f"{name}={value!r} is invalid; allowed: a finite number > 0.")
        if (
            not _real(self.temperature_init)
            or not self.temperature_init > 0
            or not math.isfinite(self.temperature_init)
        ):
            raise ValueError(f"temperature_init={self.temperature_init!r} is invalid; allowed: a finite number > 0.")
        if self.target_entropy is not None and not _real(self.target_entropy):
            raise ValueError(f"target_entropy={self.target_entropy!r} is invalid; allowed: None (auto) or a number.")
        if self.grad_clip_norm is not None and (not _real(self.grad_clip_norm) or not self.grad_clip_norm > 0):
            raise ValueError(f"grad_clip_norm={self.grad_clip_norm!r} is invalid; allowed: None or a number > 0.")
        if self.actor_q_reduction not in ACTOR_Q_REDUCTIONS:
            raise ValueError(f"actor_q_reduction={self.actor_q_reduction!r} is invalid; allowed: {ACTOR_Q_REDUCTIONS}.")
        for name in ("actor_hidden_dims", "critic_hidden_dims"):
            _hidden_dims(name, getattr(self, name), auto=True)
        _hidden_dims("discrete_critic_hidden_dims", self.discrete_critic_hidden_dims)
        _int_at_least("encoder_latent_dim", self.encoder_latent_dim, 1)
        if self.image_backbone is not None and not (callable(self.image_backbone) or _import_path(self.image_backbone)):
            raise ValueError(
                f"image_backbone={self.image_backbone!r} is invalid; allowed: None (a small CNN), a callable of "
                "in_channels returning an nn.Module, or 'package.module:function'."
            )
        if not isinstance(self.freeze_image_backbone, bool):
            raise ValueError(
                f"freeze_image_backbone={self.freeze_image_backbone!r} is invalid; allowed: True or False."
            )
        if self.image_backbone_weights is not None:
            if not isinstance(self.image_backbone_weights, (str, os.PathLike)):
                raise ValueError(
                    f"image_backbone_weights={self.image_backbone_weights!r} is invalid; allowed: None or the path "
                    "of a file written by python -m rllib_sac_hybrid.pretrain."
                )
            if not os.path.isfile(self.image_backbone_weights):
                raise ValueError(
                    f"image_backbone_weights={self.image_backbone_weights!r} is not a file; allowed: None or the "
                    "path of a file written by python -m rllib_sac_hybrid.pretrain."
                )
        _int_at_least("image_spatial_features", self.image_spatial_features, 1)
        if self.image_augmentation not in IMAGE_AUGMENTATIONS:
            raise ValueError(
                f"image_augmentation={self.image_augmentation!r} is unknown; allowed: {IMAGE_AUGMENTATIONS}."
            )
        if self.image_shift_pad != "auto":
            _int_at_least("image_shift_pad", self.image_shift_pad, 0, also='or "auto"')
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is unknown; allowed: {sorted(ACTIVATIONS)}.")
        for name in ("actor_dropout", "critic_dropout"):
            value = getattr(self, name)
            if not _real(value) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name}={value!r} is invalid; allowed: a number in [0, 1).")
        if self.init_final is not None and (not _real(self.init_final) or not self.init_final > 0):
            raise ValueError(f"init_final={self.init_final!r} is invalid; allowed: None (orthogonal) or a number > 0.")
        if self.critic_value_bins not in (None, "auto"):
            _int_at_least("critic_value_bins", self.critic_value_bins, 2, also='or None or "auto"')
            if self.init_final is not None:
                raise ValueError(
                    f"init_final={self.init_final!r} sets scalar critic heads' output layer, but "
                    f"critic_value_bins={self.critic_value_bins!r} makes the heads categorical (their output "
                    "layers start at zero: uniform distributions); allowed: init_final=None, or "
                    "critic_value_bins=None with init_final."
                )
        if not (_real(self.std_min) and _real(self.std_max) and 0 < self.std_min < self.std_max):
            raise ValueError(
                f"std_min={self.std_min!r}, std_max={self.std_max!r} are invalid; allowed: 0 < std_min < std_max."
            )
        if self.discrete_exploration not in DISCRETE_EXPLORATIONS:
            raise ValueError(
                f"discrete_exploration={self.discrete_exploration!r} is invalid; allowed: {DISCRETE_EXPLORATIONS}."
            )
        for name in ("epsilon_start", "epsilon_end"):
            value = getattr(self, name)
            if not _real(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value!r} is invalid; allowed: a number in [0, 1].")
        _int_at_least("epsilon_decay_steps", self.epsilon_decay_steps, 0)
        if not isinstance(self.discrete_penalty_key, str) or not self.discrete_penalty_key:
            raise ValueError(
                f"discrete_penalty_key={self.discrete_penalty_key!r} is invalid; allowed: a non-empty str."
            )
        if not isinstance(self.discrete_action_in_last_dim, bool):
            raise ValueError(
                f"discrete_action_in_last_dim={self.discrete_action_in_last_dim!r} is invalid; allowed: True or False."
            )
        if self.fixed_discrete_action is not None:
            _int_at_least("fixed_discrete_action", self.fixed_discrete_action, 0)
        _int_at_least("replay_capacity", self.replay_capacity, 1)
        _int_at_least("num_random_steps", self.num_random_steps, 0)
        _int_at_least("train_batch_size_per_learner", self.train_batch_size_per_learner, 1)
        if self.non_finite_transitions not in NON_FINITE_MODES:
            raise ValueError(
                f"non_finite_transitions={self.non_finite_transitions!r} is unknown; allowed: {NON_FINITE_MODES}."
            )
        _validate_demonstrations(self.demonstrations, self.demonstration_format)
        if self.demonstrations is not None and self.is_multi_agent:
            raise ValueError(
                f"demonstrations={self.demonstrations!r} with multi_agent(policies={sorted(self.policies)}): "
                "recorded episodes are single-agent, and which policy each belongs to is not known; allowed: "
                "demonstrations=None for a multi-agent config (interventions, info['is_intervention'], "
                "still reach each policy's demonstration replay)."
            )
        if self.reward_classifier is not None:
            if not isinstance(self.reward_classifier, (str, os.PathLike)) or not os.path.isfile(self.reward_classifier):
                raise ValueError(
                    f"reward_classifier={self.reward_classifier!r} is not a file; allowed: None, or a file of "
                    "python -m rllib_sac_hybrid.reward train."
                )
            if self.is_multi_agent:
                raise ValueError(
                    "reward_classifier with multi_agent(...): not supported; allowed: reward_classifier=None."
                )
        threshold = self.reward_classifier_threshold
        if threshold is not None and (not isinstance(threshold, (int, float)) or not 0 < threshold < 1):
            raise ValueError(
                f"reward_classifier_threshold={threshold!r} is invalid; allowed: None (the file's) or a number "
                "in (0, 1)."
            )
        if self.reward_classifier_mode not in ("replace", "add"):
            raise ValueError(
                f"reward_classifier_mode={self.reward_classifier_mode!r} is unknown; allowed: ('replace', 'add')."
            )
        if not isinstance(self.reward_classifier_terminates, bool):
            raise ValueError(
                f"reward_classifier_terminates={self.reward_classifier_terminates!r} is invalid; "
                "allowed: True or False."
            )
        if self.bc_pretrain_steps != "auto":
            _int_at_least("bc_pretrain_steps", self.bc_pretrain_steps, 0, also='or "auto"')
        weight = self.bc_weight
        if weight != "auto" and (isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0):
            raise ValueError(f'bc_weight={weight!r} is invalid; allowed: a number >= 0 (0: off) or "auto".')
        if not isinstance(self.bc_q_filter, bool):
            raise ValueError(f"bc_q_filter={self.bc_q_filter!r} is invalid; allowed: True or False.")
        if self.resolved_bc_pretrain_steps() > 0 and self.demonstrations is None:  # "auto" is 0 without them
            raise ValueError(
                f"bc_pretrain_steps={self.bc_pretrain_steps} clones demonstrations, but demonstrations=None; allowed: "
                "bc_pretrain_steps=0, or demonstrations=<recorded episodes>."
            )
        if self.initial_policy is not None:
            if not isinstance(self.initial_policy, (str, os.PathLike)):
                raise ValueError(
                    f"initial_policy={self.initial_policy!r} is invalid; allowed: None, or the path of a HybridSAC "
                    "checkpoint or of a state dict file."
                )
            if self.is_multi_agent:
                raise ValueError(
                    f"initial_policy={str(self.initial_policy)!r} with multi_agent(policies={sorted(self.policies)}): "
                    "which policy it starts is not known; allowed: initial_policy=None for a multi-agent config."
                )
        if self.is_multi_agent and self.num_learners > 1:
            raise ValueError(
                f"num_learners={self.num_learners} with multi_agent(policies={sorted(self.policies)}) is not "
                "supported yet (every learner would all-reduce each policy's steps in lockstep, untested); "
                "allowed: num_learners 0 or 1 for a multi-agent config."
            )
        # RLlib picks its multi-agent runner only when env_runner_cls is None: ours, to match.
        wanted = HybridSACMultiAgentEnvRunner if self.is_multi_agent else HybridSACEnvRunner
        ours = (HybridSACEnvRunner, HybridSACMultiAgentEnvRunner)
        if self.env_runner_cls in ours and self.env_runner_cls is not wanted:
            self.env_runner_cls = wanted
        if not _real(self.online_ratio) or not 0.0 < self.online_ratio <= 1.0:
            raise ValueError(
                f"online_ratio={self.online_ratio!r} is invalid; allowed: a number in (0, 1] (1: online rows only)."
            )
        _int_at_least("demo_capacity", self.demo_capacity, 1)
        if not isinstance(self.checkpoint_replay, bool):
            raise ValueError(f"checkpoint_replay={self.checkpoint_replay!r} is invalid; allowed: True or False.")
        if not isinstance(self.torch_compile, bool):
            raise ValueError(f"torch_compile={self.torch_compile!r} is invalid; allowed: True or False.")
        if self.torch_compile_mode not in TORCH_COMPILE_MODES:
            raise ValueError(
                f"torch_compile_mode={self.torch_compile_mode!r} is unknown; allowed: {TORCH_COMPILE_MODES}."
            )
        if self.learner_torch_threads is not None:
            _int_at_least("learner_torch_threads", self.learner_torch_threads, 1)
        _int_at_least("env_runner_torch_threads", self.env_runner_torch_threads, 1)
        value = self.learner_collective_timeout_s
        if not _real(value) or not 0 < value < math.inf:
            raise ValueError(
                f"learner_collective_timeout_s={value!r} is invalid; allowed: a finite number of seconds > 0."
            )
        if not isinstance(self.async_sampling, bool):
            raise ValueError(f"async_sampling={self.async_sampling!r} is invalid; allowed: True or False.")
        if self.async_sampling and self.num_env_runners < 1 and not self.in_evaluation:  # evaluation: RLlib's own loop
            raise ValueError(
                f"async_sampling=True needs remote EnvRunners to step while the learner trains; "
                f"num_env_runners={self.num_env_runners}, allowed: >= 1 (.env_runners(num_env_runners=...))."
            )
        _int_at_least("weights_push_every_rounds", self.weights_push_every_rounds, 1)
        if self.utd_ratio_max is not None:
            value = self.utd_ratio_max
            if self.utd_ratio == "auto":
                raise ValueError(
                    f"utd_ratio_max={value!r} caps the critic steps of a fixed utd_ratio, but utd_ratio='auto'; "
                    "allowed: utd_ratio_max=None, or an integer utd_ratio (e.g. utd_ratio=1, utd_ratio_max=8)."
                )
            if not isinstance(value, int) or isinstance(value, bool) or value < self.utd_ratio:
                raise ValueError(
                    f"utd_ratio_max={value!r} is invalid; allowed: None or an integer >= utd_ratio ({self.utd_ratio})."
                )
            if not self.async_sampling:
                raise ValueError(
                    f"utd_ratio_max={self.utd_ratio_max} needs async_sampling=True (synchronous rounds never wait "
                    "with the learner idle); allowed: None, or async_sampling=True with remote EnvRunners."
                )
        if self.weights_push_every_s is not None and (
            not _real(self.weights_push_every_s) or not self.weights_push_every_s > 0
        ):
            raise ValueError(
                f"weights_push_every_s={self.weights_push_every_s!r} is invalid; allowed: None or a number > 0."
            )
        if self.normalize_actions or self.clip_actions:
            raise ValueError(
                "normalize_actions / clip_actions must be False for HybridSAC: its module already "
                "emits actions within the env's bounds; allowed: False."
            )
        _int_at_least("num_learners", self.num_learners, 0)
        if not self.in_evaluation:  # evaluation runners take no per-runner resources
            _validate_resources_by_runner(self.custom_resources_by_env_runner, self.num_env_runners)
        if self.observation_space is not None:
            observation_dims(self.observation_space)
        if self.action_space is not None:
            self.validate_action_space(self.action_space)

    def validate_action_space(self, action_space: gym.Space) -> ActionLayout:
        """The layout of ``action_space``; ValueError if unsupported or inconsistent with the settings."""
        layout = self.action_layout(action_space)
        if self.fixed_discrete_action is not None:
            if not layout.has_discrete:
                raise ValueError(
                    f"fixed_discrete_action={self.fixed_discrete_action} needs an action space with a discrete "
                    f"part; {action_space} has none. Allowed: None."
                )
            if self.fixed_discrete_action >= layout.num_discrete:
                raise ValueError(
                    f"fixed_discrete_action={self.fixed_discrete_action} is out of range; allowed: None or an "
                    f"integer in [0, {layout.num_discrete - 1}]."
                )
        return layout


def _import_path(value: Any) -> bool:
    return isinstance(value, str) and value.count(":") == 1 and all(value.split(":"))


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_at_least(name: str, value: Any, minimum: int, also: str = "") -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid; allowed: an integer >= {minimum}{' ' + also if also else ''}.")


def _validate_demonstrations(demonstrations: Any, source: str) -> None:
    if source not in DEMONSTRATION_FORMATS:
        raise ValueError(f"demonstration_format={source!r} is unknown; allowed: {DEMONSTRATION_FORMATS}.")
    if demonstrations is None:
        return
    paths = [demonstrations] if isinstance(demonstrations, str) else demonstrations
    if not isinstance(paths, (list, tuple)) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise ValueError(
            f"demonstrations={demonstrations!r} is invalid; allowed: None, a path (or Minari dataset id), or a "
            "non-empty list of them."
        )


RESERVED_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


def _validate_resources_by_runner(by_runner: Any, num_env_runners: int) -> None:
    if by_runner is None:
        return
    allowed = (
        "None, or a list with one dict {resource name: amount > 0} per remote EnvRunner, "
        "e.g. [{'robot_arm_0': 1}, {'robot_arm_1': 1}]"
    )
    if not isinstance(by_runner, (list, tuple)) or len(by_runner) != num_env_runners:
        size = len(by_runner) if isinstance(by_runner, (list, tuple)) else "no"
        raise ValueError(
            f"custom_resources_by_env_runner={by_runner!r} has {size} entries for num_env_runners="
            f"{num_env_runners} remote EnvRunners; allowed: {allowed}."
        )
    for index, resources in enumerate(by_runner):
        if not isinstance(resources, dict):
            raise ValueError(
                f"custom_resources_by_env_runner[{index}]={resources!r} is not a dict; allowed: {allowed}."
            )
        for name, amount in resources.items():
            if not isinstance(name, str) or not name or name in RESERVED_RESOURCES:
                raise ValueError(
                    f"custom_resources_by_env_runner[{index}] names the resource {name!r}; allowed: a custom "
                    f"resource name (not one of {RESERVED_RESOURCES}: use num_cpus_per_env_runner / "
                    "num_gpus_per_env_runner for those)."
                )
            if not _real(amount) or not amount > 0 or not math.isfinite(amount):
                raise ValueError(
                    f"custom_resources_by_env_runner[{index}][{name!r}]={amount!r} is invalid; allowed: a number > 0."
                )


def _hidden_dims(name: str, dims: Sequence[int] | str, auto: bool = False) -> None:
    if auto and dims == "auto":
        return
    if (
        not isinstance(dims, (list, tuple))
        or len(dims) == 0
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims)
    ):
        also = ' or "auto" (64 wide with a discrete critic, 256 for a Box action)' if auto else ""
        raise ValueError(f"{name}={dims!r} is invalid; allowed: a non-empty list of positive integers{also}.")


def new_api_stack_notice_key(algo_class: type) -> str:
    """The ``log_once`` key of RLlib 2.60's "You are running <algo> on the new API stack!" notice."""
    return f"{algo_class.__name__}_on_new_api_stack"
