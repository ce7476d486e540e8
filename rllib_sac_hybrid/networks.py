"""Networks of HybridSAC: observation encoder, tanh-Gaussian actor, batched critic ensemble.

Everything here is plain ``torch.nn``: no RLlib imports, so the same code runs inside the
RLModule and in the plain-PyTorch floor of the speed benchmark.

The critic ensemble follows RLPD / CORL: one module whose weights carry a leading ensemble
axis ``(N, in, out)``, so all N heads run as one batched matmul, and a head subset is chosen
by indexing the stacked weights *before* the forward pass.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

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

# A categorical critic's support: symexp of a uniform grid on [-VALUE_SYMLOG_LIMIT, +...] (DreamerV3),
# dense near 0 and sparse far out, so one support spans returns of any scale up to |Q| ~ 3,000.
VALUE_SYMLOG_LIMIT = 8.0


def symexp(x: torch.Tensor) -> torch.Tensor:
    """sign(x) (exp|x| - 1), the inverse of symlog(x) = sign(x) log(1 + |x|)."""
    return torch.sign(x) * torch.expm1(x.abs())


def two_hot(values: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Each value (B,) as probabilities (B, K) on its two neighbouring support points, weighted so
    that their mean under the support is the value itself (clipped to the support's ends)."""
    values = values.clamp(support[0], support[-1])
    upper = torch.searchsorted(support, values.contiguous(), right=True).clamp(1, len(support) - 1)
    low, high = support[upper - 1], support[upper]
    weight_high = (values - low) / (high - low)
    probs = torch.zeros(*values.shape, len(support), dtype=values.dtype, device=values.device)
    probs.scatter_(-1, (upper - 1).unsqueeze(-1), (1.0 - weight_high).unsqueeze(-1))
    probs.scatter_add_(-1, upper.unsqueeze(-1), weight_high.unsqueeze(-1))
    return probs


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
    """Encodes a vector, or a dict of vectors and camera images, to one latent.

    Each vector key: ``Linear -> LayerNorm -> Tanh``. Each image key (uint8 H x W x C): an
    ``ImageEncoder`` (CNN backbone -> spatial learned embedding -> Linear -> LayerNorm -> Tanh).
    The parts are concatenated in sorted key order, so ``out_dim = latent_dim * num_keys``.

    Args:
        obs_dims: flat size of each observation key; a single vector uses the key ``None``.
        latent_dim: width of each key's part.
        image_shapes: (H, W, C) of the keys that are camera images (their ``obs_dims`` are unused).
        backbone: makes one camera's backbone from its image shape, ``backbone((H, W, C)) ->
            nn.Module`` mapping (B, C, H, W) floats in [0, 1] to (B, C', h, w) (``resolve_backbone``);
            None: ``SmallCNN.for_image``.
        frozen_backbones: keys -> an already built frozen backbone to use (shared, never copied).
        spatial_features: learned spatial kernels per backbone channel.
    """

    def __init__(
        self,
        obs_dims: Mapping[str | None, int],
        latent_dim: int,
        image_shapes: Mapping[str, Sequence[int]] | None = None,
        backbone: BackboneFactory | None = None,
        frozen_backbones: Mapping[str, nn.Module] | None = None,
        spatial_features: int = 8,
    ) -> None:
        super().__init__()
        image_shapes = dict(image_shapes or {})
        self.keys = sorted(obs_dims, key=lambda k: "" if k is None else k)
        self.image_keys = [k for k in self.keys if k in image_shapes]
        parts = []
        for k in self.keys:
            if k in image_shapes:
                shared = (frozen_backbones or {}).get(k)
                net = shared if shared is not None else (backbone or SmallCNN.for_image)(image_shapes[k])
                parts.append(ImageEncoder(image_shapes[k], latent_dim, net, spatial_features))
            else:
                parts.append(nn.Sequential(nn.Linear(obs_dims[k], latent_dim), nn.LayerNorm(latent_dim), nn.Tanh()))
        self.projections = nn.ModuleList(parts)
        self.out_dim = latent_dim * len(self.keys)

    def image_encoder(self, key: str) -> ImageEncoder:
        """The encoder of image key ``key``."""
        return self.projections[self.keys.index(key)]

    def forward(self, obs: Observation) -> torch.Tensor:
        """Args: obs (B, *obs_shape) or a dict of such (images uint8 (B, H, W, C), or their
        ``BackboneFeatures``). Returns: (B, out_dim)."""
        if not isinstance(obs, Mapping):
            return self.projections[0](obs if self.image_keys else obs.flatten(1).float())
        parts = [
            proj(obs[k]) if k in self.image_keys else proj(obs[k].flatten(1).float())
            for k, proj in zip(self.keys, self.projections)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class FrozenBackbone(nn.Module):
    """A backbone that never trains: no gradients, always in eval mode (BatchNorm statistics of a
    pretrained network stay as loaded, whatever ``train()`` the module around it gets)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> FrozenBackbone:
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x)


BackboneFactory = Callable[[Sequence[int]], nn.Module]  # an image's (H, W, C) -> its backbone


def resolve_backbone(spec: str | Callable[[int], nn.Module] | None) -> BackboneFactory:
    """``image_backbone`` -> a factory of a camera's backbone from its image shape (H, W, C):
    None is ``SmallCNN.for_image``; a string ``"package.module:function"`` is imported; a callable
    is used as is. A user's factory takes the number of input channels."""
    if spec is None:
        return SmallCNN.for_image
    if callable(spec):
        return _of_channels(spec)
    module_name, _, attr = str(spec).partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(
            f"image_backbone={spec!r} cannot be imported ({error}); allowed: None, a callable, or "
            "'package.module:function' returning an nn.Module for a number of input channels."
        ) from error
    if not callable(factory):
        raise ValueError(f"image_backbone={spec!r} is not callable; allowed: a function of in_channels.")
    return _of_channels(factory)


def _of_channels(factory: Callable[[int], nn.Module]) -> BackboneFactory:
    return lambda shape: factory(int(shape[-1]))


class BackboneFeatures(NamedTuple):
    """A camera's backbone output (B, C', h, w), computed ahead (a frozen backbone's cache); an
    ``ImageEncoder`` given these skips its backbone."""

    features: torch.Tensor


def images_to_float(images: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) uint8 (0..255) or float (already in [0, 1]) -> (B, C, H, W) float in [0, 1]."""
    x = images.permute(0, 3, 1, 2)
    return x.float().div(255.0) if images.dtype == torch.uint8 else x.float()


MIN_FEATURE_SIDE = 8  # the smallest feature-map side SmallCNN leaves unpadded


class SmallCNN(nn.Module):
    """The default camera backbone (DrQ's): four 3x3 convolutions of 32 channels, the first with
    stride 2, ReLU after each. Unpadded, (B, C, H, W) -> (B, 32, (H - 1) // 2 - 6, ...): 35 at 84 px.

    ``padding`` (for the three stride-1 convolutions) keeps the map at (H - 1) // 2 a side.
    ``for_image`` pads where the unpadded map would be under ``MIN_FEATURE_SIDE`` (images under
    29 px): unpadded, a 16 px image ends as a 1x1 map, which keeps no position of anything in
    view for the spatial embedding to read."""

    def __init__(self, in_channels: int, channels: int = 32, padding: int = 0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=1, padding=padding), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=1, padding=padding), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=1, padding=padding), nn.ReLU(),
        )  # fmt: skip

    @classmethod
    def for_image(cls, shape: Sequence[int]) -> SmallCNN:
        """The backbone for (H, W, C) images: unpadded, or padded where that map would be too small."""
        height, width, channels = (int(d) for d in shape)
        padding = 0 if (min(height, width) - 1) // 2 - 6 >= MIN_FEATURE_SIDE else 1
        return cls(channels, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SpatialLearnedEmbeddings(nn.Module):
    """HIL-SERL's spatial pooling: K learned (h, w) kernels per channel, each a weighted sum over
    the feature map's positions, so the head keeps *where* features are (unlike average pooling).
    (B, C, h, w) -> (B, C * K)."""

    def __init__(self, channels: int, height: int, width: int, num_features: int) -> None:
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(channels, height, width, num_features))
        nn.init.normal_(self.kernel, std=1.0 / math.sqrt(height * width))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bchw,chwk->bck", features, self.kernel).flatten(1)


class ImageEncoder(nn.Module):
    """One camera: backbone -> spatial learned embedding -> Linear -> LayerNorm -> Tanh.

    Args:
        shape: the image's (H, W, C).
        latent_dim: output width.
        backbone: (B, C, H, W) floats in [0, 1] -> (B, C', h, w).
        spatial_features: learned kernels per backbone channel.
    """

    def __init__(self, shape: Sequence[int], latent_dim: int, backbone: nn.Module, spatial_features: int = 8) -> None:
        super().__init__()
        height, width, channels = (int(d) for d in shape)
        self.backbone = backbone
        with torch.no_grad():
            out = backbone(torch.zeros(1, channels, height, width))
        if out.dim() != 4:
            raise ValueError(
                f"image backbone output has shape {tuple(out.shape)} for a {height}x{width}x{channels} image; "
                "allowed: a module mapping (B, C, H, W) to a feature map (B, C', h, w)."
            )
        _, c, h, w = out.shape
        self.spatial = SpatialLearnedEmbeddings(c, h, w, spatial_features)
        self.head = nn.Sequential(nn.Linear(c * spatial_features, latent_dim), nn.LayerNorm(latent_dim), nn.Tanh())

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The backbone's feature map of (B, H, W, C) images."""
        return self.backbone(images_to_float(images))

    def forward(self, images: torch.Tensor | BackboneFeatures) -> torch.Tensor:
        features = images.features if isinstance(images, BackboneFeatures) else self.features(images)
        return self.head(self.spatial(features))


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


class CategoricalActor(nn.Module):
    """A categorical policy over K discrete choices (discrete-only SAC, Christodoulou 2019):
    MLP -> Linear(., K) logits; the entropy and expectations over pi are computed exactly."""

    def __init__(
        self,
        in_dim: int,
        num_choices: int,
        hidden_dims: Sequence[int],
        activation: str = "silu",
        layer_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.trunk = mlp(in_dim, hidden_dims, activation, layer_norm, dropout)
        self.logits = nn.Linear(hidden_dims[-1] if hidden_dims else in_dim, num_choices)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Returns log pi(.|s), (B, K)."""
        return self.logits(self.trunk(latent)).log_softmax(dim=-1)

    def sample(self, latent: torch.Tensor) -> torch.Tensor:
        """A choice (B,) drawn from pi(.|s)."""
        return torch.distributions.Categorical(logits=self(latent)).sample()

    def deterministic(self, latent: torch.Tensor) -> torch.Tensor:
        """The most probable choice (B,)."""
        return self(latent).argmax(dim=-1)


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
    With ``value_bins`` K > 1 each head is categorical instead: ``Linear(., K)`` logits over a
    fixed symlog-spaced support, Q the mean of that distribution (``logits`` for the loss).
    With ``num_actions`` K (discrete-only actions) each head reads the latent alone and outputs
    Q(s, a) for every one of the K choices, (N, B, K).
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
        value_bins: int | None = None,
        num_actions: int | None = None,
    ) -> None:
        super().__init__()
        if value_bins and num_actions:
            raise ValueError("critic_value_bins and a per-action critic (discrete-only actions) do not combine.")
        self.num_members = num_members
        self.value_bins = value_bins
        self.num_actions = num_actions
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList() if layer_norm else None
        for width in hidden_dims:
            self.linears.append(EnsembleLinear(num_members, in_dim, width))
            if self.norms is not None:
                self.norms.append(EnsembleLayerNorm(num_members, width))
            in_dim = width
        self.activation = ACTIVATIONS[activation]()
        self.dropout = dropout
        self.out = EnsembleLinear(num_members, in_dim, value_bins or num_actions or 1)
        if value_bins:
            grid = torch.linspace(-VALUE_SYMLOG_LIMIT, VALUE_SYMLOG_LIMIT, value_bins)
            self.register_buffer("support", symexp(grid))
        with torch.no_grad():
            if value_bins:  # a uniform distribution, Q = 0, at the start
                self.out.weight.zero_()
                self.out.bias.zero_()
            elif init_final is not None:
                nn.init.uniform_(self.out.weight, -init_final, init_final)
                nn.init.uniform_(self.out.bias, -init_final, init_final)
            else:
                for w in self.out.weight:  # (in, outputs) per head
                    nn.init.orthogonal_(w)
                self.out.bias.zero_()

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Args: x (B, in) = concat(latent, action) (the latent alone with ``num_actions``);
        members (M,) head indices or None (all).

        Returns: Q (E, B) with E = M or N; (E, B, K) with ``num_actions``.
        """
        out = self.logits(x, members)
        if self.num_actions:
            return out
        if not self.value_bins:
            return out.squeeze(-1)
        return torch.softmax(out, dim=-1) @ self.support

    def logits(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """The output layer's values (E, B, K): a categorical head's logits (K = 1: Q itself)."""
        h = x
        for i, linear in enumerate(self.linears):
            h = linear(h, members)
            if self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
            if self.norms is not None:
                h = self.norms[i](h, members)
            h = self.activation(h)
        return self.out(h, members)


class DiscreteCritic(nn.Module):
    """Q-values of each discrete part's choices (a gripper's close / stay / open, a second
    gripper, a mode): one MLP trunk, one linear head per part. Returns the parts' values side by
    side, (B, K_1 + ... + K_P); ``split_parts`` cuts them apart."""

    def __init__(
        self,
        in_dim: int,
        num_actions: int | Sequence[int],
        hidden_dims: Sequence[int],
        activation: str = "silu",
        layer_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.part_sizes = (int(num_actions),) if isinstance(num_actions, int) else tuple(int(k) for k in num_actions)
        self.trunk = mlp(in_dim, hidden_dims, activation, layer_norm, dropout)
        # One Linear for all heads: the same weights as P separate heads, one matmul.
        self.out = nn.Linear(hidden_dims[-1] if hidden_dims else in_dim, sum(self.part_sizes))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Args: latent (B, D). Returns: Q (B, K_1 + ... + K_P)."""
        return self.out(self.trunk(latent))

    def split_parts(self, q: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, sum K_p) -> each part's (B, K_p)."""
        return q.split(self.part_sizes, dim=-1)


# ---- pretrained backbone weights (python -m rllib_sac_hybrid.robot.pretrain writes them) ----
WEIGHTS_FORMAT = 1  # version of the saved file's layout


def camera_name(key: str | None) -> str:
    """A camera's key in the weights file ("" for an image observation that is the whole Box)."""
    return "" if key is None else key


def load_backbone_weights(path: str) -> dict[str, dict[str, torch.Tensor]]:
    """The per-camera backbone weights of a ``pretrain_image_backbone`` file.

    Raises:
        ValueError: the file is missing, unreadable, or not such a file.
    """
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise ValueError(f"image_backbone_weights={path!r} does not exist; allowed: a file written by "
                         "python -m rllib_sac_hybrid.robot.pretrain.") from error  # fmt: skip
    except Exception as error:
        raise ValueError(
            f"image_backbone_weights={path!r} could not be read ({type(error).__name__}: {error}); "
            "allowed: a file written by python -m rllib_sac_hybrid.robot.pretrain."
        ) from error
    if not isinstance(saved, dict) or saved.get("format") != WEIGHTS_FORMAT or "backbones" not in saved:
        raise ValueError(
            f"image_backbone_weights={path!r} is not a backbone weights file (format {WEIGHTS_FORMAT}); allowed: a "
            "file written by python -m rllib_sac_hybrid.robot.pretrain."
        )
    return saved["backbones"]
