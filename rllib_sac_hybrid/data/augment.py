"""DrQ's image augmentation (Kostrikov et al. 2020): a random shift of each camera image."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rllib_sac_hybrid.data.batch import Batch


def random_shift(images: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ's augmentation: pad each image by ``pad`` pixels (edge-replicated) and crop it back at
    a random integer offset, a different one per image. (B, H, W, C) uint8 or float -> same shape
    and dtype."""
    b, h, w, _ = images.shape
    padded = F.pad(images.permute(0, 3, 1, 2).float(), (pad, pad, pad, pad), mode="replicate")  # (B, C, H+2p, W+2p)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b, 1), generator=generator).to(images.device)
    rows = (dy + torch.arange(h, device=images.device))[:, :, None]  # (B, H, 1)
    cols = (dx + torch.arange(w, device=images.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=images.device)[:, None, None]
    out = padded[batch, :, rows, cols]  # advanced indices first: (B, H, W, C)
    return out.to(images.dtype)


# DrQ shifts 84x84 frames by up to 4 pixels: about 5% of the side.
DRQ_SHIFT_FRACTION = 4 / 84


def shift_pad_for(shape: tuple[int, ...], pad: int | str) -> int:
    """The random-shift padding of an (H, W, C) camera: ``pad`` pixels, or for ``"auto"`` DrQ's
    share of the side, ``max(1, round(max(H, W) * 4 / 84))`` (1 at 16, 2 at 32, 3 at 64, 4 at
    84, 6 at 128). A fixed 4 pixels moves a 16x16 view by a quarter of its side and crops what
    lies near the border out of it."""
    if pad != "auto":
        return int(pad)
    return max(1, round(max(shape[0], shape[1]) * DRQ_SHIFT_FRACTION))


def shift_images(batch: Batch, pads: dict[str | None, int]) -> Batch:
    """``random_shift`` on the image keys of a batch's obs and next obs (independent offsets);
    ``pads`` maps each image key (None: an image-only Box observation) to its padding."""
    if not any(pads.values()):
        return batch

    def shifted(obs):
        if not isinstance(obs, dict):  # an image-only Box observation
            return random_shift(obs, pads[None])
        return {k: random_shift(v, pads[k]) if pads.get(k) else v for k, v in obs.items()}

    return batch._replace(obs=shifted(batch.obs), next_obs=shifted(batch.next_obs))
