"""Networks of HybridSAC: observation encoder, tanh-Gaussian actor, batched critic ensemble.

Everything here is plain ``torch.nn``: no RLlib imports, so the same code runs inside the
RLModule and in the plain-PyTorch floor of the speed benchmark.

The critic ensemble follows RLPD / CORL: one module whose weights carry a leading ensemble
axis ``(N, in, out)``, so all N heads run as one batched matmul, and a head subset is chosen
by indexing the stacked weights *before* the forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from einops import repeat
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
}

Observation = torch.Tensor | Mapping[str, torch.Tensor]


def mlp(
    in_dim: int,
    hidden_dims: Sequence[int],
    activation: str,
    layer_norm: bool,
    dropout: float,
) -> nn.Sequential:
    """Hidden layers ``Linear -> [Dropout] -> [LayerNorm] -> activation``, repeated."""
    layers: list[nn.Module] = []
    for width in hidden_dims:
        layers.append(nn.Linear(in_dim, width))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        if layer_norm:
            layers.append(nn.LayerNorm(width))
        layers.append(ACTIVATIONS[activation]())
        in_dim = width
    return nn.Sequential(*layers)


class ObservationEncoder(nn.Module):
    """Projects a vector or a dict of vectors to a latent: ``Linear -> LayerNorm -> Tanh``.

    A dict observation gets one projection per key; the projections are concatenated in
    sorted key order, so ``out_dim = latent_dim * num_keys``.

    Args:
        obs_dims: flat size of each observation key; a single vector uses the key ``None``.
        latent_dim: width of each projection.
    """

    def __init__(self, obs_dims: Mapping[str | None, int], latent_dim: int) -> None:
        super().__init__()
        self.keys = sorted(obs_dims, key=lambda k: "" if k is None else k)
        self.projections = nn.ModuleList(
            nn.Sequential(nn.Linear(obs_dims[k], latent_dim), nn.LayerNorm(latent_dim), nn.Tanh()) for k in self.keys
        )
        self.out_dim = latent_dim * len(self.keys)

    def forward(self, obs: Observation) -> torch.Tensor:
        """Args: obs (B, *obs_shape) or a dict of such. Returns: (B, out_dim)."""
        if not isinstance(obs, Mapping):
            return self.projections[0](obs.flatten(1).float())
        parts = [proj(obs[k].flatten(1).float()) for k, proj in zip(self.keys, self.projections)]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class TanhGaussianActor(nn.Module):
    """Diagonal Gaussian squashed by tanh; actions live in (-1, 1).

    ``std = clamp(exp(log_std), std_min, std_max)``; the log-prob includes the tanh Jacobian.
    """

    def __init__(
        self,
        in_dim: int,
        action_dim: int,
        hidden_dims: Sequence[int],
        activation: str = "silu",
        layer_norm: bool = True,
        dropout: float = 0.0,
        std_min: float = 1e-5,
        std_max: float = 10.0,
    ) -> None:
        super().__init__()
        self.trunk = mlp(in_dim, hidden_dims, activation, layer_norm, dropout)
        width = hidden_dims[-1] if hidden_dims else in_dim
        self.mean = nn.Linear(width, action_dim)
        self.log_std = nn.Linear(width, action_dim)
        self.std_min, self.std_max = std_min, std_max

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the pre-tanh mean and std, each (B, A)."""
        h = self.trunk(latent)
        std = self.log_std(h).exp().clamp(self.std_min, self.std_max)
        return self.mean(h), std

    def sample(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised sample. Returns action (B, A) in (-1, 1) and its log-prob (B,)."""
        mean, std = self(latent)
        u = mean + std * torch.randn_like(mean)
        return torch.tanh(u), squashed_gaussian_log_prob(u, mean, std)

    def deterministic(self, latent: torch.Tensor) -> torch.Tensor:
        """The evaluation action tanh(mean), (B, A)."""
        return torch.tanh(self(latent)[0])


def squashed_gaussian_log_prob(u: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log pi(tanh(u)) for u ~ N(mean, std): Gaussian log-density minus log|d tanh/du|.

    Uses ``log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u))``, which is stable for large |u|.
    Returns (B,).
    """
    z = (u - mean) / std
    gaussian = -0.5 * z.pow(2) - std.log() - 0.5 * math.log(2 * math.pi)
    log_det_jacobian = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
    return (gaussian - log_det_jacobian).sum(-1)


class EnsembleLinear(nn.Module):
    """N independent linear layers as one batched matmul: weight (N, in, out), bias (N, 1, out).

    Each slice is initialised like ``nn.Linear`` (Kaiming-uniform weight, uniform bias).
    """

    def __init__(self, num_members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(num_members, 1, out_dim))
        bound = 1.0 / math.sqrt(in_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Args: x (E, B, in) or (B, in) shared by all members; members: indices (E,) or None.

        Returns (E, B, out) with E = len(members) or N.
        """
        weight, bias = (self.weight, self.bias) if members is None else (self.weight[members], self.bias[members])
        if x.dim() == 2:  # the same input for every member: a broadcast view, no copy
            x = repeat(x, "b i -> e b i", e=weight.shape[0])
        return torch.baddbmm(bias, x, weight)  # (E, B, out)


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last dim with a separate affine (gain, bias) per ensemble member."""

    def __init__(self, num_members: int, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_members, 1, dim))
        self.bias = nn.Parameter(torch.zeros(num_members, 1, dim))
        self.eps = eps

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        weight, bias = (self.weight, self.bias) if members is None else (self.weight[members], self.bias[members])
        x = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        return torch.addcmul(bias, x, weight)


class CriticEnsemble(nn.Module):
    """N Q-heads ``MLP(hidden) -> Linear(., 1)`` evaluated together.

    Output layer: uniform(+-init_final) when ``init_final`` is set, else orthogonal per head.
    """

    def __init__(
        self,
        num_members: int,
        in_dim: int,
        hidden_dims: Sequence[int],
        activation: str = "silu",
        layer_norm: bool = True,
        dropout: float = 0.0,
        init_final: float | None = None,
    ) -> None:
        super().__init__()
        self.num_members = num_members
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList() if layer_norm else None
        for width in hidden_dims:
            self.linears.append(EnsembleLinear(num_members, in_dim, width))
            if self.norms is not None:
                self.norms.append(EnsembleLayerNorm(num_members, width))
            in_dim = width
        self.activation = ACTIVATIONS[activation]()
        self.dropout = dropout
        self.out = EnsembleLinear(num_members, in_dim, 1)
        with torch.no_grad():
            if init_final is not None:
                nn.init.uniform_(self.out.weight, -init_final, init_final)
                nn.init.uniform_(self.out.bias, -init_final, init_final)
            else:
                for w in self.out.weight:  # (in, 1) per head
                    nn.init.orthogonal_(w)
                self.out.bias.zero_()

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Args: x (B, in) = concat(latent, action); members (M,) head indices or None (all).

        Returns: Q (E, B) with E = M or N.
        """
        h = x
        for i, linear in enumerate(self.linears):
            h = linear(h, members)
            if self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
            if self.norms is not None:
                h = self.norms[i](h, members)
            h = self.activation(h)
        return self.out(h, members).squeeze(-1)


class DiscreteCritic(nn.Module):
    """Q-values of the K discrete choices (e.g. gripper close / stay / open): MLP -> Linear(., K)."""

    def __init__(
        self,
        in_dim: int,
        num_actions: int,
        hidden_dims: Sequence[int],
        activation: str = "silu",
        layer_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.trunk = mlp(in_dim, hidden_dims, activation, layer_norm, dropout)
        self.out = nn.Linear(hidden_dims[-1] if hidden_dims else in_dim, num_actions)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Args: latent (B, D). Returns: Q (B, K)."""
        return self.out(self.trunk(latent))
