"""Real event-camera data sets through tonic: DVS-Gesture, CIFAR10-DVS, N-Caltech101, N-MNIST.

Each set is read with tonic's own dataset class (its on-disk layout, file readers and label rules) and served as
time-major frames ``[T, 2, H, W]`` float32 (channel 0 = OFF, 1 = ON; batches ``[T, N, 2, H, W]`` through
``time_major_collate``). Framing options, shared by all four sets:

* ``polarity="merge"`` — one channel counting both polarities, ``[T, 1, H, W]`` (see
  :data:`~snnlab.data.events.POLARITIES`); the default ``"split"`` keeps OFF and ON apart.

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
Presence checks, download and extraction, and the error naming the expected layout when files are missing, are in
:mod:`snnlab.data.tonic_files`.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.lib.recfunctions  # noqa: F401  (tonic's DVSGesture uses np.lib.recfunctions without importing it)
import torch
from torch.utils.data import Dataset

from ..io import atomic_path, atomic_write_json
from .cache import data_root
from .events import EVENT_DTYPE, POLARITIES, FrameSpec, events_to_frames, time_major_collate
from .registry import DatasetInfo, register_dataset
from .tonic_files import LAYOUTS, Layout, ensure_files, open_tonic, read_sample

__all__ = ["Framing", "TonicFrames", "frame_events", "stratified_split", "PRESETS", "preset_options",
           "CACHE_VERSION"]

CACHE_VERSION = 1
"""Bump when the framing code's output changes for the same options (selects new cache entries)."""

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
    """How one recording becomes ``[T, C, H, W]`` frames, ``C`` = 2 polarities or 1 merged (see the module
    docstring)."""

    frames: int | None = None
    time_window_us: int | None = None
    max_frames: int | None = None
    size: tuple[int, int] | None = None     # (H, W)
    split_by: str = "time"
    polarity: str = "split"

    def __post_init__(self):
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, got {self.polarity!r}")
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
        """``(T, C, H, W)`` for a sensor of ``sensor_size = (W, H)``; ``C`` = 2, or 1 with merged polarities."""
        h, w = self.size if self.size is not None else (sensor_size[1], sensor_size[0])
        return (self.num_frames, 2 if self.polarity == "split" else 1, int(h), int(w))

    def params(self) -> dict:
        return {"frames": self.frames, "time_window_us": self.time_window_us, "max_frames": self.max_frames,
                "size": list(self.size) if self.size is not None else None, "split_by": self.split_by,
                "polarity": self.polarity}


def _size_tuple(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        return (int(size), int(size))
    return tuple(int(s) for s in size)


def frame_events(events: np.ndarray, sensor_size: tuple[int, int], framing: Framing) -> np.ndarray:
    """One recording's events (``EVENT_DTYPE``, ``t`` from 0) → ``[T, C, H, W]`` float32 counts (``C`` = 2,
    channel 0 = OFF and 1 = ON, or 1 with ``framing.polarity == "merge"``).

    ``sensor_size`` is ``(W, H)``; events outside it must already be removed.
    """
    shape = framing.frame_shape(sensor_size)
    if len(events) == 0:
        return np.zeros(shape, np.float32)
    if framing.split_by == "time":
        if framing.frames is not None:
            duration = int(events["t"].max()) + 1          # the recording's own span, last event included
            spec = FrameSpec(sensor_size=tuple(sensor_size), duration_us=duration, frames=framing.frames,
                             size=framing.size, polarity=framing.polarity)
        else:
            duration = framing.time_window_us * framing.max_frames   # the first max_frames windows
            spec = FrameSpec(sensor_size=tuple(sensor_size), duration_us=duration,
                             time_window_us=framing.time_window_us, size=framing.size, polarity=framing.polarity)
        return events_to_frames(events, spec)
    # split_by == "number": T chunks of N // T events, the last one taking the remainder (SpikingJelly's rule).
    import tonic.transforms as transforms

    t_frames, _, h, w = shape
    if framing.size is not None and (w, h) != tuple(sensor_size):
        events = transforms.Downsample(sensor_size=(*sensor_size, 2), target_size=(w, h))(events)
    n = len(events)
    bounds = [i * (n // t_frames) for i in range(t_frames)] + [n]
    frame_of_event = np.repeat(np.arange(t_frames), np.diff(bounds))
    channel = events["p"].astype(np.int64) if framing.polarity == "split" else np.zeros(n, np.int64)
    channels = shape[1]
    flat = ((frame_of_event * channels + channel) * h + events["y"].astype(np.int64)) * w \
        + events["x"].astype(np.int64)
    counts = np.bincount(flat, minlength=t_frames * channels * h * w)
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
    """One split of a tonic data set served as ``([T, C, H, W] float32 frames, label)`` (batches time-major;
    ``C`` = 2 polarities, or 1 merged).

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
            self._source = open_tonic(self.root, self.layout, self.split)
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
        raw, _ = read_sample(self.source, self._position(index))
        events, dropped = _standardise(raw, self.sensor_size)
        self.dropped_events += dropped
        return events

    def compute(self, index: int) -> np.ndarray:
        """Sample ``index``'s frames computed from its events (no cache), ``[T, C, H, W]`` float32."""
        return frame_events(self.events(index), self.sensor_size, self.framing)

    @property
    def _frames(self) -> np.ndarray | None:
        """The memory-mapped cache ``[N, T, C, H, W]`` int16 (``None`` without a cache)."""
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
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
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


def _build(name: str, split: str, *, root, frames, time_window_us, max_frames, size, split_by, polarity, download,
           cache, preset, seed=None, train_fraction=None) -> TonicFrames:
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
                      split_by=options.get("split_by") or "time", polarity=polarity)

    root = Path(root).expanduser() if root is not None else data_root() / name
    ensure_files(root, layout, split, download)
    source = open_tonic(root, layout, split)

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
               "polarity": polarity,
               "frames": ("event counts per (frame, polarity, y, x); channel 0 = OFF, 1 = ON" if polarity == "split"
                          else "event counts per (frame, y, x), both polarities in one channel")})
    cache_dir = root / "frames" if cache else None
    chosen_paths = [paths[i] for i in chosen]
    return TonicFrames(layout, root, split, chosen_paths, chosen, labels, framing, info, cache_dir, params,
                       _source_digest(root, chosen_paths), source=source)


@register_dataset("dvs-gesture")
def dvs_gesture(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
                time_window_us: int | None = None, max_frames: int | None = None, size=None,
                split_by: str | None = None, polarity: str = "split", download: bool = True, cache: bool = True,
                preset: str | None = None) -> TonicFrames:
    """IBM DVS128 Gesture through ``tonic.datasets.DVSGesture`` (official split; 11 classes; 128×128 sensor).

    Options as in the module docstring; ``preset="tssd"`` = 30 ms slices, 16 frames, 32×32.
    """
    return _build("dvs-gesture", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, polarity=polarity, download=download,
                  cache=cache, preset=preset)


@register_dataset("cifar10-dvs")
def cifar10_dvs(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
                time_window_us: int | None = None, max_frames: int | None = None, size=None,
                split_by: str | None = None, polarity: str = "split", download: bool = True, cache: bool = True,
                preset: str | None = None, seed: int | None = 0, train_fraction: float = 0.9) -> TonicFrames:
    """CIFAR10-DVS through ``tonic.datasets.CIFAR10DVS`` (10 classes; 128×128; needs ``pip install aedat``).

    No official split: a stratified ``train_fraction`` split seeded by ``seed`` (see :func:`stratified_split`).
    ``preset="tet"`` = 10 frames of equal event count, 48×48; ``preset="tssd"`` = 10 ms slices, 16 frames, 42×42.
    """
    return _build("cifar10-dvs", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, polarity=polarity, download=download,
                  cache=cache, preset=preset, seed=seed, train_fraction=train_fraction)


@register_dataset("n-caltech101")
def n_caltech101(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
                 time_window_us: int | None = None, max_frames: int | None = None, size=None,
                 split_by: str | None = None, polarity: str = "split", download: bool = True, cache: bool = True,
                 preset: str | None = None, seed: int | None = 0, train_fraction: float = 0.9) -> TonicFrames:
    """N-Caltech101 through ``tonic.datasets.NCALTECH101`` (101 folders incl. background; 240×180 canvas).

    No official split: a stratified ``train_fraction`` split seeded by ``seed`` (see :func:`stratified_split`).
    Classes are the sorted folder names; events beyond the 240×180 canvas (none in the real data) are dropped.
    """
    return _build("n-caltech101", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, polarity=polarity, download=download,
                  cache=cache, preset=preset, seed=seed, train_fraction=train_fraction)


@register_dataset("n-mnist")
def n_mnist(split: str = "train", root: str | os.PathLike | None = None, frames: int | None = None,
            time_window_us: int | None = None, max_frames: int | None = None, size=None,
            split_by: str | None = None, polarity: str = "split", download: bool = True, cache: bool = True,
            preset: str | None = None) -> TonicFrames:
    """N-MNIST through ``tonic.datasets.NMNIST`` (official 60k/10k split; 10 digits; 34×34 sensor)."""
    return _build("n-mnist", split, root=root, frames=frames, time_window_us=time_window_us,
                  max_frames=max_frames, size=size, split_by=split_by, polarity=polarity, download=download,
                  cache=cache, preset=preset)
