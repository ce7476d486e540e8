"""The HybridSAC RLModule: wires the networks into RLlib's inference / exploration forwards.

On EnvRunners the module is built ``inference_only``: just the encoder(s) and the actor. On
the learner it also holds the critic ensemble, its Polyak target (target encoder + target
heads) and ``log_alpha``, all of which are part of the module's saved state.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn

from rllib_sac_hybrid.networks import CriticEnsemble, ObservationEncoder, TanhGaussianActor
from rllib_sac_hybrid.spaces import ActionLayout, flatten_observation, observation_dims

# Keys of `model_config` the module reads; their defaults live on HybridSACConfig only.
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
    "std_min",
    "std_max",
    "temperature_init",
)


class HybridSACTorchRLModule(TorchRLModule, InferenceOnlyAPI):
    """Encoder + tanh-Gaussian actor (+ critic ensemble, targets and ``log_alpha`` on learners).

    ``model_config`` must hold every key of ``MODEL_CONFIG_KEYS``; ``HybridSACConfig``
    provides them. Forward outputs ``Columns.ACTIONS`` already in the env's action format.
    """

    def setup(self) -> None:
        missing = [k for k in MODEL_CONFIG_KEYS if k not in self.model_config]
        if missing:
            raise ValueError(
                f"model_config is missing {missing}; build the module through HybridSACConfig "
                "(config.get_default_rl_module_spec()) so every network setting is present."
            )
        cfg = self.model_config
        self.layout = ActionLayout.from_space(self.action_space)
        obs_dims = observation_dims(self.observation_space)
        self.shared_encoder = bool(cfg["shared_encoder"])
        action_dim = self.layout.continuous_dim

        # The critic's encoder; with a shared encoder the actor reads it too (detached).
        if self.shared_encoder or not self.inference_only:
            self.encoder = ObservationEncoder(obs_dims, cfg["encoder_latent_dim"])
        if not self.shared_encoder:
            self.actor_encoder = ObservationEncoder(obs_dims, cfg["encoder_latent_dim"])
        latent_dim = (self.encoder if self.shared_encoder else self.actor_encoder).out_dim
        self.actor = TanhGaussianActor(
            latent_dim,
            action_dim,
            cfg["actor_hidden_dims"],
            activation=cfg["activation"],
            layer_norm=cfg["actor_layer_norm"],
            dropout=cfg["actor_dropout"],
            std_min=cfg["std_min"],
            std_max=cfg["std_max"],
        )
        if self.inference_only:
            return

        self.critic = CriticEnsemble(
            cfg["num_critics"],
            self.encoder.out_dim + action_dim,
            cfg["critic_hidden_dims"],
            activation=cfg["activation"],
            layer_norm=cfg["critic_layer_norm"],
            dropout=cfg["critic_dropout"],
            init_final=cfg["init_final"],
        )
        # Lagged copies of the encoder and heads, moved only by Polyak averaging.
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg["temperature_init"]), dtype=torch.float32))

    def get_non_inference_attributes(self) -> list[str]:
        attrs = ["critic", "target_encoder", "target_critic", "log_alpha"]
        return attrs if self.shared_encoder else ["encoder", *attrs]

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

    def sample_action(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action (B, A) in (-1, 1) and log pi (B,)."""
        return self.actor.sample(latent)

    def q_values(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """All N online heads, (N, B)."""
        return self.critic(torch.cat([latent, action], dim=-1))

    def target_q_values(self, obs, action: torch.Tensor, heads: torch.Tensor | None) -> torch.Tensor:
        """Only the chosen target heads (M, B) (all N when ``heads`` is None)."""
        return self.target_critic(torch.cat([self.target_encoder(obs), action], dim=-1), heads)

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(online, target) pairs moved by Polyak averaging."""
        return [(self.encoder, self.target_encoder), (self.critic, self.target_critic)]

    # ---- RLlib forwards ----------------------------------------------------------------------
    def _obs(self, batch: dict[str, Any]):
        return flatten_observation(batch[Columns.OBS], self.observation_space)

    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Deterministic action tanh(mean), rescaled to the env's bounds."""
        with torch.no_grad():
            flat = self.actor.deterministic(self.actor_latent(self._obs(batch)))
        return {Columns.ACTIONS: self.layout.to_env(flat)}

    def _forward_exploration(self, batch: dict[str, Any], t: int | None = None, **kwargs) -> dict[str, Any]:
        """Stochastic action from the tanh-Gaussian, rescaled to the env's bounds."""
        with torch.no_grad():
            flat, _ = self.actor.sample(self.actor_latent(self._obs(batch)))
        return {Columns.ACTIONS: self.layout.to_env(flat)}

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        raise NotImplementedError(
            "HybridSAC trains through HybridSACTorchLearner.update_from_transitions, which calls "
            "the loss functions in rllib_sac_hybrid.losses; forward_train is not used."
        )
