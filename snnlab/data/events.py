"""Event streams and their frames: tonic-compatible structured arrays ``(x, y, t, p)`` → time-major frame tensors.

An event camera (DVS) reports, per pixel, the moments its log intensity changed by more than a contrast threshold:
an event is ``(x, y, t, p)`` with ``t`` in microseconds and polarity ``p`` (1 = ON, brighter; 0 = OFF, darker).
SNNs consume them as frames: events are binned in time (a fixed number of frames, or fixed time windows such as
10 ms or 30 ms slices) and counted per pixel and polarity, giving ``[T, 2, H, W]`` per sample and ``[T, N, 2, H, W]``
per batch (SpikingJelly's multi-step layout); with the polarities merged, one channel counts both, ``[T, 1, H, W]``.
Binning and spatial downsampling use tonic's transforms.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

__all__ = ["EVENT_DTYPE", "POLARITIES", "FrameSpec", "make_events", "events_to_frames", "time_major_collate", "EventFrames",
           "split_events"]

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
"""Structured dtype of an event array; tonic's transforms accept it (they address fields by name)."""
POLARITIES = ("split", "merge")
"""How frames treat the polarity: one channel per polarity (``"split"``: OFF, ON) or one channel counting both
(``"merge"``). Merged frames hide the order in which a moving edge turns pixels ON and OFF, so a single
time-collapsed frame no longer tells a motion's direction."""


def make_events(x, y, t, p) -> np.ndarray:
    """A time-sorted structured event array from coordinate, time (µs) and polarity (0/1) sequences."""
    events = np.empty(len(t), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events[np.argsort(events["t"], kind="stable")]


def split_events(events: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Split one concatenated event array into per-sample arrays of the given ``counts`` (views, no copy)."""
    return np.split(events, np.cumsum(counts)[:-1])


@dataclass(frozen=True)
class FrameSpec:
    """How events become frames.

    Exactly one of ``frames`` (a fixed number of equal time bins over ``duration_us``) or ``time_window_us``
    (fixed slices, e.g. 10_000 for 10 ms; the number of frames is ``ceil(duration_us / time_window_us)``) is set.
    ``size`` (H, W) downsamples the sensor (tonic ``Downsample``); ``duration_us`` fixes the recording length so
    every sample gets the same number of frames. ``log_scale`` maps counts ``c`` to ``log(1 + c)``; otherwise
    counts are clipped to ``clip`` (``None``: raw counts). ``polarity`` is one of :data:`POLARITIES`.
    """

    sensor_size: tuple[int, int]          # (W, H) like tonic
    duration_us: int
    frames: int | None = None
    time_window_us: int | None = None
    size: tuple[int, int] | None = None   # (H, W) after downsampling
    clip: float | None = None
    log_scale: bool = False
    polarity: str = "split"

    def __post_init__(self):
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, got {self.polarity!r}")
        if (self.frames is None) == (self.time_window_us is None):
            raise ValueError("set exactly one of frames (a fixed number of frames) or time_window_us (fixed slices)")
        if self.frames is not None and self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")
        if self.time_window_us is not None and not 0 < self.time_window_us <= self.duration_us:
            raise ValueError(f"time_window_us must be in (0, duration_us={self.duration_us}], got {self.time_window_us}")

    @property
    def num_frames(self) -> int:
        if self.frames is not None:
            return self.frames
        return -(-self.duration_us // self.time_window_us)

    @property
    def frame_shape(self) -> tuple[int, int, int, int]:
        """``(T, C, H, W)``: ``C`` = 2 polarities, or 1 when they are merged."""
        h, w = self.size if self.size is not None else (self.sensor_size[1], self.sensor_size[0])
        return (self.num_frames, 2 if self.polarity == "split" else 1, h, w)


def events_to_frames(events: np.ndarray, spec: FrameSpec) -> np.ndarray:
    """Bin one sample's events into ``[T, 2, H, W]`` float32 frames (channel 0 = OFF, 1 = ON), or ``[T, 1, H, W]``
    counting both polarities when ``spec.polarity == "merge"`` (merged before ``log_scale`` or ``clip``).

    Events after ``duration_us`` are dropped; a recording shorter than ``duration_us`` gives trailing empty frames,
    so every sample has ``spec.num_frames`` frames.
    """
    import tonic.transforms as transforms

    events = events[(events["t"] >= 0) & (events["t"] < spec.duration_us)]
    sensor = (spec.sensor_size[0], spec.sensor_size[1], 2)
    if spec.size is not None:
        target = (spec.size[1], spec.size[0])  # tonic's target_size is (W, H)
        if target != spec.sensor_size:
            events = transforms.Downsample(sensor_size=sensor, target_size=target)(events)
            sensor = (target[0], target[1], 2)
    if len(events) == 0:
        return np.zeros(spec.frame_shape, dtype=np.float32)
    t_frames, _, h, w = spec.frame_shape
    # Equal windows pinned to [0, duration) (tonic's n_time_bins spans first-to-last event instead).
    window = spec.time_window_us if spec.time_window_us is not None else spec.duration_us / spec.frames
    to_frame = transforms.ToFrame(sensor_size=sensor, time_window=window, start_time=0, end_time=spec.duration_us,
                                  include_incomplete=True)
    frames = to_frame(events).astype(np.float32)[:t_frames]
    if len(frames) < t_frames:
        frames = np.concatenate([frames, np.zeros((t_frames - len(frames), 2, h, w), np.float32)])
    if spec.polarity == "merge":
        frames = frames.sum(1, keepdims=True)
    if spec.log_scale:
        frames = np.log1p(frames)
    elif spec.clip is not None:
        frames = np.minimum(frames, spec.clip)
    return frames


def time_major_collate(batch):
    """Collate ``(sample, label)`` pairs whose samples are time-major ``[T, ...]`` into ``[T, N, ...]``.

    Samples may be tensors or dicts of tensors (multimodal data: every value is time-major); labels are stacked.
    """
    samples, labels = zip(*batch)
    labels = default_collate(labels)
    if isinstance(samples[0], dict):
        return {key: torch.stack([s[key] for s in samples], dim=1) for key in samples[0]}, labels
    return torch.stack(samples, dim=1), labels


class EventFrames(Dataset):
    """Per-sample event arrays and labels served as ``([T, C, H, W] float32 frames, label)`` (``C`` = 2, or 1 with
    merged polarities).

    Frames are computed once, on first access to any sample, and kept in memory (embedded sets are small).
    ``events`` keeps the raw streams for plots and for other framings; batches are collated time-major.
    """

    collate_fn = staticmethod(time_major_collate)

    def __init__(self, events: list[np.ndarray], labels: np.ndarray, spec: FrameSpec, info=None):
        if len(events) != len(labels):
            raise ValueError(f"{len(events)} event streams but {len(labels)} labels")
        self.events = events
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.spec = spec
        self.info = info
        self._frames: torch.Tensor | None = None

    @classmethod
    def from_concatenated(cls, events: np.ndarray, counts: np.ndarray, labels: np.ndarray, index: np.ndarray,
                          spec: FrameSpec, info=None) -> "EventFrames":
        """The samples ``index`` of a data set stored as one event array with per-sample ``counts``."""
        streams = split_events(events, counts)
        return cls([streams[i] for i in index], np.asarray(labels)[index], spec, info)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def frames(self) -> torch.Tensor:
        """All samples' frames, ``[N, T, C, H, W]``."""
        if self._frames is None:
            stacked = np.stack([events_to_frames(e, self.spec) for e in self.events]) if self.events else \
                np.zeros((0, *self.spec.frame_shape), np.float32)
            self._frames = torch.from_numpy(stacked)
        return self._frames

    def __getitem__(self, index: int):
        return self.frames[index], self.labels[index]
