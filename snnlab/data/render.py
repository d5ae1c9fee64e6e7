"""Rendering moving sprites into intensity videos (the scenes the DVS simulator looks at)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["render_sprites"]


def render_sprites(sprites: np.ndarray, centers: np.ndarray, canvas: tuple[int, int], scales: np.ndarray | None = None,
                   background: float | np.ndarray = 0.0, alphas: np.ndarray | None = None) -> np.ndarray:
    """Videos of sprites moving over a canvas, with bilinear (sub-pixel) sampling.

    Args:
        sprites: ``[S, h, w]`` intensity patches in ``[0, 1]``; outside the patch the sprite is transparent.
        centers: ``[S, K, 2]`` sprite centre ``(x, y)`` per frame, in canvas pixels (``(0, 0)`` = top-left pixel).
        canvas: ``(H, W)``.
        scales: ``[S, K]`` magnification per frame (1 = native size), or ``None``.
        background: a scalar or an ``[S, H, W]`` background intensity, shown where the sprite is transparent.
        alphas: ``[S, h, w]`` sprite opacity in ``[0, 1]`` (soft shapes), or ``None`` for opaque patches.

    Returns:
        ``[S, K, H, W]`` float32 videos, composited "over" the background: ``sprite_sample + (1 - alpha) * background``
        with ``alpha`` the sprite's bilinear footprint (1 inside, fractional on its border).
    """
    sprites = torch.as_tensor(np.asarray(sprites), dtype=torch.float32)
    centers = torch.as_tensor(np.asarray(centers), dtype=torch.float32)
    n, k = centers.shape[:2]
    height, width = canvas
    h, w = sprites.shape[-2:]
    scale = torch.ones(n, k) if scales is None else torch.as_tensor(np.asarray(scales), dtype=torch.float32)
    # Canvas pixel (u, v) samples sprite coordinate ((u - cx) / s, (v - cy) / s) around the sprite centre,
    # expressed in grid_sample's normalised [-1, 1] sprite coordinates (align_corners=False).
    u = torch.arange(width, dtype=torch.float32)
    v = torch.arange(height, dtype=torch.float32)
    gx = ((u.view(1, 1, 1, -1) - centers[..., 0, None, None]) / scale[..., None, None]) / (w / 2)
    gy = ((v.view(1, 1, -1, 1) - centers[..., 1, None, None]) / scale[..., None, None]) / (h / 2)
    grid = torch.stack(torch.broadcast_tensors(gx, gy), dim=-1).view(n * k, height, width, 2)
    alpha = torch.ones_like(sprites) if alphas is None else torch.as_tensor(np.asarray(alphas), dtype=torch.float32)
    source = torch.stack([sprites * alpha, alpha], dim=1)  # premultiplied intensity, alpha
    source = source.repeat_interleave(k, dim=0)
    sampled = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    sampled = sampled.view(n, k, 2, height, width)
    back = torch.as_tensor(np.asarray(background, dtype=np.float32))
    if back.ndim == 3:  # [S, H, W] -> broadcast over frames
        back = back[:, None]
    return (sampled[:, :, 0] + (1 - sampled[:, :, 1]) * back).numpy()
