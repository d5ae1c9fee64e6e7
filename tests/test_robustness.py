"""Noise robustness helper: each noise against an independent computation or its defining statistics, level 0,
determinism, the accuracy table of a known predictor, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlab.robustness import DEFAULT_LEVELS, NOISES, add_noise, gaussian_blur, noise_robustness


def _quadrant_classifier(x: torch.Tensor) -> torch.Tensor:
    """The tiny_images rule: the class is the brightest quadrant (0: top left, 1: top right, 2, 3: bottom)."""
    quadrants = [x[:, 0, :4, :4], x[:, 0, :4, 4:], x[:, 0, 4:, :4], x[:, 0, 4:, 4:]]
    return torch.stack([q.sum((1, 2)) for q in quadrants], 1)


def test_gaussian_noise_has_the_stated_statistics_and_is_clipped():
    x = torch.full((64, 3, 32, 32), 0.5)
    g = torch.Generator().manual_seed(0)
    noisy = add_noise(x, "gaussian", 0.1, g, clip=None)
    delta = (noisy - x).numpy()
    assert abs(delta.mean()) < 2e-3 and delta.std() == pytest.approx(0.1, rel=0.01)
    clipped = add_noise(x, "gaussian", 2.0, torch.Generator().manual_seed(0))
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_salt_and_pepper_replaces_the_stated_fraction_of_pixels_with_0_or_1():
    x = torch.full((32, 3, 16, 16), 0.5)
    noisy = add_noise(x, "salt-pepper", 0.2, torch.Generator().manual_seed(1))
    changed = (noisy != 0.5)
    assert torch.equal(changed, changed[:, :1].expand_as(changed))      # all channels of a pixel together
    assert changed[:, 0].float().mean().item() == pytest.approx(0.2, abs=0.01)
    values = noisy[changed]
    assert set(values.unique().tolist()) == {0.0, 1.0}
    assert (values == 1.0).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_blur_matches_an_explicit_convolution_with_replicated_borders():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 2, 7, 9, generator=g, dtype=torch.float64)
    sigma = 0.8
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    a = x.numpy()
    ref = np.zeros_like(a)
    H, W = a.shape[2:]
    for n, c, i, j in np.ndindex(*a.shape):
        for di in range(-radius, radius + 1):
            for dj in range(-radius, radius + 1):
                ii, jj = min(max(i + di, 0), H - 1), min(max(j + dj, 0), W - 1)
                ref[n, c, i, j] += k[di + radius] * k[dj + radius] * a[n, c, ii, jj]
    assert np.allclose(gaussian_blur(x, sigma).numpy(), ref, atol=1e-12)
    flat = torch.full((1, 1, 5, 5), 0.3)
    assert torch.allclose(add_noise(flat, "blur", 1.5), flat)


@pytest.mark.parametrize("noise", sorted(NOISES))
def test_level_zero_leaves_images_unchanged(noise):
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(add_noise(x, noise, 0.0, torch.Generator().manual_seed(0)), x)


def test_robustness_table_is_deterministic_and_degrades_with_noise(tiny_images):
    _, test = tiny_images
    levels = {"gaussian": (0.0, 1.0), "salt-pepper": (1.0,), "blur": (0.0, 3.0)}
    table = noise_robustness(_quadrant_classifier, test, levels, batch_size=10, seed=5)
    assert table == noise_robustness(_quadrant_classifier, test, levels, batch_size=10, seed=5)
    assert table["gaussian"][0.0] == table["blur"][0.0] == 100.0            # the rule is exact on clean images
    assert table["salt-pepper"][1.0] < 60.0                                  # every pixel replaced: near chance
    assert table["gaussian"][1.0] < 100.0
    assert table["blur"][3.0] == 100.0               # blurring keeps the brightest quadrant the brightest
    assert set(noise_robustness(_quadrant_classifier, test, batch_size=16)) == set(DEFAULT_LEVELS)


def test_bad_inputs_fail_clearly(tiny_images):
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="unknown noise"):
        add_noise(x, "speckle", 0.1)
    with pytest.raises(ValueError, match="level"):
        add_noise(x, "salt-pepper", 1.5)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        add_noise(x[0], "gaussian", 0.1)
    with pytest.raises(ValueError, match="unknown noise"):
        noise_robustness(_quadrant_classifier, tiny_images[1], {"jpeg": (10,)})
