"""Real event-camera data sets through tonic: DVS-Gesture, CIFAR10-DVS, N-Caltech101, N-MNIST.

Each set is read with tonic's own dataset class (its on-disk layout, file readers and label rules) and served as
time-major frames ``[T, 2, H, W]`` float32 (channel 0 = OFF, 1 = ON; batches ``[T, N, 2, H, W]`` through
``time_major_collate``). Framing options, shared by all four sets:

* ``frames=T`` — a fixed number of frames per recording. ``split_by="time"`` (default) cuts the recording's own
  span ``[t_first, t_last]`` into ``T`` equal time bins; ``split_by="number"`` cuts it into ``T`` chunks of equal
  event count (the last chunk takes the remainder), SpikingJelly's ``split_by='number'`` used by TET's code.
* ``time_window_us=W`` with ``max_frames=T`` — fixed slices (e.g. 10 ms, 30 ms). Recordings differ in length, so
  the **first** ``T`` windows from the recording's first event are kept (events after ``T·W`` are dropped) and a
  shorter recording is padded with empty frames at the end.
* ``size`` — spatial downsampling (an int for square frames or ``(H, W)``) by tonic's ``Downsample``: event
  coordinates are scaled by ``size / sensor`` and floored, so a coarse pixel counts the events of the sensor pixels
  it covers (every event is kept; this is not the bilinear frame ``Resize`` some papers' code applies).

Frames are counts per pixel, polarity and frame. They are computed once per (set, split, framing, split rule),
with a progress bar, and stored under ``<root>/frames/`` as one memory-mapped ``.npy`` (int16 counts, as tonic's
``ToFrame`` produces) plus a JSON manifest (options, source file list digest, per-sample CRC-32). A cache whose
manifest is missing, unreadable or stale, or whose array is truncated, is rebuilt; a sample whose CRC fails when it
is read is recomputed from its events and repaired in place. Writes are atomic.

Splits: DVS-Gesture and N-MNIST have official train/test splits (tonic's ``train`` argument). CIFAR10-DVS and
N-Caltech101 have none: :func:`stratified_split` takes ``train_fraction`` (default 0.9, the papers' 9:1) of every
class for training, after a per-class permutation seeded by ``(seed, class)``; ``seed=None`` keeps file order
(the first 90% of each class, SpikingJelly's ``split_to_train_test_set(random_split=False)`` convention).

Files: ``root`` defaults to ``data_root()/<name>``; tonic's layout lives under ``root/<TonicClassName>/``.
With ``download=True`` a missing set is downloaded from tonic's URL (MD5-checked, atomically, with a socket
timeout) and extracted through a staging folder, so an interrupted attempt leaves nothing the next one trusts.
When the files are missing and cannot be obtained, a :class:`FileNotFoundError` names the expected path, the layout
and where to get the files. Presence is judged from the extracted files (as tonic does, by counting them) without
requiring the archive, so a copy extracted by hand works and is never re-downloaded.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tarfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import numpy.lib.recfunctions  # noqa: F401  (tonic's DVSGesture uses np.lib.recfunctions without importing it)
import torch
from torch.utils.data import Dataset

from ..io import atomic_path, atomic_write_json
from .cache import data_root
from .events import EVENT_DTYPE, FrameSpec, events_to_frames, time_major_collate
from .registry import DatasetInfo, register_dataset

__all__ = ["Framing", "TonicFrames", "frame_events", "stratified_split", "PRESETS", "preset_options", "LAYOUTS",
           "CACHE_VERSION"]

CACHE_VERSION = 1
"""Bump when the framing code's output changes for the same options (selects new cache entries)."""

NETWORK_TIMEOUT_S = 10.0
"""Socket timeout for the reachability check and for every read of a download."""

PRESETS: dict[str, dict[str, dict]] = {
    "cifar10-dvs": {
        # TET (Deng et al., ICLR 2022), code: SpikingJelly CIFAR10DVS(frames_number=10, split_by='number') + 48x48.
        "tet": dict(frames=10, split_by="number", size=48),
        # TSSD (seed): 10 ms slices -> 42x42; T_t = 2 T_s with T_s = 8 -> 16 frames kept (the student uses a prefix).
        "tssd": dict(time_window_us=10_000, max_frames=16, size=42),
    },
    "dvs-gesture": {
        # TSSD (seed): 30 ms slices -> 32x32, 16 frames kept.
        "tssd": dict(time_window_us=30_000, max_frames=16, size=32),
    },
    "n-caltech101": {},
    "n-mnist": {},
}
"""Papers' preprocessing, selectable as ``get_dataset(name, split, preset="tet")``; explicit options override."""

DEFAULT_FRAMES = 10
"""Frames per sample when neither ``frames`` nor ``time_window_us`` is given (and no preset sets one)."""


def preset_options(name: str, preset: str) -> dict:
    """The framing options of ``preset`` for data set ``name`` (a copy; see :data:`PRESETS`)."""
    presets = PRESETS.get(name, {})
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for {name!r}; available: {sorted(presets) or 'none'}")
    return dict(presets[preset])


# ----------------------------------------------------------------------------------------------------- framing
@dataclass(frozen=True)
class Framing:
    """How one recording becomes ``[T, 2, H, W]`` frames (see the module docstring)."""

    frames: int | None = None
    time_window_us: int | None = None
    max_frames: int | None = None
    size: tuple[int, int] | None = None     # (H, W)
    split_by: str = "time"

    def __post_init__(self):
        if (self.frames is None) == (self.time_window_us is None):
            raise ValueError("set exactly one of frames (a fixed number of frames per recording) or time_window_us "
                             "(fixed slices, with max_frames)")
        if self.frames is not None:
            if int(self.frames) < 1:
                raise ValueError(f"frames must be >= 1, got {self.frames}")
            if self.max_frames is not None:
                raise ValueError("max_frames goes with time_window_us; with frames=T every sample already has T frames")
        else:
            if int(self.time_window_us) < 1:
                raise ValueError(f"time_window_us must be >= 1, got {self.time_window_us}")
            if self.max_frames is None or int(self.max_frames) < 1:
                raise ValueError("time_window_us needs max_frames=T (>= 1): recordings differ in length, and the "
                                 "first T windows of each are kept (shorter ones are padded with empty frames)")
            if self.split_by != "time":
                raise ValueError("split_by='number' goes with frames=T, not with time_window_us")
        if self.split_by not in ("time", "number"):
            raise ValueError(f"split_by must be 'time' or 'number', got {self.split_by!r}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise ValueError(f"size must be a positive int or (H, W), got {self.size!r}")

    @property
    def num_frames(self) -> int:
        return int(self.frames if self.frames is not None else self.max_frames)

    def frame_shape(self, sensor_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(T, 2, H, W)`` for a sensor of ``sensor_size = (W, H)``."""
        h, w = self.size if self.size is not None else (sensor_size[1], sensor_size[0])
        return (self.num_frames, 2, int(h), int(w))

    def params(self) -> dict:
        return {"frames": self.frames, "time_window_us": self.time_window_us, "max_frames": self.max_frames,
                "size": list(self.size) if self.size is not None else None, "split_by": self.split_by}


def _size_tuple(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        return (int(size), int(size))
    return tuple(int(s) for s in size)


def frame_events(events: np.ndarray, sensor_size: tuple[int, int], framing: Framing) -> np.ndarray:
    """One recording's events (``EVENT_DTYPE``, ``t`` from 0) → ``[T, 2, H, W]`` float32 counts.

    ``sensor_size`` is ``(W, H)``; events outside it must already be removed.
    """
    shape = framing.frame_shape(sensor_size)
    if len(events) == 0:
        return np.zeros(shape, np.float32)
    if framing.split_by == "time":
        if framing.frames is not None:
            duration = int(events["t"].max()) + 1          # the recording's own span, last event included
            spec = FrameSpec(sensor_size=tuple(sensor_size), duration_us=duration, frames=framing.frames,
                             size=framing.size)
        else:
            duration = framing.time_window_us * framing.max_frames   # the first max_frames windows
            spec = FrameSpec(sensor_size=tuple(sensor_size), duration_us=duration,
                             time_window_us=framing.time_window_us, size=framing.size)
        return events_to_frames(events, spec)
    # split_by == "number": T chunks of N // T events, the last one taking the remainder (SpikingJelly's rule).
    import tonic.transforms as transforms

    t_frames, _, h, w = shape
    if framing.size is not None and (w, h) != tuple(sensor_size):
        events = transforms.Downsample(sensor_size=(*sensor_size, 2), target_size=(w, h))(events)
    n = len(events)
    bounds = [i * (n // t_frames) for i in range(t_frames)] + [n]
    frame_of_event = np.repeat(np.arange(t_frames), np.diff(bounds))
    flat = ((frame_of_event * 2 + events["p"].astype(np.int64)) * h + events["y"].astype(np.int64)) * w \
        + events["x"].astype(np.int64)
    counts = np.bincount(flat, minlength=t_frames * 2 * h * w)
    return counts.reshape(shape).astype(np.float32)


def _standardise(raw: np.ndarray, sensor_size: tuple[int, int]) -> tuple[np.ndarray, int]:
    """tonic's structured events (any field order/dtypes) → ``EVENT_DTYPE`` sorted by time, ``t`` from 0.

    Events outside the sensor are dropped; returns the events and how many were dropped.
    """
    events = np.empty(len(raw), dtype=EVENT_DTYPE)
    if len(raw) == 0:
        return events, 0
    x, y = np.asarray(raw["x"], np.int64), np.asarray(raw["y"], np.int64)
    inside = (x >= 0) & (y >= 0) & (x < sensor_size[0]) & (y < sensor_size[1])
    t = np.asarray(raw["t"], np.int64)
    events["x"], events["y"], events["t"] = x, y, t - t.min()
    events["p"] = np.asarray(raw["p"]).astype(np.int8) > 0
    events = events[inside]
    if len(events) > 1 and np.any(np.diff(events["t"]) < 0):
        events = events[np.argsort(events["t"], kind="stable")]
    return events, int((~inside).sum())


# ------------------------------------------------------------------------------------------------------ layouts
@dataclass(frozen=True)
class Layout:
    """Where tonic expects one data set's files, and where they come from."""

    name: str
    tonic_class: str
    sensor_size: tuple[int, int]                 # (W, H) frames are built on
    extension: str                               # extracted file type tonic reads
    folders: dict[str, str]                      # split -> folder under root/<tonic_class> ("" = anywhere)
    min_files: dict[str, int]                    # split -> file count that means "extracted" (tonic's thresholds)
    archives: dict[str, str]                     # split -> archive file name (tonic's)
    layout: str                                  # human description of the layout
    source: str                                  # where to obtain the files by hand
    official_split: bool = True
    inner_archives: tuple[str, ...] = ()        # archives inside the download that must be extracted too
    classes: tuple[str, ...] = ()
    description: str = ""


LAYOUTS: dict[str, Layout] = {
    "dvs-gesture": Layout(
        name="dvs-gesture", tonic_class="DVSGesture", sensor_size=(128, 128), extension=".npy",
        folders={"train": "ibmGestureTrain", "test": "ibmGestureTest"},
        min_files={"train": 100, "test": 100},
        archives={"train": "ibmGestureTrain.tar.gz", "test": "ibmGestureTest.tar.gz"},
        layout="DVSGesture/ibmGestureTrain/user01_fluorescent/0.npy ... 10.npy (and ibmGestureTest/...): tonic's "
               "preprocessed copy, one int array [N, 4] = (x, y, p, t in ms) per gesture, named by its label",
        source="tonic's preprocessed archives ibmGestureTrain.tar.gz / ibmGestureTest.tar.gz "
               "(https://figshare.com/ndownloader/files/38022171 and .../38020584), extracted in place",
        classes=("hand clapping", "right hand wave", "left hand wave", "right arm clockwise",
                 "right arm counter-clockwise", "left arm clockwise", "left arm counter-clockwise", "arm roll",
                 "air drums", "air guitar", "other gestures"),
        description="IBM DVS128 Gesture (Amir et al. 2017): 11 hand/arm gestures, 29 subjects, 3 lighting "
                    "conditions; DVS128 sensor; real data via tonic"),
    "cifar10-dvs": Layout(
        name="cifar10-dvs", tonic_class="CIFAR10DVS", sensor_size=(128, 128), extension=".aedat4",
        folders={"train": "", "test": ""}, min_files={"train": 1000, "test": 1000},
        archives={"train": "CIFAR10DVS.zip", "test": "CIFAR10DVS.zip"},
        layout="CIFAR10DVS/airplane/*.aedat4 ... CIFAR10DVS/truck/*.aedat4: tonic's AEDAT4 conversion, one "
               "folder per class (read with the `aedat` package: pip install aedat)",
        source="tonic's CIFAR10DVS.zip (https://figshare.com/ndownloader/files/38023437), extracted, then each "
               "inner <class>.zip extracted in place",
        official_split=False,
        inner_archives=("airplane.zip", "automobile.zip", "bird.zip", "cat.zip", "deer.zip", "dog.zip",
                        "frog.zip", "horse.zip", "ship.zip", "truck.zip"),
        classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        description="CIFAR10-DVS (Li et al. 2017): 10,000 CIFAR-10 images moved on a monitor in front of a "
                    "DVS128, 10 classes; no official split; real data via tonic"),
    "n-caltech101": Layout(
        name="n-caltech101", tonic_class="NCALTECH101", sensor_size=(240, 180), extension=".bin",
        folders={"train": "Caltech101", "test": "Caltech101"}, min_files={"train": 8709, "test": 8709},
        archives={"train": "N-Caltech101-archive.zip", "test": "N-Caltech101-archive.zip"},
        layout="NCALTECH101/Caltech101/<class>/image_0001.bin: 40-bit ATIS event records "
               "(x, y, polarity + 23-bit time), one folder per class (BACKGROUND_Google included)",
        source="N-Caltech101-archive.zip (https://data.mendeley.com/datasets/cy6cvx3ryv, also "
               "https://www.garrickorchard.com/datasets/n-caltech101), extracted, then the inner Caltech101.zip",
        official_split=False, inner_archives=("Caltech101.zip",),
        description="N-Caltech101 (Orchard et al. 2015): Caltech101 images recorded with an ATIS sensor in three "
                    "saccades; 100 object classes + background; frames on a 240x180 canvas (recordings vary in "
                    "size; coordinates start at 0); no official split; real data via tonic"),
    "n-mnist": Layout(
        name="n-mnist", tonic_class="NMNIST", sensor_size=(34, 34), extension=".bin",
        folders={"train": "Train", "test": "Test"}, min_files={"train": 10000, "test": 10000},
        archives={"train": "train.zip", "test": "test.zip"},
        layout="NMNIST/Train/<digit>/<id>.bin and NMNIST/Test/<digit>/<id>.bin: 40-bit ATIS event records "
               "(x, y, polarity + 23-bit time), one folder per digit",
        source="train.zip / test.zip of N-MNIST (https://data.mendeley.com/datasets/468j46mzdv, also "
               "https://www.garrickorchard.com/datasets/n-mnist), extracted in place",
        classes=tuple(str(d) for d in range(10)),
        description="N-MNIST (Orchard et al. 2015): MNIST digits recorded with an ATIS sensor in three saccades, "
                    "34x34; official 60k/10k split; real data via tonic"),
}
"""The on-disk layout, presence rule and source of each set. ``min_files`` mirrors tonic's own thresholds."""


def _tonic_class(layout: Layout):
    import tonic.datasets as tds

    return getattr(tds, layout.tonic_class)


def _split_attr(cls, split: str, attr: str):
    """tonic's per-split class attribute (``train_url``/``test_url``...) or the shared one (``url``...)."""
    return getattr(cls, f"{split}_{attr}", None) or getattr(cls, attr)


def _location(root: Path, layout: Layout) -> Path:
    return root / layout.tonic_class


def _count_files(folder: Path, extension: str) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for _ in folder.rglob(f"*{extension}"))


def _present(root: Path, layout: Layout, split: str) -> bool:
    folder = _location(root, layout) / layout.folders[split]
    return _count_files(folder, layout.extension) >= layout.min_files[split]


def _missing_message(root: Path, layout: Layout, split: str, reason: str) -> str:
    folder = _location(root, layout) / layout.folders[split]
    found = _count_files(folder, layout.extension)
    return (f"{layout.name} ({split}) files not found: expected at least {layout.min_files[split]} "
            f"'*{layout.extension}' files under {folder} (found {found}); {reason}. "
            f"Expected layout under {root}: {layout.layout}. Get them from: {layout.source} "
            f"(or pass root=... pointing at the folder that contains {layout.tonic_class}/).")


# ---------------------------------------------------------------------------------------------------- download
def _reachable(url: str, timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """Whether ``url``'s host accepts a TCP connection within ``timeout`` seconds (fails fast when offline)."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _download(url: str, path: Path, md5: str | None) -> None:
    """Stream ``url`` to ``path`` atomically (temporary file, MD5 check, rename); nothing is left on failure."""
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "snnlab"})
    digest = hashlib.md5()
    with atomic_path(path) as tmp:
        with urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT_S) as response, open(tmp, "wb") as out, \
                tqdm(total=response.length, unit="B", unit_scale=True, desc=f"download {path.name}") as bar:
            while block := response.read(1 << 20):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
        if md5 is not None and digest.hexdigest() != md5:
            raise RuntimeError(f"download of {url} is corrupted: MD5 {digest.hexdigest()} != expected {md5}")


def _extract(archive: Path, destination: Path) -> None:
    """Extract ``archive`` into ``destination`` through a staging folder; entries appear only when complete."""
    from tonic.download_utils import extract_archive

    staging = destination / f".staging-{archive.name}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        extract_archive(str(archive), str(staging))
        for entry in sorted(staging.iterdir()):
            target = destination / entry.name
            if target.is_dir() and entry.is_dir():
                # merge (a folder left by an earlier, interrupted run is replaced entry by entry)
                for sub in sorted(entry.iterdir()):
                    if (target / sub.name).is_dir():
                        shutil.rmtree(target / sub.name)
                    os.replace(sub, target / sub.name)
            else:
                if target.is_dir():
                    shutil.rmtree(target)
                os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ensure_files(root: Path, layout: Layout, split: str, download: bool) -> None:
    """Make sure the extracted files are present: check, else download and extract, else FileNotFoundError."""
    if _present(root, layout, split):
        return
    location = _location(root, layout)
    if not download:
        raise FileNotFoundError(_missing_message(root, layout, split, "download=False"))
    cls = _tonic_class(layout)
    url, filename = _split_attr(cls, split, "url"), _split_attr(cls, split, "filename")
    md5 = getattr(cls, f"{split}_md5", None) or getattr(cls, "file_md5", None)
    archive = location / filename
    if not archive.is_file():
        if not _reachable(url):
            raise FileNotFoundError(_missing_message(
                root, layout, split, f"the download host of {url} is unreachable (offline?)"))
        try:
            _download(url, archive, md5)
        except (OSError, urllib.error.URLError, RuntimeError) as err:
            raise FileNotFoundError(_missing_message(root, layout, split, f"downloading {url} failed ({err})")) \
                from err
    try:
        _extract(archive, location)
        for inner in layout.inner_archives:
            for candidate in sorted(location.rglob(inner)):
                if ".staging-" not in str(candidate):
                    _extract(candidate, candidate.parent)
    except (OSError, EOFError, RuntimeError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise FileNotFoundError(_missing_message(
            root, layout, split, f"extracting {archive} failed ({err}); delete it if it is damaged")) from err
    if not _present(root, layout, split):
        raise FileNotFoundError(_missing_message(
            root, layout, split, f"{archive} was extracted but the expected files are still missing "
                                 f"(delete the archive if it is damaged)"))


def _open_tonic(root: Path, layout: Layout, split: str):
    """tonic's dataset over the verified files; tonic's own existence check (which needs the archive) is skipped."""
    cls = _tonic_class(layout)
    trusting = type(cls.__name__, (cls,), {"_check_exists": lambda self: True})  # same name: same folder
    kwargs = {"train": split == "train"} if layout.official_split else {}
    return trusting(save_to=str(root), **kwargs)


def _read(dataset, index: int):
    try:
        return dataset[index]
    except ModuleNotFoundError as err:
        if err.name == "aedat":
            raise ImportError("reading CIFAR10-DVS's .aedat4 files needs the `aedat` package: pip install aedat") \
                from err
        raise


# ------------------------------------------------------------------------------------------------------ splits
def stratified_split(labels, train_fraction: float = 0.9, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)``: ``round(n_c · train_fraction)`` samples of every class ``c`` for training.

    Within a class, samples are taken in the given order (``seed=None``) or after a permutation drawn from
    ``numpy.random.default_rng([seed, c])`` — per class, so one class's size does not move another's split.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    labels = np.asarray(labels)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if seed is not None:
            idx = np.random.default_rng([int(seed), int(c)]).permutation(idx)
        n_train = int(round(len(idx) * train_fraction))
        train.append(idx[:n_train])
        test.append(idx[n_train:])
    cat = lambda parts: np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)  # noqa: E731
    return cat(train), cat(test)


# ------------------------------------------------------------------------------------------------------- cache
def _key(params: dict) -> str:
    blob = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _crc(array: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(array).tobytes())


def _as_counts(frames: np.ndarray) -> np.ndarray:
    return np.clip(frames, 0, np.iinfo(np.int16).max).astype(np.int16)


class TonicFrames(Dataset):
    """One split of a tonic data set served as ``([T, 2, H, W] float32 frames, label)`` (batches time-major).

    ``paths`` are this split's sample files (in tonic's dataset ``source``, opened lazily where it is not given),
    ``indices`` their positions in the whole set's path-sorted listing, ``labels`` their labels. With
    ``cache_dir`` the frames come from (or are built into) the on-disk cache; without it they are computed on every
    access. Pickling (DataLoader workers) carries neither tonic's dataset nor the memory-mapped frames: each
    process reopens them when it needs them.
    """

    collate_fn = staticmethod(time_major_collate)

    def __init__(self, layout: Layout, root: Path, split: str, paths: list[str], indices: np.ndarray,
                 labels: np.ndarray, framing: Framing, info: DatasetInfo, cache_dir: Path | None,
                 cache_params: dict, source_digest: str, source=None):
        self.layout, self.root, self.split = layout, Path(root), split
        self.paths = list(paths)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.sensor_size = tuple(layout.sensor_size)
        self.framing = framing
        self.info = info
        self.shape = framing.frame_shape(self.sensor_size)
        self.dropped_events = 0
        self._source = source
        self._positions: list[int] | None = None
        self._mm: np.ndarray | None = None
        self._crcs: list[int] | None = None
        self.cache_path: Path | None = None
        if cache_dir is not None:
            stem = f"{cache_params['split']}-{_key(cache_params)}"
            self.cache_path = Path(cache_dir) / f"{stem}.npy"
            self._manifest_path = Path(cache_dir) / f"{stem}.json"
            self._load_or_build(cache_params, source_digest)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_source=None, _positions=None, _mm=None)
        return state

    @property
    def source(self):
        """tonic's dataset over the files (opened on first use)."""
        if self._source is None:
            self._source = _open_tonic(self.root, self.layout, self.split)
        return self._source

    def _position(self, index: int) -> int:
        if self._positions is None:
            where = {str(path): i for i, path in enumerate(self.source.data)}
            try:
                self._positions = [where[path] for path in self.paths]
            except KeyError as err:
                raise FileNotFoundError(f"{self.info.name}: sample file {err.args[0]} is gone; the copy under "
                                        f"{self.root} changed since this dataset was built") from None
        return self._positions[index]

    # -- events and frames of one sample
    def events(self, index: int) -> np.ndarray:
        """Sample ``index``'s events as ``EVENT_DTYPE`` (time from 0, outside-sensor events dropped)."""
        raw, _ = _read(self.source, self._position(index))
        events, dropped = _standardise(raw, self.sensor_size)
        self.dropped_events += dropped
        return events

    def compute(self, index: int) -> np.ndarray:
        """Sample ``index``'s frames computed from its events (no cache), ``[T, 2, H, W]`` float32."""
        return frame_events(self.events(index), self.sensor_size, self.framing)

    @property
    def _frames(self) -> np.ndarray | None:
        """The memory-mapped cache ``[N, T, 2, H, W]`` int16 (``None`` without a cache)."""
        if self._mm is None and self._crcs is not None:
            self._mm = np.load(self.cache_path, mmap_mode="r", allow_pickle=False)
        return self._mm

    # -- the cache
    def _load_or_build(self, params: dict, source_digest: str) -> None:
        problem = self._check_cache(params, source_digest)
        if problem is None:
            return
        if problem != "missing":
            warnings.warn(f"frame cache {self.cache_path} is {problem}; rebuilding it", RuntimeWarning,
                          stacklevel=4)
        self._build(params, source_digest)

    def _check_cache(self, params: dict, source_digest: str) -> str | None:
        if not self.cache_path.exists() or not self._manifest_path.exists():
            return "missing"
        try:
            manifest = json.loads(self._manifest_path.read_text())
            if manifest.get("params") != json.loads(json.dumps(params)):
                return "stale (options changed)"
            if manifest.get("source_digest") != source_digest:
                return "stale (the source files changed)"
            frames = np.load(self.cache_path, mmap_mode="r", allow_pickle=False)
            expected = (len(self.indices), *self.shape)
            if frames.shape != expected or frames.dtype != np.int16:
                return f"corrupted (shape {frames.shape} {frames.dtype}, expected {expected} int16)"
            crcs = [int(c) for c in manifest["crc32"]]
            if len(crcs) != len(self.indices):
                return "corrupted (manifest has the wrong number of checksums)"
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"unreadable ({err})"
        self._mm, self._crcs = frames, crcs
        return None

    def _build(self, params: dict, source_digest: str) -> None:
        from tqdm.auto import tqdm

        start = time.perf_counter()
        crcs = []
        with atomic_path(self.cache_path) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int16, shape=(len(self.indices), *self.shape))
            for i in tqdm(range(len(self.indices)), desc=f"frames {self.info.name}/{params['split']}",
                          disable=len(self.indices) < 2):
                out[i] = _as_counts(self.compute(i))
                crcs.append(_crc(out[i]))
            out.flush()
            del out
        manifest = {"params": params, "source_digest": source_digest, "shape": [len(self.indices), *self.shape],
                    "dtype": "int16", "crc32": crcs, "dropped_events": self.dropped_events,
                    "seconds": round(time.perf_counter() - start, 3)}
        atomic_write_json(manifest, self._manifest_path)
        self._mm = np.load(self.cache_path, mmap_mode="r", allow_pickle=False)
        self._crcs = crcs

    def _cached(self, index: int) -> np.ndarray:
        counts = np.asarray(self._frames[index])
        if _crc(counts) == self._crcs[index]:
            return counts.astype(np.float32)
        warnings.warn(f"frame cache {self.cache_path}: sample {index} fails its checksum; recomputing it",
                      RuntimeWarning, stacklevel=3)
        frames = self.compute(index)
        counts = _as_counts(frames)
        if _crc(counts) == self._crcs[index]:     # repair the file in place (same bytes as when it was built)
            repair = np.load(self.cache_path, mmap_mode="r+", allow_pickle=False)
            repair[index] = counts
            repair.flush()
            del repair
        return counts.astype(np.float32)

    # -- Dataset protocol
    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        frames = self._cached(index) if self._crcs is not None else self.compute(index)
        return torch.from_numpy(frames), self.labels[index]


# ----------------------------------------------------------------------------------------------------- builder
def _source_digest(root: Path, paths: list[str]) -> str:
    """A digest of the sample files (relative path and size, in order): changes when the copy changes."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{os.path.relpath(path, root)}|{os.path.getsize(path)}\n".encode())
    return digest.hexdigest()


def _build(name: str, split: str, *, root, frames, time_window_us, max_frames, size, split_by, download, cache,
           preset, seed=None, train_fraction=None) -> TonicFrames:
    layout = LAYOUTS[name]
    options = preset_options(name, preset) if preset is not None else {}
    explicit = {"frames": frames, "time_window_us": time_window_us, "max_frames": max_frames, "size": size,
                "split_by": split_by}
    if explicit["time_window_us"] is not None and frames is None:
        options.pop("frames", None)
        options.pop("split_by", None)
    if explicit["frames"] is not None and time_window_us is None:
        options.pop("time_window_us", None)
        options.pop("max_frames", None)
    options.update({k: v for k, v in explicit.items() if v is not None})
    if options.get("frames") is None and options.get("time_window_us") is None:
        options["frames"] = DEFAULT_FRAMES
    framing = Framing(frames=options.get("frames"), time_window_us=options.get("time_window_us"),
                      max_frames=options.get("max_frames"), size=_size_tuple(options.get("size")),
                      split_by=options.get("split_by") or "time")

    root = Path(root).expanduser() if root is not None else data_root() / name
    _ensure_files(root, layout, split, download)
    source = _open_tonic(root, layout, split)

    order = sorted(range(len(source.data)), key=lambda i: str(source.data[i]))   # tonic's os.walk order varies
    paths = [str(source.data[i]) for i in order]
    if name == "n-caltech101":
        classes = tuple(sorted({str(t) for t in source.targets}))
        targets = np.array([classes.index(str(source.targets[i])) for i in order], dtype=np.int64)
    else:
        classes = layout.classes
        targets = np.array([int(source.targets[i]) for i in order], dtype=np.int64)
    if layout.official_split:
        chosen = np.arange(len(order))
        split_rule = "official"
    else:
        train_idx, test_idx = stratified_split(targets, train_fraction, seed)
        chosen = train_idx if split == "train" else test_idx
        split_rule = (f"stratified {train_fraction:g}/{1 - train_fraction:g} per class, "
                      + ("file order" if seed is None else f"seed {seed}"))
    labels = targets[chosen]

    params = {"name": name, "split": split, "version": CACHE_VERSION, "framing": framing.params(),
              "sensor_size": list(layout.sensor_size)}
    if not layout.official_split:
        params.update(seed=seed, train_fraction=train_fraction)
    slicing = ({"frames": framing.frames, "split_by": framing.split_by} if framing.frames is not None else
               {"time_window_us": framing.time_window_us, "max_frames": framing.max_frames,
                "kept": "the first max_frames windows from the first event; shorter recordings zero-padded"})
    info = DatasetInfo(
        name=name, classes=classes, sample_shape=framing.frame_shape(layout.sensor_size), time_major=True,
        description=layout.description,
        extra={"sensor_size": layout.sensor_size, "slicing": slicing, "size": framing.size,
               "downsampling": "tonic Downsample (coordinates scaled and floored; counts summed)",
               "split": split_rule, "preset": preset, "root": str(root), "num_samples": len(chosen),
               "frames": "event counts per (frame, polarity, y, x); channel 0 = OFF, 1 = ON"})
    cache_dir = root / "frames" if cache else None
    chosen_paths = [paths[i] for i in chosen]
    return TonicFrames(layout, root, split, chosen_paths, chosen, labels, framing, info, cache_dir, params,
                       _source_digest(root, chosen_paths), source=source)


@register_dataset("dvs-gesture")
def dvs_gesture(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
                time_window_us: int | None = None, max_frames: int | None = None, size=None,
                split_by: str | None = None, download: bool = True, cache: bool = True,
                preset: str | None = None) -> TonicFrames:
    """IBM DVS128 Gesture through ``tonic.datasets.DVSGesture`` (official split; 11 classes; 128×128 sensor).

    Options as in the module docstring; ``preset="tssd"`` = 30 ms slices, 16 frames, 32×32.
    """
    return _build("dvs-gesture", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, download=download, cache=cache, preset=preset)


@register_dataset("cifar10-dvs")
def cifar10_dvs(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
                time_window_us: int | None = None, max_frames: int | None = None, size=None,
                split_by: str | None = None, download: bool = True, cache: bool = True,
                preset: str | None = None, seed: int | None = 0, train_fraction: float = 0.9) -> TonicFrames:
    """CIFAR10-DVS through ``tonic.datasets.CIFAR10DVS`` (10 classes; 128×128; needs ``pip install aedat``).

    No official split: a stratified ``train_fraction`` split seeded by ``seed`` (see :func:`stratified_split`).
    ``preset="tet"`` = 10 frames of equal event count, 48×48; ``preset="tssd"`` = 10 ms slices, 16 frames, 42×42.
    """
    return _build("cifar10-dvs", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, download=download, cache=cache,
                  preset=preset, seed=seed, train_fraction=train_fraction)


@register_dataset("n-caltech101")
def n_caltech101(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
                 time_window_us: int | None = None, max_frames: int | None = None, size=None,
                 split_by: str | None = None, download: bool = True, cache: bool = True,
                 preset: str | None = None, seed: int | None = 0, train_fraction: float = 0.9) -> TonicFrames:
    """N-Caltech101 through ``tonic.datasets.NCALTECH101`` (101 folders incl. background; 240×180 canvas).

    No official split: a stratified ``train_fraction`` split seeded by ``seed`` (see :func:`stratified_split`).
    Classes are the sorted folder names; events beyond the 240×180 canvas (none in the real data) are dropped.
    """
    return _build("n-caltech101", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, download=download, cache=cache,
                  preset=preset, seed=seed, train_fraction=train_fraction)


@register_dataset("n-mnist")
def n_mnist(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
            time_window_us: int | None = None, max_frames: int | None = None, size=None,
            split_by: str | None = None, download: bool = True, cache: bool = True,
            preset: str | None = None) -> TonicFrames:
    """N-MNIST through ``tonic.datasets.NMNIST`` (official 60k/10k split; 10 digits; 34×34 sensor)."""
    return _build("n-mnist", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, download=download, cache=cache, preset=preset)
