"""Pretrain the camera backbones on your own demonstrations, for the frozen-backbone path.

Robot users often cannot download pretrained weights. A backbone trained on a pretext task from
their own recordings is the next best thing: here the pretext is behaviour cloning, predicting
the demonstrator's action (continuous part: mean squared error in [-1, 1] units; discrete part,
e.g. the gripper: cross-entropy) from the camera images alone, so the features must see where
things are. Vector observation keys are left out on purpose: they would let the head predict
without looking.

    python -m rllib_sac_hybrid.robot.pretrain --env rllib_sac_hybrid/PickPlacePixels-v0 \\
        --env-config '{"image_size": 32}' --demonstrations demos/pixels --out backbone.pt

then train with the weights loaded into every camera's backbone, frozen or as a starting point::

    HybridSACConfig().environment(...).training(image_backbone_weights="backbone.pt", freeze_image_backbone=True)

Each camera gets the policy's own image encoder (``image_backbone`` -> spatial learned embedding
-> Linear -> LayerNorm -> Tanh), the cameras' latents go through a small MLP head. Training
uses DrQ's random shift (as the policy's replay does), holds out whole episodes for validation,
and stops early when the validation loss has not improved for ``patience`` epochs, keeping the
best epoch. Only the backbones' weights are saved; the rest of the encoder trains with the policy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import rllib_sac_hybrid.envs  # noqa: F401  (registers the built-in ids)
from rllib_sac_hybrid.cli import json_object
from rllib_sac_hybrid.data.augment import random_shift, shift_pad_for
from rllib_sac_hybrid.data.demonstrations import FORMATS, demonstration_transitions, read_episodes
from rllib_sac_hybrid.networks import (
    WEIGHTS_FORMAT,
    BackboneFactory,
    ImageEncoder,
    camera_name,
    load_backbone_weights,  # noqa: F401  (imported from here before 0.2.0)
    mlp,
    resolve_backbone,
)
from rllib_sac_hybrid.spaces import ActionLayout, image_shapes


class BehaviourCloningNet(nn.Module):
    """Per camera the policy's image encoder; the latents concatenated -> MLP -> continuous
    action (tanh, in [-1, 1]) and each discrete part's logits, side by side."""

    def __init__(
        self,
        cameras: dict[str | None, tuple[int, int, int]],
        backbone_factory: BackboneFactory,
        continuous_dim: int,
        discrete_sizes: Sequence[int],
        latent_dim: int = 64,
        spatial_features: int = 8,
    ) -> None:
        super().__init__()
        self.keys = list(cameras)
        self.encoders = nn.ModuleList(
            ImageEncoder(shape, latent_dim, backbone_factory(shape), spatial_features) for shape in cameras.values()
        )
        self.continuous_dim, self.discrete_sizes = continuous_dim, tuple(discrete_sizes)
        self.head = nn.Sequential(
            mlp(latent_dim * len(self.keys), (256, 256), "silu", layer_norm=False, dropout=0.0),
            nn.Linear(256, continuous_dim + sum(self.discrete_sizes)),
        )

    def forward(self, images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        latent = torch.cat([encoder(x) for encoder, x in zip(self.encoders, images)], dim=-1)
        out = self.head(latent)
        return torch.tanh(out[:, : self.continuous_dim]), out[:, self.continuous_dim :]

    def backbone_state(self) -> dict[str, dict[str, torch.Tensor]]:
        return {
            camera_name(k): {n: t.detach().clone() for n, t in e.backbone.state_dict().items()}
            for k, e in zip(self.keys, self.encoders)
        }


def pretrain_image_backbone(
    env: str,
    demonstrations: str | Sequence[str],
    out: str,
    *,
    env_config: dict[str, Any] | None = None,
    demonstration_format: str = "rllib",
    image_backbone=None,
    discrete_action_in_last_dim: bool = False,
    epochs: int = 200,
    batch_size: int = 64,
    lr: float = 1e-3,
    validation_fraction: float = 0.2,
    patience: int = 15,
    shift_pad: int | str = "auto",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains the camera backbones to predict the demonstrated actions and saves their weights
    to ``out``. Returns a summary: epochs run, the best epoch, its validation losses, and the
    validation loss of predicting the training mean (what a backbone that saw nothing reaches).

    Raises:
        ValueError: a setting out of range, an env without camera images, or too few
            demonstration episodes to hold some out (naming the field and what is allowed).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} is invalid; allowed: an integer >= 1.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is invalid; allowed: an integer >= 1.")
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction={validation_fraction!r} is invalid; allowed: a number in (0, 1).")
    if not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience={patience!r} is invalid; allowed: an integer >= 1.")
    if shift_pad != "auto" and (not isinstance(shift_pad, int) or isinstance(shift_pad, bool) or shift_pad < 0):
        raise ValueError(f'shift_pad={shift_pad!r} is invalid; allowed: an integer >= 0 (0: no shift) or "auto".')
    if demonstration_format not in FORMATS:
        raise ValueError(f"demonstration_format={demonstration_format!r} is unknown; allowed: {FORMATS}.")
    made = gym.make(env, **(env_config or {}))
    observation_space, action_space = made.observation_space, made.action_space
    made.close()
    cameras = image_shapes(observation_space)
    if not cameras:
        raise ValueError(
            f"env {env!r} has no camera images in its observation space {observation_space}; allowed: an env "
            "whose observations hold uint8 H x W x C images."
        )
    layout = ActionLayout.from_space(action_space, discrete_action_in_last_dim)
    episodes = read_episodes(demonstrations, demonstration_format)
    data = demonstration_transitions(episodes, observation_space, layout, "discrete_penalty")
    ids = np.unique(data["episode_id"]) if data else np.array([])
    if len(ids) < 2:
        raise ValueError(
            f"demonstrations {demonstrations!r} hold {len(ids)} non-empty episode(s); allowed: at least 2 (whole "
            "episodes are held out for validation)."
        )

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    obs = data["obs"] if isinstance(data["obs"], dict) else {None: data["obs"]}
    first_camera = np.asarray(obs[next(iter(cameras))])
    # Episodes in an order fixed by their content (their ids are random, their file order is
    # Ray Data's), so that the same recordings give the same split and batches.
    rows_of: dict = {}
    for row, episode_id in enumerate(data["episode_id"]):
        rows_of.setdefault(episode_id, []).append(row)
    ordered = sorted(rows_of, key=lambda e: hashlib.sha1(first_camera[rows_of[e][0]].tobytes()).hexdigest())
    ordered = [ordered[i] for i in torch.randperm(len(ordered), generator=generator).tolist()]
    num_val = max(1, round(validation_fraction * len(ordered)))
    val_rows = torch.as_tensor([r for e in ordered[:num_val] for r in rows_of[e]])
    train_rows = torch.as_tensor([r for e in ordered[num_val:] for r in rows_of[e]])
    images = [torch.as_tensor(np.asarray(obs[k])) for k in cameras]
    pads = [shift_pad_for(tuple(x.shape[1:]), shift_pad) for x in images]  # per camera, as the learner's
    low, high = torch.as_tensor(layout.low), torch.as_tensor(layout.high)
    continuous = 2.0 * (torch.as_tensor(data["action"]) - low) / (high - low) - 1.0  # [-1, 1], as the actor's
    discrete = torch.as_tensor(data["discrete_action"]) if layout.has_discrete else None

    net = BehaviourCloningNet(cameras, resolve_backbone(image_backbone), layout.continuous_dim, layout.discrete_sizes)
    sizes = list(layout.discrete_sizes)

    def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # summed over the parts
        return sum(F.cross_entropy(part, target[:, p]) for p, part in enumerate(logits.split(sizes, dim=-1)))

    optimizer = torch.optim.Adam(net.parameters(), lr=lr)

    def losses(rows: torch.Tensor, augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
        views = [x[rows] for x in images]
        if augment:
            views = [random_shift(v, pad, generator) if pad else v for v, pad in zip(views, pads)]
        predicted, logits = net(views)
        mse = F.mse_loss(predicted, continuous[rows]) if layout.has_continuous else torch.zeros(())
        ce = cross_entropy(logits, discrete[rows]) if discrete is not None else torch.zeros(())
        return mse, ce

    def validation() -> tuple[float, float]:
        net.eval()
        with torch.no_grad():
            parts = [losses(chunk, augment=False) for chunk in val_rows.split(256)]
        net.train()
        sizes = [len(chunk) for chunk in val_rows.split(256)]
        mse = sum(m.item() * n for (m, _), n in zip(parts, sizes)) / len(val_rows)
        ce = sum(c.item() * n for (_, c), n in zip(parts, sizes)) / len(val_rows)
        return mse, ce

    # What predicting the training mean (and the training class frequencies) scores on validation.
    mean = continuous[train_rows].mean(0)
    baseline = float(((continuous[val_rows] - mean) ** 2).mean()) if layout.has_continuous else 0.0
    for p, size in enumerate(sizes):
        freq = torch.bincount(discrete[train_rows, p], minlength=size).float() + 1.0
        baseline += float(
            F.cross_entropy(torch.log(freq / freq.sum()).expand(len(val_rows), -1), discrete[val_rows, p])
        )

    best = {"loss": math.inf, "epoch": 0, "mse": math.nan, "ce": math.nan, "state": net.backbone_state()}
    start, epoch = time.monotonic(), 0
    for epoch in range(1, epochs + 1):
        for rows in train_rows[torch.randperm(len(train_rows), generator=generator)].split(batch_size):
            mse, ce = losses(rows, augment=any(pads))
            optimizer.zero_grad()
            (mse + ce).backward()
            optimizer.step()
        val_mse, val_ce = validation()
        if val_mse + val_ce < best["loss"]:
            best = {
                "loss": val_mse + val_ce,
                "epoch": epoch,
                "mse": val_mse,
                "ce": val_ce,
                "state": net.backbone_state(),
            }
        if progress:
            print(
                f"epoch {epoch}: validation action mse {val_mse:.4f}, gripper cross-entropy {val_ce:.4f} "
                f"(best {best['loss']:.4f} at epoch {best['epoch']}; predicting the mean: {baseline:.4f}), "
                f"{time.monotonic() - start:.0f} s",
                flush=True,
            )
        if epoch - best["epoch"] >= patience:
            break
    torch.save(
        {
            "format": WEIGHTS_FORMAT,
            "backbones": best["state"],
            "image_shapes": {camera_name(k): list(v) for k, v in cameras.items()},
            "image_backbone": image_backbone if isinstance(image_backbone, str) or image_backbone is None else None,
            "validation_loss": best["loss"],
        },
        out,
    )
    return {
        "out": out,
        "epochs": epoch,
        "best_epoch": best["epoch"],
        "validation_loss": best["loss"],
        "validation_action_mse": best["mse"],
        "validation_discrete_cross_entropy": best["ce"],
        "mean_prediction_loss": baseline,
        "train_transitions": len(train_rows),
        "validation_transitions": len(val_rows),
        "seconds": time.monotonic() - start,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="the env id the demonstrations were recorded on")
    parser.add_argument("--demonstrations", required=True, nargs="+", help="recorded episode directories")
    parser.add_argument("--out", required=True, help="the weights file to write")
    parser.add_argument("--env-config", default="{}", help="JSON keyword arguments for gym.make")
    parser.add_argument("--demonstration-format", default="rllib", choices=FORMATS)
    parser.add_argument("--image-backbone", default=None, help="'package.module:function' (default: the small CNN)")
    parser.add_argument("--discrete-action-in-last-dim", action="store_true")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    env_config = json_object("--env-config", args.env_config)
    summary = pretrain_image_backbone(
        args.env,
        args.demonstrations,
        args.out,
        env_config=env_config,
        demonstration_format=args.demonstration_format,
        image_backbone=args.image_backbone,
        discrete_action_in_last_dim=args.discrete_action_in_last_dim,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
