"""``event-digits``: an N-MNIST-like event data set — real handwritten digits seen by a simulated DVS in saccades.

N-MNIST (Orchard et al. 2015) was recorded by moving an ATIS sensor in three saccades (a triangle, ~100 ms each)
in front of MNIST digits on a monitor; its 34×34 event streams are classified from the edges the motion reveals.
Here the digits are scikit-learn's 1,797 UCI handwritten digits (real data, 8×8, upsampled to 24×24, bright on a
dark screen at a per-sample contrast); the sensor is :func:`~snnlab.data.dvs.simulate_dvs` (log-intensity change
events, 34×34, per-pixel threshold mismatch, refractory period, background noise); the motion is three saccades
along a jittered triangle. What is synthetic: the sensor, the motion and the contrast; what is real: the shapes.
"""
from __future__ import annotations

import numpy as np

from .cache import cached_arrays
from .digits import load_digit_images, stratified_split
from .dvs import simulate_dvs
from .events import EVENT_DTYPE, EventFrames, FrameSpec
from .registry import DatasetInfo, register_dataset
from .render import render_sprites

__all__ = ["event_digits", "generate_event_digits", "SENSOR", "DURATION_US"]

SENSOR = (34, 34)               # (W, H), as N-MNIST
DURATION_US = 300_000           # three 100 ms saccades
_STEP_US = 5_000                # render step of the simulated scene
_DIGIT_PX = 24
_SCREEN = 0.25               # intensity of the dark screen around the digit
_VERSION = 2


def _saccade_paths(n: int, rng: np.random.Generator) -> np.ndarray:
    """``[n, K, 2]`` sprite centres: three straight saccades around a jittered triangle, start = end."""
    times = np.arange(0, DURATION_US + _STEP_US, _STEP_US)
    amplitude = rng.uniform(2.5, 4.0, n)
    angle = rng.uniform(-0.3, 0.3, n)
    base = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]) - np.array([1.0, 1 / 3])  # triangle around its centroid
    rot = np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1), np.stack([np.sin(angle), np.cos(angle)], -1)], -2)
    corners = np.einsum("nij,cj->nci", rot, base) * amplitude[:, None, None]
    corners = np.concatenate([corners, corners[:, :1]], axis=1)            # close the triangle
    offset = rng.uniform(-2.0, 2.0, (n, 1, 2)) + (SENSOR[0] - 1) / 2      # where the digit sits on the sensor
    phase = times / (DURATION_US / 3)                                       # 0..3 over three saccades
    leg = np.minimum(phase.astype(int), 2)
    frac = (phase - leg)[None, :, None]
    return offset + corners[:, leg] + frac * (corners[:, leg + 1] - corners[:, leg])


def _first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Sorted indices of the first ``per_class`` items of each class (all of a class that has fewer)."""
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))


def generate_event_digits(seed: int = 0, noise_hz: float = 1.0, threshold: float = 0.3, chunk: int = 128,
                          per_class: int | None = None) -> dict[str, np.ndarray]:
    """Events of all 1,797 digits (or of the first ``per_class`` of each class): ``{"events": concatenated
    EVENT_DTYPE, "counts", "labels", "contrast"}``."""
    import torch
    import torch.nn.functional as F

    images, labels = load_digit_images()
    if per_class is not None:
        keep = _first_per_class(labels, per_class)
        images, labels = images[keep], labels[keep]
    digits = F.interpolate(torch.from_numpy(images)[:, None], size=(_DIGIT_PX, _DIGIT_PX), mode="bilinear",
                           align_corners=False)[:, 0].numpy()
    rng = np.random.default_rng(seed)
    contrast = rng.uniform(0.4, 1.0, len(labels))                           # screen brightness of the digit
    paths = _saccade_paths(len(labels), rng)
    times = np.arange(paths.shape[1]) * _STEP_US
    streams = []
    for start in range(0, len(labels), chunk):
        part = slice(start, start + chunk)
        sprites = _SCREEN + (1 - _SCREEN) * contrast[part, None, None] * digits[part]  # opaque patch of screen
        video = render_sprites(sprites, paths[part], (SENSOR[1], SENSOR[0]), background=_SCREEN)
        streams += simulate_dvs(video, times, threshold=threshold, noise_hz=noise_hz, rng=rng)
    return {"events": np.concatenate(streams).astype(EVENT_DTYPE), "counts": np.array([len(s) for s in streams]),
            "labels": labels, "contrast": contrast.astype(np.float32)}


@register_dataset("event-digits")
def event_digits(split: str, frames: int | None = 10, time_window_us: int | None = None, size: int | None = None,
                 train_limit: int | None = None, test_fraction: float = 0.3, noise_hz: float = 1.0,
                 seed: int = 0, polarity: str = "split", per_class: int | None = None) -> EventFrames:
    """N-MNIST-like event streams of the UCI digits, served as ``[T, 2, H, W]`` event-count frames.

    Framing: ``frames`` equal bins over the 300 ms recording, or ``time_window_us`` slices (e.g. ``30_000`` →
    10 frames); ``size`` downsamples the 34×34 sensor (e.g. 17). The split is the same stratified split as
    ``digits`` (``test_fraction``, ``seed``); ``train_limit`` keeps a stratified subset of the training split.
    ``per_class`` records only the first ``per_class`` digits of each class (a smaller set, generated in
    proportionally less time; its own cache entry), split the same way.
    ``polarity="merge"`` counts both polarities in one channel (``[T, 1, H, W]``, see
    :data:`~snnlab.data.events.POLARITIES`). Raw streams are in ``dataset.events`` (tonic-compatible ``(x, y, t, p)`` arrays, t in µs).
    """
    if time_window_us is not None:
        frames = None
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be a positive number of digits per class, got {per_class}")
    spec = FrameSpec(sensor_size=SENSOR, duration_us=DURATION_US, frames=frames, time_window_us=time_window_us,
                     size=(size, size) if size else None, polarity=polarity)
    params = {"seed": seed, "noise_hz": noise_hz, **({} if per_class is None else {"per_class": per_class})}
    entry = cached_arrays("event-digits", params, lambda: generate_event_digits(seed, noise_hz, per_class=per_class),
                          version=_VERSION)
    labels = entry["labels"]
    index = stratified_split(labels, split, test_fraction, seed, train_limit)
    info = DatasetInfo(
        name="event-digits", classes=tuple(str(d) for d in range(10)), sample_shape=spec.frame_shape, time_major=True,
        description="N-MNIST-like: UCI digits (real) moved in 3 saccades before a simulated 34x34 DVS (synthetic "
                    "events)",
        extra={"sensor_size": SENSOR, "duration_us": DURATION_US, "frames": spec.num_frames,
               "time_window_us": time_window_us, "size": spec.frame_shape[-2:], "polarity": polarity,
               "noise_hz": noise_hz,
               "cache": entry.summary()},
    )
    return EventFrames.from_concatenated(entry["events"], entry["counts"], labels, index, spec, info)
