"""The HybridSAC RLModule: wires the networks into RLlib's inference / exploration forwards.

On EnvRunners the module is built ``inference_only``: the encoder(s), the actor and - when the
action has discrete parts next to a continuous one - the discrete critic, which picks them
(epsilon-greedy when exploring, greedy at inference). A discrete-only action (Discrete,
MultiDiscrete, a Tuple of Discretes) has a categorical actor over the joint choice instead, and
critics that output one Q per choice (SAC for discrete actions, Christodoulou 2019).

On the learner it also holds the critic ensemble, the Polyak targets (target encoder, target
heads, target discrete critic) and ``log_alpha``, all part of the module's saved state.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.util.debug import log_once
from torch import nn

from rllib_sac_hybrid.data.batch import Latents
from rllib_sac_hybrid.data.observation_normalization import ObservationNormalizer
from rllib_sac_hybrid.networks import (
    BackboneFeatures,
    CategoricalActor,
    CriticEnsemble,
    DiscreteCritic,
    FrozenBackbone,
    ObservationEncoder,
    TanhGaussianActor,
    camera_name,
    images_to_float,
    load_backbone_weights,
    resolve_backbone,
    squashed_gaussian_log_prob,
)
from rllib_sac_hybrid.settings import (
    resolved_critic_value_bins,
    resolved_discrete_critic_reads_arm,
    resolved_hidden_dims,
)
from rllib_sac_hybrid.spaces import ActionLayout, flatten_observation, image_shapes, observation_dims

# Keys of `model_config` the module reads; their defaults live in settings.py only.
MODEL_CONFIG_KEYS = (
    "num_critics",
    "encoder_latent_dim",
    "shared_encoder",
    "actor_hidden_dims",
    "critic_hidden_dims",
    "activation",
    "actor_layer_norm",
    "critic_layer_norm",
    "actor_dropout",
    "critic_dropout",
    "init_final",
    "critic_value_bins",
    "std_min",
    "std_max",
    "temperature_init",
    "discrete_action_in_last_dim",
    "fixed_discrete_action",
    "discrete_critic_hidden_dims",
    "discrete_critic_reads_arm",
    "discrete_exploration",
    "epsilon_start",
    "epsilon_end",
    "epsilon_decay_steps",
    "image_backbone",
    "freeze_image_backbone",
    "image_backbone_weights",
    "image_spatial_features",
    "observation_normalization",
)

# RLlib 2.60's RLModule.__init__ builds an RLModuleConfig for every module, which logs this
# deprecation although nothing here passes config=; consumed so that building HybridSAC is quiet.
RLMODULE_CONFIG_DEPRECATION_KEY = "RLModule(config=[RLModuleConfig object])"
# Consumed at import too: a multi-agent setup first builds RLlib's MultiRLModule around ours,
# which logs it before any HybridSAC module exists.
log_once(RLMODULE_CONFIG_DEPRECATION_KEY)

# Keys added after the first release, each with the value that does what modules did before it
# existed: a module saved by an earlier version (RLModule.from_checkpoint) still builds.
MODEL_CONFIG_KEYS_ADDED_LATER: dict[str, Any] = {
    "discrete_critic_reads_arm": False,
    "discrete_exploration": "epsilon",
    "image_backbone_weights": None,
    "observation_normalization": None,
}


class HybridSACTorchRLModule(TorchRLModule, InferenceOnlyAPI):
    """Encoder + tanh-Gaussian actor (+ critic ensemble, targets and ``log_alpha`` on learners).

    ``model_config`` must hold every key of ``MODEL_CONFIG_KEYS``; ``HybridSACConfig``
    provides them. Forward outputs ``Columns.ACTIONS`` already in the env's action format.
    """

    def __init__(self, *args, **kwargs) -> None:
        log_once(RLMODULE_CONFIG_DEPRECATION_KEY)  # see the constant: not our deprecation
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        for key, value in MODEL_CONFIG_KEYS_ADDED_LATER.items():
            self.model_config.setdefault(key, value)
        missing = [k for k in MODEL_CONFIG_KEYS if k not in self.model_config]
        if missing:
            raise ValueError(
                f"model_config is missing {missing}; build the module through HybridSACConfig "
                "(config.get_default_rl_module_spec()) so every network setting is present."
            )
        cfg = self.model_config
        self.layout = ActionLayout.from_space(self.action_space, cfg["discrete_action_in_last_dim"])
        obs_dims = observation_dims(self.observation_space)
        images = image_shapes(self.observation_space)
        backbone = resolve_backbone(cfg["image_backbone"])
        # Running mean / std of the vector keys, set by the learner (observation_normalization.py).
        self.obs_normalizer = (
            ObservationNormalizer(obs_dims, images) if cfg["observation_normalization"] == "running" else None
        )
        # A frozen backbone is built once per camera and shared by every encoder (online, target,
        # actor): it never changes, so it needs no copy, and its features can be computed once
        # per batch (prepare_batch).
        self.frozen_backbones: dict[str | None, nn.Module] = (
            {k: FrozenBackbone(backbone(shape)) for k, shape in images.items()} if cfg["freeze_image_backbone"] else {}
        )

        def make_encoder() -> ObservationEncoder:
            return ObservationEncoder(
                obs_dims,
                cfg["encoder_latent_dim"],
                image_shapes=images,
                backbone=backbone,
                frozen_backbones=self.frozen_backbones,
                spatial_features=cfg["image_spatial_features"],
            )

        self.shared_encoder = bool(cfg["shared_encoder"])
        action_dim = self.layout.continuous_dim
        # Discrete only: the actor is categorical over the joint choice and each critic head
        # outputs one Q per choice; no DQN-style discrete critic.
        self.discrete_only = self.layout.discrete_only
        # With discrete parts next to a continuous one and no fixed choice for them, a DQN-style
        # critic (a head per part) learns and picks them.
        fixed = cfg["fixed_discrete_action"]
        self.fixed_discrete_action = (
            None if fixed is None else tuple(fixed) if isinstance(fixed, (list, tuple)) else (fixed,)
        )
        self.has_discrete_critic = (
            self.layout.has_discrete and not self.discrete_only and self.fixed_discrete_action is None
        )
        self.epsilon_start, self.epsilon_end = cfg["epsilon_start"], cfg["epsilon_end"]
        self.epsilon_decay_steps = cfg["epsilon_decay_steps"]

        # The critic's encoder; with a shared encoder the actor reads it too (detached), and
        # the discrete critic always does, so EnvRunners keep it when either needs it.
        if self.shared_encoder or self.has_discrete_critic or not self.inference_only:
            self.encoder = make_encoder()
        if not self.shared_encoder:
            self.actor_encoder = make_encoder()
        if cfg["image_backbone_weights"] is not None:
            self._load_backbone_weights(cfg["image_backbone_weights"], images)
        latent_dim = (self.encoder if self.shared_encoder else self.actor_encoder).out_dim
        actor_hidden = resolved_hidden_dims(cfg["actor_hidden_dims"], self.has_discrete_critic)
        if self.discrete_only:
            self.actor = CategoricalActor(
                latent_dim,
                self.layout.num_joint_choices,
                actor_hidden,
                activation=cfg["activation"],
                layer_norm=cfg["actor_layer_norm"],
                dropout=cfg["actor_dropout"],
            )
        else:
            self.actor = TanhGaussianActor(
                latent_dim,
                action_dim,
                actor_hidden,
                activation=cfg["activation"],
                layer_norm=cfg["actor_layer_norm"],
                dropout=cfg["actor_dropout"],
                std_min=cfg["std_min"],
                std_max=cfg["std_max"],
            )
        self.discrete_critic_reads_arm = resolved_discrete_critic_reads_arm(
            cfg["discrete_critic_reads_arm"], self.has_discrete_critic, bool(images), self.layout.num_parts
        )
        if self.has_discrete_critic:
            self.discrete_critic = DiscreteCritic(
                self.encoder.out_dim + (action_dim if self.discrete_critic_reads_arm else 0),
                self.layout.discrete_sizes,
                cfg["discrete_critic_hidden_dims"],
                activation=cfg["activation"],
                layer_norm=cfg["critic_layer_norm"],
                dropout=cfg["critic_dropout"],
            )
        self.discrete_exploration = cfg["discrete_exploration"]
        # Boltzmann exploration reads the temperature where the module acts, so EnvRunners keep
        # log_alpha too (it arrives with the weights).
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg["temperature_init"]), dtype=torch.float32))
        if self.inference_only:
            if not self._acts_with_temperature():
                del self.log_alpha
            self.eval()  # an EnvRunner's module only acts: eval mode once, not toggled per step
            return

        self.critic = CriticEnsemble(
            cfg["num_critics"],
            self.encoder.out_dim + action_dim,  # action_dim is 0 for discrete-only actions
            resolved_hidden_dims(cfg["critic_hidden_dims"], self.has_discrete_critic),
            activation=cfg["activation"],
            layer_norm=cfg["critic_layer_norm"],
            dropout=cfg["critic_dropout"],
            init_final=cfg["init_final"],
            value_bins=resolved_critic_value_bins(
                cfg["critic_value_bins"], self.has_discrete_critic, bool(images), cfg["init_final"], self.discrete_only
            ),
            num_actions=self.layout.num_joint_choices if self.discrete_only else None,
        )
        # Lagged copies of the encoder and heads, moved only by Polyak averaging.
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        for key, frozen in self.frozen_backbones.items():  # shared, not copied
            self.target_encoder.image_encoder(key).backbone = frozen
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        if self.has_discrete_critic:
            self.target_discrete_critic = copy.deepcopy(self.discrete_critic).requires_grad_(False)

    def _acts_with_temperature(self) -> bool:
        return self.has_discrete_critic and self.discrete_exploration == "boltzmann"

    def _load_backbone_weights(self, path: str, images: dict) -> None:
        """Each camera's backbone (the frozen one, or the encoders' own) from a pretraining file."""
        weights = load_backbone_weights(path)
        missing = [camera_name(k) for k in images if camera_name(k) not in weights]
        if missing:
            raise ValueError(
                f"image_backbone_weights={path!r} holds the cameras {sorted(weights)}, not {missing}; allowed: a file "
                "pretrained on this env's observations."
            )
        encoders = [getattr(self, name) for name in ("encoder", "actor_encoder") if hasattr(self, name)]
        for key in images:
            state = weights[camera_name(key)]
            targets = [self.frozen_backbones[key].net] if key in self.frozen_backbones else []
            targets += [e.image_encoder(key).backbone for e in encoders if key not in self.frozen_backbones]
            for backbone in targets:
                try:
                    backbone.load_state_dict(state)
                except RuntimeError as error:
                    raise ValueError(
                        f"image_backbone_weights={path!r} does not fit camera {camera_name(key)!r}'s backbone "
                        f"({error}); allowed: a file pretrained with the same image_backbone."
                    ) from error

    def get_non_inference_attributes(self) -> list[str]:
        attrs = ["critic", "target_encoder", "target_critic", "target_discrete_critic"]
        attrs += [] if self._acts_with_temperature() else ["log_alpha"]
        return attrs if self.shared_encoder or self.has_discrete_critic else ["encoder", *attrs]

    # ---- pieces the losses use (see losses.SACNetworks) --------------------------------------
    def encode(self, obs) -> torch.Tensor:
        """Critic latent (B, D)."""
        return self.encoder(obs)

    def actor_latent(self, obs, critic_latent: torch.Tensor | None = None) -> torch.Tensor:
        """The actor's input: the shared encoder's output detached, or its own encoder's."""
        if not self.shared_encoder:
            return self.actor_encoder(obs)
        if critic_latent is None:
            critic_latent = self.encoder(obs)
        return critic_latent.detach()

    def normalize(self, obs):
        """The observation as the encoders read it: vector keys standardised by the running
        statistics (``observation_normalization="running"``), otherwise as it is."""
        return obs if self.obs_normalizer is None else self.obs_normalizer(obs)

    def prepare_batch(self, batch):
        """A replay batch as every loss of the step reads it: obs and next obs normalised
        (``normalize``), and with frozen camera backbones each camera's images replaced by their
        ``BackboneFeatures``, from one backbone call per camera."""
        if self.obs_normalizer is not None:
            batch = batch._replace(obs=self.normalize(batch.obs), next_obs=self.normalize(batch.next_obs))
        if not self.frozen_backbones:
            return batch
        single = not isinstance(batch.obs, dict)  # an image-only Box observation (key None)
        obs = {None: batch.obs} if single else dict(batch.obs)
        next_obs = {None: batch.next_obs} if single else dict(batch.next_obs)
        for key, backbone in self.frozen_backbones.items():
            if isinstance(obs[key], BackboneFeatures):
                continue
            features = backbone(images_to_float(torch.cat([obs[key], next_obs[key]])))
            half = len(features) // 2
            obs[key], next_obs[key] = BackboneFeatures(features[:half]), BackboneFeatures(features[half:])
        if single:
            return batch._replace(obs=obs[None], next_obs=next_obs[None])
        return batch._replace(obs=obs, next_obs=next_obs)

    def encode_batch(self, batch) -> Latents:
        """Every encoding one critic step needs, computed once (only ``obs`` carries grad)."""
        latent = self.encoder(batch.obs)
        with torch.no_grad():
            next_latent = self.encoder(batch.next_obs)
            return Latents(
                obs=latent,
                next_obs=next_latent,
                next_actor=self.actor_latent(batch.next_obs, next_latent),
                target_next_obs=self.target_encoder(batch.next_obs),
            )

    def sample_action(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action (B, A) in (-1, 1) and log pi (B,)."""
        return self.actor.sample(latent)

    def policy_log_probs(self, latent: torch.Tensor) -> torch.Tensor:
        """Discrete-only actions: log pi(a|s) of every joint choice, (B, K)."""
        return self.actor(latent)

    def action_values(self, latent: torch.Tensor) -> torch.Tensor:
        """Discrete-only actions: Q_n(s, a) of every head and joint choice, (N, B, K)."""
        return self.critic(latent)

    def target_action_values(self, latent: torch.Tensor, heads: torch.Tensor | None) -> torch.Tensor:
        """Discrete-only actions: the chosen target heads' Q(s', a), (M, B, K) (all N when ``heads`` is None)."""
        return self.target_critic(latent, heads)

    def action_log_prob(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """log pi(a|s) (B,) of given actions (B, A) strictly inside (-1, 1)."""
        mean, std = self.actor(latent)
        return squashed_gaussian_log_prob(torch.atanh(action), mean, std)

    def q_values(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """All N online heads, (N, B)."""
        return self.critic(torch.cat([latent, action], dim=-1))

    def q_logits(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """All N online heads' logits over ``value_support``, (N, B, K) (categorical critics only)."""
        return self.critic.logits(torch.cat([latent, action], dim=-1))

    @property
    def value_support(self) -> torch.Tensor | None:
        """The categorical critics' K values (``critic_value_bins``), or None for scalar heads."""
        return self.critic.support if self.critic.value_bins else None

    def target_q_values(self, latent: torch.Tensor, action: torch.Tensor, heads: torch.Tensor | None) -> torch.Tensor:
        """Only the chosen target heads (M, B) (all N when ``heads`` is None) on a target-encoder latent."""
        return self.target_critic(torch.cat([latent, action], dim=-1), heads)

    def discrete_q_values(self, latent: torch.Tensor, arm: torch.Tensor | None = None) -> torch.Tensor:
        """Online discrete critic, every part's values side by side, (B, K_1 + ... + K_P);
        ``arm`` (B, A), the step's arm action in (-1, 1), is read only with
        ``discrete_critic_reads_arm``."""
        return self.discrete_critic(self._discrete_input(latent, arm))

    def target_discrete_q_values(self, latent: torch.Tensor, arm: torch.Tensor | None = None) -> torch.Tensor:
        """Target discrete critic on a target-encoder latent, (B, K_1 + ... + K_P)."""
        return self.target_discrete_critic(self._discrete_input(latent, arm))

    @property
    def discrete_part_sizes(self) -> tuple[int, ...]:
        """K_p of each discrete part (the discrete critic's heads)."""
        return self.layout.discrete_sizes

    def _discrete_input(self, latent: torch.Tensor, arm: torch.Tensor | None) -> torch.Tensor:
        if not self.discrete_critic_reads_arm:
            return latent
        if arm is None:
            raise ValueError(
                "this module's discrete critic reads the arm action (discrete_critic_reads_arm=True); pass arm, "
                "the step's arm action in (-1, 1)."
            )
        return torch.cat([latent, arm], dim=-1)

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(online, target) pairs moved by Polyak averaging."""
        pairs = [(self.encoder, self.target_encoder), (self.critic, self.target_critic)]
        if self.has_discrete_critic:
            pairs.append((self.discrete_critic, self.target_discrete_critic))
        return pairs

    def epsilon(self, t: int | None) -> float:
        """Linear schedule from ``epsilon_start`` to ``epsilon_end`` over ``epsilon_decay_steps`` env steps.

        Without a step count (``t`` None) or a decay (0 steps) it is ``epsilon_end``.
        """
        if t is None or self.epsilon_decay_steps <= 0:
            return self.epsilon_end
        fraction = min(1.0, max(0.0, t / self.epsilon_decay_steps))
        return self.epsilon_start + fraction * (self.epsilon_end - self.epsilon_start)

    # ---- RLlib forwards ----------------------------------------------------------------------
    def forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """As RLlib's, minus the eval()/train() walk over all submodules when already in eval mode."""
        if self.training:
            return super().forward_inference(batch, **kwargs)
        return self._forward_inference(batch, **kwargs)

    def forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """As RLlib's, minus the eval()/train() walk over all submodules when already in eval mode."""
        if self.training:
            return super().forward_exploration(batch, **kwargs)
        return self._forward_exploration(batch, **kwargs)

    def _obs(self, batch: dict[str, Any]):
        return self.normalize(flatten_observation(batch[Columns.OBS], self.observation_space))

    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Deterministic action: tanh(mean) and the discrete critic's argmax per part (discrete
        only: the most probable joint choice), in the env's format."""
        with torch.no_grad():
            obs = self._obs(batch)
            if self.discrete_only:
                return {Columns.ACTIONS: self._joint_to_env(self.actor.deterministic(self.actor_latent(obs)))}
            latent = self.encoder(obs) if self.has_discrete_critic else None
            continuous = self.actor.deterministic(self.actor_latent(obs, latent))
            discrete = self._discrete_action(latent, continuous, epsilon=0.0)
        return {Columns.ACTIONS: self.layout.to_env(continuous, discrete)}

    def _forward_exploration(self, batch: dict[str, Any], t: int | None = None, **kwargs) -> dict[str, Any]:
        """Tanh-Gaussian sample; over the discrete critic epsilon-greedy (epsilon scheduled by env
        step t) or Boltzmann (``discrete_exploration``), each part on its own. Discrete only: a
        sample of the categorical policy."""
        with torch.no_grad():
            obs = self._obs(batch)
            if self.discrete_only:
                return {Columns.ACTIONS: self._joint_to_env(self.actor.sample(self.actor_latent(obs)))}
            latent = self.encoder(obs) if self.has_discrete_critic else None
            continuous = self._continuous_action(obs, latent, std_scale=1.0)
            discrete = self._discrete_action(latent, continuous, epsilon=self.epsilon(t), explore=True)
        return {Columns.ACTIONS: self.layout.to_env(continuous, discrete)}

    def act_with_std_scale(self, batch: dict[str, Any], std_scale: float) -> dict[str, Any]:
        """A diagnostic between the two forwards: the continuous part ``tanh(mean + std_scale *
        std * noise)`` (0: ``forward_inference``'s action; 1: ``forward_exploration``'s), the
        discrete part greedy. How success changes with ``std_scale`` tells whether a gap between
        greedy and exploring success comes from the arm's noise (``benchmarks/greedy_gap.py``)."""
        if not std_scale >= 0:
            raise ValueError(f"std_scale={std_scale!r} is invalid; allowed: a number >= 0.")
        with torch.no_grad():
            obs = self._obs(batch)
            if self.discrete_only:  # no std: 0 is the greedy choice, anything else a sample
                latent = self.actor_latent(obs)
                choice = self.actor.sample(latent) if std_scale else self.actor.deterministic(latent)
                return {Columns.ACTIONS: self._joint_to_env(choice)}
            latent = self.encoder(obs) if self.has_discrete_critic else None
            continuous = self._continuous_action(obs, latent, std_scale)
            discrete = self._discrete_action(latent, continuous, epsilon=0.0)
        return {Columns.ACTIONS: self.layout.to_env(continuous, discrete)}

    def _continuous_action(self, obs, latent: torch.Tensor | None, std_scale: float) -> torch.Tensor:
        """tanh(mean + std_scale * std * noise), (B, A); acting needs no log-prob (the learner's
        ``sample_action`` computes it)."""
        mean, std = self.actor(self.actor_latent(obs, latent))
        return torch.tanh(mean + std_scale * std * torch.randn_like(mean) if std_scale else mean)

    def _joint_to_env(self, choice: torch.Tensor) -> Any:
        """A discrete-only module's joint choices (B,) -> env actions."""
        empty = torch.zeros(choice.shape[0], 0, device=choice.device)
        return self.layout.to_env(empty, self.layout.from_joint(choice))

    def _discrete_action(
        self, latent: torch.Tensor | None, arm: torch.Tensor, epsilon: float, explore: bool = False
    ) -> torch.Tensor | None:
        """The discrete parts' choices (B, P), made after the arm's (``arm``: the step's arm
        action, (B, A)); each part explores on its own."""
        if not self.layout.has_discrete:
            return None
        if not self.has_discrete_critic:
            fixed = torch.tensor(self.fixed_discrete_action, dtype=torch.long, device=arm.device)
            return fixed.expand(arm.shape[0], -1)
        q = self.discrete_critic.split_parts(self.discrete_q_values(latent, arm))
        if explore and self.discrete_exploration == "boltzmann":
            temperature = self.log_alpha.exp()
            return torch.stack([torch.distributions.Categorical(logits=part / temperature).sample() for part in q], -1)
        greedy = torch.stack([part.argmax(dim=-1) for part in q], dim=-1)  # (B, P)
        if not explore or epsilon <= 0.0:
            return greedy
        sizes = torch.tensor(self.layout.discrete_sizes, device=greedy.device)
        random = (torch.rand(greedy.shape, device=greedy.device) * sizes).long().clamp_(max=sizes - 1)
        explore = torch.rand(greedy.shape, device=greedy.device) < epsilon
        return torch.where(explore, random, greedy)

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        raise NotImplementedError(
            "HybridSAC trains through HybridSACTorchLearner.update_from_transitions, which calls "
            "the loss functions in rllib_sac_hybrid.losses; forward_train is not used."
        )
