"""``digits``: scikit-learn's 8x8 handwritten digits (real data, shipped with scikit-learn), upsampled."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .registry import DatasetInfo, register_dataset

__all__ = ["digits", "load_digit_images", "stratified_split", "stratified_subset"]


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 UCI digits as ``[1797, 8, 8]`` float32 images in [0, 1] and int64 labels (scikit-learn's copy)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float32) / 16.0, bunch.target.astype(np.int64)


def stratified_split(labels: np.ndarray, split: str, test_fraction: float, seed: int,
                     train_limit: int | None = None) -> np.ndarray:
    """Sorted indices of ``split`` in a fixed stratified train/test split; ``train_limit`` keeps a stratified subset."""
    from sklearn.model_selection import train_test_split

    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=test_fraction, random_state=seed,
                                           stratify=labels)
    if split == "train" and train_limit is not None:
        return np.sort(idx_train[stratified_subset(labels[idx_train], train_limit, seed)])
    return np.sort(idx_train if split == "train" else idx_test)


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified subset of ``size`` items drawn with ``seed`` (all items if ``size`` is
    not smaller than ``len(labels)``)."""
    from sklearn.model_selection import train_test_split

    if size >= len(labels):
        return np.arange(len(labels))
    idx, _ = train_test_split(np.arange(len(labels)), train_size=size, random_state=seed, stratify=labels)
    return np.sort(idx)


@register_dataset("digits")
def digits(split: str, size: int = 16, test_fraction: float = 0.3, train_limit: int | None = None,
           noise: float = 0.0, seed: int = 0) -> TensorDataset:
    """The 1,797 UCI handwritten digits (8x8, 17 gray levels), bilinearly upsampled to ``size`` x ``size``.

    A fixed stratified split (``test_fraction``, ``seed``) makes train and test disjoint and reproducible.
    ``train_limit`` keeps a stratified subset of the training split (smaller sets leave headroom for methods to
    differ); ``noise`` adds fixed Gaussian pixel noise (std, on the [0, 1] scale, clipped), drawn from ``seed``.
    Samples are ``[1, size, size]`` float tensors in [0, 1]; labels 0-9.
    """
    if size < 8:
        raise ValueError(f"size must be >= 8 (the native resolution), got {size}")
    images, labels = load_digit_images()
    idx = stratified_split(labels, split, test_fraction, seed, train_limit)
    x = torch.from_numpy(images[idx]).unsqueeze(1)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if noise > 0:
        g = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
        x = (x + noise * torch.randn(x.shape, generator=g)).clamp(0.0, 1.0)
    dataset = TensorDataset(x.contiguous(), torch.from_numpy(labels[idx]))
    dataset.info = DatasetInfo(
        name="digits", classes=tuple(str(d) for d in range(10)), sample_shape=(1, size, size),
        description="UCI handwritten digits from scikit-learn (real data), upsampled",
        extra={"split_sizes_seed": seed, "noise": noise},
    )
    return dataset
