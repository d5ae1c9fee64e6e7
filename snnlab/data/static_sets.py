"""Real static image sets — ``cifar10``, ``cifar100``, ``mnist`` — read from their official files by snnlab itself.

torchvision cannot be imported next to a CPU-only torch build, so these readers parse the standard distributions
directly: the CIFAR "python version" pickled batches (Krizhevsky, *Learning Multiple Layers of Features from Tiny
Images*, 2009; https://www.cs.toronto.edu/~kriz/cifar.html) and the MNIST IDX files (LeCun, Bottou, Bengio and
Haffner, *Gradient-based learning applied to document recognition*, Proc. IEEE 1998). Missing files are downloaded
from the official URLs (or well-known mirrors) and verified against published SHA-256 digests (see
:data:`CIFAR10_ARCHIVE`, :data:`CIFAR100_ARCHIVE`, :data:`MNIST_FILES`) when ``download=True``; otherwise, or when
offline, a :class:`FileNotFoundError` names the expected layout and where to get the files.

Samples are ``([C, H, W] float32 image, int64 label)``: values in [0, 1], or standardised per channel with the
training set's pixel mean and std when ``normalize=True``. Static images have no time axis; an encoder from
:mod:`snnlab.encoding` turns them into ``[T, N, C, H, W]`` inputs.
"""
from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .cache import data_root
from .download import DownloadError, Resource, extract_tar, fetch, missing_files_error
from .registry import DatasetInfo, register_dataset

__all__ = ["StaticImages", "random_crop_flip", "read_cifar_pickle", "read_cifar_batch", "read_idx", "cifar10", "cifar100", "mnist",
           "CIFAR10_ARCHIVE", "CIFAR100_ARCHIVE", "MNIST_FILES"]

# SHA-256 digests of the official files, each confirmed in two independent public sources (Keras' dataset loaders
# and torchvision's prototype datasets for CIFAR; TensorFlow Datasets' url_checksums/mnist.txt and torchvision's
# prototype datasets for MNIST). The MD5s on the official pages (CIFAR-10 c58f30108f718f92721af3b95e74349a,
# CIFAR-100 eb9058c3a382ffc7106e4002c42a8d85) identify the same archives.
CIFAR10_ARCHIVE = Resource(
    "cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
CIFAR100_ARCHIVE = Resource(
    "cifar-100-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
    "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7")
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                  "https://storage.googleapis.com/cvdf-datasets/mnist/")
_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_FILES = {name: Resource(f"{name}.gz", tuple(m + f"{name}.gz" for m in _MNIST_MIRRORS), digest)
               for name, digest in _MNIST_SHA256.items()}


def random_crop_flip(image: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """The standard CIFAR augmentation on one ``[C, H, W]`` image: zero-pad by ``padding``, crop a random ``H x W``
    window, and flip horizontally with probability 1/2 (torch's global RNG, so DataLoader workers are seeded)."""
    _, h, w = image.shape
    padded = F.pad(image, (padding, padding, padding, padding))
    top, left = torch.randint(0, 2 * padding + 1, (2,)).tolist()
    crop = padded[:, top:top + h, left:left + w]
    return crop.flip(-1) if torch.rand(()) < 0.5 else crop


class StaticImages(Dataset):
    """``uint8`` images ``[N, C, H, W]`` and labels served as ``([C, H, W] float32, label)``.

    Pixels are scaled to [0, 1]; then, if ``augment``, :func:`random_crop_flip` is applied; then, if ``mean``/``std``
    are given, each channel is standardised, :math:`x_c \\leftarrow (x_c - \\mu_c) / \\sigma_c`.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, info: DatasetInfo, augment: bool = False,
                 mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.info, self.augment = images, labels, info, augment
        self._mean = None if mean is None else torch.tensor(mean).view(-1, 1, 1)
        self._std = None if std is None else torch.tensor(std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        x = self.images[index].float() / 255.0
        if self.augment:
            x = random_crop_flip(x)
        if self._mean is not None:
            x = (x - self._mean) / self._std
        return x, self.labels[index]


# --------------------------------------------------------------------------------------------------- CIFAR
class _CifarUnpickler(pickle.Unpickler):
    """Unpickles what the CIFAR python batches hold — dicts, lists, bytes, numbers and numpy arrays — and refuses
    every other global, so a file cannot run code when it is read."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: not part of the CIFAR format")
        return super().find_class(module, name)


def read_cifar_pickle(path: str | os.PathLike) -> dict:
    """A CIFAR python-version file (a batch or the meta file) as a dict, read with a restricted unpickler.

    Raises ``ValueError`` naming the file when it is not such a file (garbage, empty, truncated, or a pickle that
    asks for anything beyond arrays, lists, dicts and bytes)."""
    try:
        with open(path, "rb") as handle:
            content = _CifarUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{path} is not a CIFAR python-version file ({type(err).__name__}: {err}); delete it and "
                         "extract the official archive again") from err
    if not isinstance(content, dict):
        raise ValueError(f"{path} is not a CIFAR python-version file (it holds a {type(content).__name__}, "
                         "not a dict); delete it and extract the official archive again")
    return content


def read_cifar_batch(path: str | os.PathLike, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python batch: a pickled dict with ``b'data'`` (``uint8 [N, 3072]``, rows are R, G, B planes of
    32x32) and integer labels under ``label_key`` (``b'labels'``; ``b'fine_labels'`` for CIFAR-100).
    Returns ``uint8 [N, 3, 32, 32]`` images and ``int64 [N]`` labels; a malformed file is refused with its name."""
    batch = read_cifar_pickle(path)
    if b"data" not in batch or label_key not in batch:
        raise ValueError(f"{path} lacks {b'data'!r} or {label_key!r}: not a CIFAR batch of this data set")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise ValueError(f"{path}: expected uint8 data [N, 3072] and N labels, got {data.dtype} {data.shape} and "
                         f"{labels.shape} labels")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


@dataclass(frozen=True)
class _CifarLayout:
    name: str
    title: str
    archive_attr: str           # the module attribute holding the Resource (looked up at call time)
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str
    label_key: bytes
    names_key: bytes
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def files(self) -> tuple[str, ...]:
        return (*self.train, *self.test, self.meta)


_CIFAR10 = _CifarLayout("cifar10", "CIFAR-10", "CIFAR10_ARCHIVE", "cifar-10-batches-py",
                        tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "batches.meta",
                        b"labels", b"label_names", (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
_CIFAR100 = _CifarLayout("cifar100", "CIFAR-100", "CIFAR100_ARCHIVE", "cifar-100-python", ("train",), ("test",),
                         "meta", b"fine_labels", b"fine_label_names", (0.5071, 0.4865, 0.4409),
                         (0.2673, 0.2564, 0.2762))


def _cifar_folder(layout: _CifarLayout, root: Path, download: bool) -> Path:
    """The extracted batch folder, downloading and extracting the verified archive first if needed."""
    folder = root / layout.folder
    missing = [f for f in layout.files() if not (folder / f).is_file()]
    if not missing:
        return folder
    archive: Resource = globals()[layout.archive_attr]
    args = (layout.title, folder, missing,
            f"  {root}/{layout.folder}/{{{', '.join(layout.files())}}}\n"
            f"  (or the archive {root}/{archive.filename}, SHA-256 {archive.sha256}, with download=True)",
            f"https://www.cs.toronto.edu/~kriz/cifar.html ({archive.urls[0]})")
    if folder.exists():
        raise missing_files_error(*args, reason=f"{folder} exists but is incomplete; delete it to re-extract")
    if not download:
        raise missing_files_error(*args)
    try:
        extract_tar(fetch(archive, root), layout.folder, folder)
    except DownloadError as err:
        raise missing_files_error(*args, reason=str(err)) from err
    return folder


def _cifar(layout: _CifarLayout, split: str, root, download: bool, normalize: bool, augment: bool | None):
    root = Path(root) if root is not None else data_root() / layout.name
    folder = _cifar_folder(layout, root, download)
    files = layout.train if split == "train" else layout.test
    parts = [read_cifar_batch(folder / f, layout.label_key) for f in files]
    images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    meta = read_cifar_pickle(folder / layout.meta)
    if layout.names_key not in meta:
        raise ValueError(f"{folder / layout.meta} lacks {layout.names_key!r}: not the {layout.title} meta file")
    classes = tuple(n.decode() for n in meta[layout.names_key])
    if labels.size and not 0 <= labels.min() <= labels.max() < len(classes):
        raise ValueError(f"{layout.title} labels out of range 0..{len(classes) - 1} in {folder}")
    augment = split == "train" if augment is None else augment
    info = DatasetInfo(
        name=layout.name, classes=classes, sample_shape=(3, 32, 32),
        description=f"{layout.title} (Krizhevsky 2009), real 32x32 colour images",
        extra={"root": str(root), "normalize": normalize, "augment": augment,
               "mean": layout.mean, "std": layout.std})
    return StaticImages(torch.from_numpy(images), torch.from_numpy(labels), info, augment,
                        layout.mean if normalize else None, layout.std if normalize else None)


@register_dataset("cifar10")
def cifar10(split: str, root: str | os.PathLike | None = None, download: bool = True, normalize: bool = False,
            augment: bool | None = None) -> StaticImages:
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes (Krizhevsky, 2009).

    Reads ``root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` (``root`` defaults to
    ``data_root()/cifar10``). ``download``: fetch and verify the official archive when the files are missing (an
    archive already placed in ``root`` is verified and extracted without network). ``normalize``: standardise
    channels with the training set's mean (0.4914, 0.4822, 0.4465) and std (0.2470, 0.2435, 0.2616).
    ``augment``: random crop (4-pixel zero padding) + horizontal flip, the augmentation of the CIFAR papers;
    ``None`` means on for ``train``, off for ``test``. Samples are ``[3, 32, 32]`` floats; labels 0-9.
    """
    return _cifar(_CIFAR10, split, root, download, normalize, augment)


@register_dataset("cifar100")
def cifar100(split: str, root: str | os.PathLike | None = None, download: bool = True, normalize: bool = False,
             augment: bool | None = None) -> StaticImages:
    """CIFAR-100: 50,000 training and 10,000 test 32x32 colour images in 100 fine classes (Krizhevsky, 2009).

    Reads ``root/cifar-100-python/{train, test, meta}`` (``root`` defaults to ``data_root()/cifar100``); labels are
    the fine labels, class names the ``fine_label_names`` of ``meta``. Options as :func:`cifar10`; normalisation
    uses mean (0.5071, 0.4865, 0.4409) and std (0.2673, 0.2564, 0.2762).
    """
    return _cifar(_CIFAR100, split, root, download, normalize, augment)


# --------------------------------------------------------------------------------------------------- MNIST
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (plain or ``.gz``): two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions,
    the dimensions as big-endian int32, then the data. MNIST images are ``0x00000803`` ``[N, 28, 28]`` uint8,
    labels ``0x00000801`` ``[N]`` uint8."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (magic bytes {raw[:4].hex()})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated: its header names {ndim} dimensions but the file has {len(raw)} bytes; "
                         "delete it and place (or download) it again")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    if any(d < 0 for d in shape):
        raise ValueError(f"{path} is damaged: its header gives the negative dimensions {shape}; delete it and place "
                         "(or download) it again")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = 4 + 4 * ndim + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: header says {shape} of {dtype} ({expected} bytes), file has {len(raw)} bytes")
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)


def _mnist_files(root: Path, names: list[str], download: bool) -> list[Path]:
    """``root/name`` or ``root/name.gz`` for each name, downloading the verified ``.gz`` of missing ones if allowed."""
    found = {n: next((p for p in (root / n, root / f"{n}.gz") if p.is_file()), None) for n in names}
    missing = [n for n, path in found.items() if path is None]
    if missing:
        args = ("MNIST", root, [f"{n}[.gz]" for n in missing],
                f"  {root}/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz]  (IDX files, gzipped or not)",
                f"http://yann.lecun.com/exdb/mnist/ (mirror: {_MNIST_MIRRORS[0]})")
        if not download:
            raise missing_files_error(*args)
        try:
            found.update({n: fetch(MNIST_FILES[n], root) for n in missing})
        except DownloadError as err:
            raise missing_files_error(*args, reason=str(err)) from err
    return [found[n] for n in names]


@register_dataset("mnist")
def mnist(split: str, root: str | os.PathLike | None = None, download: bool = True,
          normalize: bool = False) -> StaticImages:
    """MNIST: 60,000 training and 10,000 test 28x28 grey-level handwritten digits (LeCun et al., 1998).

    Reads ``root/{train,t10k}-images-idx3-ubyte`` and ``-labels-idx1-ubyte``, gzipped (``.gz``) or not (``root``
    defaults to ``data_root()/mnist``). ``download``: fetch the verified ``.gz`` files of the split when missing.
    ``normalize``: standardise with the training set's mean 0.1307 and std 0.3081. Samples are ``[1, 28, 28]``
    floats; labels 0-9.
    """
    root = Path(root) if root is not None else data_root() / "mnist"
    prefix = "train" if split == "train" else "t10k"
    image_file, label_file = _mnist_files(root, [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"],
                                          download)
    images, labels = read_idx(image_file), read_idx(label_file).astype(np.int64)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
        raise ValueError(f"MNIST files under {root} do not match: images {images.dtype} {images.shape}, "
                         f"{len(labels)} labels")
    mean, std = (0.1307,), (0.3081,)
    info = DatasetInfo(name="mnist", classes=tuple(str(d) for d in range(10)), sample_shape=(1, *images.shape[1:]),
                       description="MNIST handwritten digits (LeCun et al. 1998), real 28x28 grey-level images",
                       extra={"root": str(root), "normalize": normalize, "mean": mean, "std": std})
    return StaticImages(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels), info,
                        mean=mean if normalize else None, std=std if normalize else None)
