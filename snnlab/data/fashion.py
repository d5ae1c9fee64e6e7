"""Fashion-MNIST (Xiao, Rasul & Vollgraf, *Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
Algorithms*, arXiv:1708.07747, 2017; MIT licence): 28x28 grey-level images of ten kinds of Zalando articles.

Two data sets:

* ``fashion`` — a class-balanced subset shipped inside the package as package data
  (``snnlab/data/fashion_subset/fashion-mnist-subset.npz.xz``, 18,000 training and 6,000 test images, original uint8
  pixels; ``provenance.json`` beside it records its source, the split and the SHA-256 digests), so it loads after a
  plain ``pip install`` as well as in a clone. It loads offline in about a second; it is the book's main real image
  set: a one-image change of test accuracy is worth 1/60 of a point.
* ``fashion-mnist`` — the full official release (60,000 + 10,000 images) read from its four IDX gzip files, which
  are downloaded or placed by hand and verified against the MD5 digests the data set's README publishes.

Samples are ``([1, size, size] float32 in [0, 1], int64 label)``; static images have no time axis (an encoder from
:mod:`snnlab.encoding` makes ``[T, N, 1, H, W]`` inputs).
"""
from __future__ import annotations

import functools
import io
import json
import lzma
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .cache import content_checksum, data_root, file_digest
from .digits import stratified_subset
from .download import DownloadError, Resource, fetch, missing_files_error, verify
from .registry import DatasetInfo, register_dataset
from .static_sets import StaticImages, read_idx

__all__ = ["CLASSES", "FASHION_MNIST_FILES", "SHIPPED_FOLDER", "load_shipped_subset", "shipped_subset_checksum",
           "fashion", "fashion_mnist"]

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
"""Class names in label order (the data set's README)."""

SHIPPED_FOLDER = Path(__file__).resolve().parent / "fashion_subset"
"""Where the shipped subset and its ``provenance.json`` live: package data of :mod:`snnlab.data`, in a clone and in
an installed package alike."""

_HOMEPAGE = "https://github.com/zalandoresearch/fashion-mnist"
_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MD5 = {  # the MD5 digests listed in the data set's README
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_MNIST_FILES = {name: Resource(name, (_MIRROR + name,), md5=digest) for name, digest in _MD5.items()}
"""The four official files with their download URL and MD5."""


def _shipped_folder(root: str | os.PathLike | None) -> Path:
    """``root``, else ``data_root()/fashion`` when it holds a subset (a replacement), else the shipped one."""
    if root is not None:
        return Path(root)
    candidate = data_root() / "fashion"
    return candidate if (candidate / "provenance.json").is_file() else SHIPPED_FOLDER


@functools.lru_cache(maxsize=2)
def _decoded(folder: Path) -> dict[str, np.ndarray]:
    provenance_path = folder / "provenance.json"
    if not provenance_path.is_file():
        raise FileNotFoundError(
            f"fashion: no Fashion-MNIST subset under {folder} (no provenance.json). snnlab ships it as package data "
            f"({SHIPPED_FOLDER}); if that folder is missing the installation is incomplete: reinstall snnlab-kd. "
            "Or pass root=<folder holding provenance.json and the .npz.xz file>. The full data set is "
            "`fashion-mnist`.")
    provenance = json.loads(provenance_path.read_text())
    path = folder / provenance["file"]
    if not path.is_file():
        raise FileNotFoundError(f"fashion: {path} is missing (provenance.json names it); reinstall snnlab-kd, or "
                                "in a clone restore it with git checkout -- snnlab/data/fashion_subset")
    digest = file_digest(path)
    if digest != provenance["file_sha256"]:
        raise ValueError(f"fashion: {path} has SHA-256 {digest}, provenance.json records {provenance['file_sha256']}: "
                         "the file is damaged (or a Git LFS pointer); reinstall snnlab-kd, or in a clone restore it with "
                         "git checkout -- snnlab/data/fashion_subset")
    with np.load(io.BytesIO(lzma.decompress(path.read_bytes())), allow_pickle=False) as handle:
        return {key: handle[key] for key in handle.files}


def load_shipped_subset(root: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The shipped subset's arrays (``train_images``/``test_images`` uint8 ``[N, 28, 28]``, ``train_labels``/
    ``test_labels`` uint8 ``[N]``, ``train_source``/``test_source`` = (class file, entry) in the source package),
    after checking the file's SHA-256 against ``provenance.json``. Decoded once per process."""
    return _decoded(_shipped_folder(root).resolve())


def _images_dataset(images: np.ndarray, labels: np.ndarray, size: int, info: DatasetInfo) -> TensorDataset:
    """uint8 ``[N, 28, 28]`` images as ``[N, 1, size, size]`` floats in [0, 1] (bilinear with antialiasing)."""
    x = torch.from_numpy(images).unsqueeze(1).float() / 255.0
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    dataset = TensorDataset(x.contiguous(), torch.from_numpy(labels.astype(np.int64)))
    dataset.info = info
    return dataset


@register_dataset("fashion")
def fashion(split: str, size: int = 28, train_limit: int | None = None, seed: int = 0,
            root: str | os.PathLike | None = None) -> TensorDataset:
    """The shipped Fashion-MNIST subset: 18,000 training and 6,000 test images (1,800 and 600 per class), a fixed
    seeded split of the official 70,000 images with exact duplicates removed (see ``snnlab/data/fashion_subset/provenance.json``).

    ``size``: side in pixels (28 is the original; other sizes are resampled bilinearly with antialiasing, e.g. 16
    for the small book models). ``train_limit``: a class-balanced subset of the training split drawn with ``seed``
    (the test split is always the full 6,000). ``root``: a folder holding the subset (default: ``data_root()/fashion`` when it holds one,
    else the subset shipped in the package). Samples are ``[1, size, size]`` floats in [0, 1]; labels 0-9 (:data:`CLASSES`).
    """
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    arrays = load_shipped_subset(root)
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if split == "train" and train_limit is not None:
        if train_limit < 10:
            raise ValueError(f"train_limit must be >= 10 (one image per class), got {train_limit}")
        index = stratified_subset(labels, train_limit, seed)
        images, labels = images[index], labels[index]
    info = DatasetInfo(
        name="fashion", classes=CLASSES, sample_shape=(1, size, size),
        description="Fashion-MNIST (Xiao et al. 2017), real 28x28 grey-level images: a shipped class-balanced subset",
        extra={"size": size, "train_limit": train_limit, "seed": seed, "source": "snnlab/data/fashion_subset/provenance.json"})
    return _images_dataset(images, labels, size, info)


def shipped_subset_checksum(root: str | os.PathLike | None = None) -> tuple[str, str]:
    """``(content checksum of the loaded arrays, the one provenance.json records)``: equal for an intact subset."""
    folder = _shipped_folder(root)
    recorded = json.loads((folder / "provenance.json").read_text())["content_sha256"]
    return content_checksum(load_shipped_subset(root)), recorded


def _official_files(root: Path, split: str, download: bool) -> tuple[Path, Path]:
    """The split's two verified IDX gzip files under ``root``, downloaded first when missing and allowed."""
    prefix = "train" if split == "train" else "t10k"
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    layout = f"  {root}/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte.gz  (the four IDX gzip files)"
    source = f"{_HOMEPAGE} (files at {_MIRROR})"
    missing = [n for n in names if not (root / n).is_file()]
    if missing and not download:
        raise missing_files_error("Fashion-MNIST", root, missing, layout, source)
    for name in names:
        path = root / name
        if path.is_file():
            problem = verify(path, FASHION_MNIST_FILES[name])
            if problem is not None:
                raise ValueError(f"Fashion-MNIST: {path} is not the official file ({problem}); delete it and place "
                                 f"the file from {source} again" + (" or let snnlab download it" if download else ""))
        else:
            try:
                fetch(FASHION_MNIST_FILES[name], root)
            except DownloadError as err:
                raise missing_files_error("Fashion-MNIST", root, missing, layout, source, reason=str(err)) from err
    return root / names[0], root / names[1]


@register_dataset("fashion-mnist")
def fashion_mnist(split: str, root: str | os.PathLike | None = None, download: bool = True,
                  normalize: bool = False) -> StaticImages:
    """The official Fashion-MNIST: 60,000 training and 10,000 test 28x28 grey-level images in 10 classes.

    Reads ``root/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` (``root`` defaults to
    ``data_root()/fashion-mnist``); each file is checked against the MD5 of the data set's README before use, so a
    truncated or foreign file is refused with its name. ``download``: fetch missing files from the official mirror.
    ``normalize``: standardise with the training set's mean 0.2860 and std 0.3530. Samples are ``[1, 28, 28]``
    floats; labels 0-9 (:data:`CLASSES`).
    """
    root = Path(root) if root is not None else data_root() / "fashion-mnist"
    image_file, label_file = _official_files(root, split, download)
    images, labels = read_idx(image_file), read_idx(label_file).astype(np.int64)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
        raise ValueError(f"Fashion-MNIST files under {root} do not match: images {images.dtype} {images.shape}, "
                         f"{len(labels)} labels")
    mean, std = (0.2860,), (0.3530,)
    info = DatasetInfo(name="fashion-mnist", classes=CLASSES, sample_shape=(1, *images.shape[1:]),
                       description="Fashion-MNIST (Xiao et al. 2017), real 28x28 grey-level images, official files",
                       extra={"root": str(root), "normalize": normalize, "mean": mean, "std": std})
    return StaticImages(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels), info,
                        mean=mean if normalize else None, std=std if normalize else None)
