r"""Accuracy under artificial noise, for any model: the robustness test of KDSNN (Xu et al., CVPR 2023).

Noises act on a batch of images ``[N, C, H, W]`` with values in ``[0, 1]`` (results clipped back to that range,
unless ``clip=None``, e.g. for normalised inputs):

* ``gaussian`` — additive white noise, :math:`\tilde x = x + \sigma\,\epsilon`, :math:`\epsilon\sim\mathcal N(0,1)`;
  level :math:`= \sigma`.
* ``salt-pepper`` — each pixel (all channels together) is replaced with probability :math:`p` by 0 or 1 (equally
  likely); level :math:`= p`.
* ``blur`` — Gaussian blur with standard deviation :math:`\sigma` pixels, kernel radius :math:`\lceil 3\sigma\rceil`,
  borders replicated; level :math:`= \sigma`.

Level 0 leaves the images unchanged. Noise is drawn from a generator seeded per (noise, level, batch), so every
model is tested on exactly the same noisy images.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from .reproducibility import derived_seed
from .train import collate_fn_for

__all__ = ["NOISES", "DEFAULT_LEVELS", "add_noise", "gaussian_noise", "salt_pepper_noise", "gaussian_blur",
           "noise_robustness"]


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"noise takes a batch of images [N, C, H, W], got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    r""":math:`x + \sigma\epsilon` with :math:`\epsilon\sim\mathcal N(0, 1)` per element (not clipped)."""
    return x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def salt_pepper_noise(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each pixel (all channels at once) set to 0 or 1 (equally likely) with probability ``p``."""
    n, _, h, w = x.shape
    u = torch.rand((n, 1, h, w), generator=generator, dtype=x.dtype).to(x.device)
    salt = torch.rand((n, 1, h, w), generator=generator, dtype=x.dtype).to(x.device) < 0.5
    hit = u < p
    return torch.where(hit, salt.to(x.dtype).expand_as(x), x)


def gaussian_blur(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Separable Gaussian blur, :math:`k(d) \propto e^{-d^2 / 2\sigma^2}` for :math:`|d| \le \lceil 3\sigma\rceil`,
    per channel, replicate padding (``generator`` is unused: the blur is deterministic)."""
    if sigma == 0:
        return x
    radius = math.ceil(3 * sigma)
    d = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-d ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


NOISES: dict[str, Callable] = {"gaussian": gaussian_noise, "salt-pepper": salt_pepper_noise, "blur": gaussian_blur}
"""Noise name → ``fn(x, level, generator)``."""

DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {"gaussian": (0.1, 0.2, 0.3), "salt-pepper": (0.05, 0.1, 0.2),
                                                "blur": (0.5, 1.0, 1.5)}
"""Levels tested by default: Gaussian σ, salt-and-pepper probability, blur σ (pixels)."""


def add_noise(x: torch.Tensor, noise: str, level: float, generator: torch.Generator | None = None,
              clip: "tuple[float, float] | None" = (0.0, 1.0)) -> torch.Tensor:
    """Apply noise ``noise`` (a key of :data:`NOISES`) at ``level`` to images ``[N, C, H, W]``, then clip."""
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; choose one of {sorted(NOISES)}")
    if not level >= 0 or (noise == "salt-pepper" and level > 1):
        raise ValueError(f"noise level must be >= 0 (and <= 1 for salt-pepper), got {level} for {noise!r}")
    _check_images(x)
    out = NOISES[noise](x, level, generator)
    return out if clip is None else out.clamp(*clip)


@torch.no_grad()
def noise_robustness(predict: Callable[[torch.Tensor], torch.Tensor], dataset: Dataset,
                     levels: "Mapping[str, Sequence[float]] | None" = None, *, batch_size: int = 256,
                     seed: int = 0, device: "torch.device | str" = "cpu",
                     clip: "tuple[float, float] | None" = (0.0, 1.0)) -> dict[str, dict[float, float]]:
    """Top-1 accuracy (%) of ``predict`` on ``dataset`` under each noise at each level.

    Args:
        predict: images ``[N, C, H, W]`` → class scores ``[N, classes]``: an ANN, or a method's ``predict``
            (which encodes the images for an SNN).
        dataset: yields ``(image [C, H, W], label)``; images in ``[0, 1]`` unless ``clip`` says otherwise.
        levels: noise → levels (default :data:`DEFAULT_LEVELS`); a level 0 gives the clean accuracy.
        batch_size, device: how the test set is run.
        seed: seeds the noise; the same seed gives every model the same noisy images.
        clip: range the noisy images are clipped to, or ``None``.

    Returns:
        ``{noise: {level: accuracy}}``.
    """
    levels = DEFAULT_LEVELS if levels is None else levels
    unknown = set(levels) - set(NOISES)
    if unknown:
        raise ValueError(f"unknown noise(s) {sorted(unknown)}; choose from {sorted(NOISES)}")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_fn_for(dataset))
    results: dict[str, dict[float, float]] = {}
    for n_index, (noise, noise_levels) in enumerate(levels.items()):
        results[noise] = {}
        for l_index, level in enumerate(noise_levels):
            correct = total = 0
            for b_index, (x, y) in enumerate(loader):
                generator = torch.Generator().manual_seed(derived_seed(seed, n_index * 1000 + l_index, b_index))
                noisy = add_noise(x.to(device), noise, float(level), generator, clip)
                correct += int((predict(noisy).argmax(-1).cpu() == y).sum())
                total += len(y)
            results[noise][float(level)] = 100.0 * correct / max(total, 1)
    return results
