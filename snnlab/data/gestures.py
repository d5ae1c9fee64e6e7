"""``event-gestures``: a DVS-Gesture-like event data set whose classes are motions, not shapes.

DVS128 Gesture (Amir et al. 2017) records 11 hand and arm gestures with a DVS128; its classes differ by how the hand
moves (waves, rolls, clockwise vs counter-clockwise), so an SNN must integrate time. Here a textured soft "hand"
(a random smooth texture under a Gaussian-like envelope, random size and brightness) moves over a static textured
background in front of a simulated 32×32 DVS (:func:`~snnlab.data.dvs.simulate_dvs`), along one of ten trajectories
with random onset, duration, amplitude, start position and hand tremor. Opposite motions (left vs right swipe,
clockwise vs counter-clockwise circle, approach vs recede, swipe vs wave) leave similar accumulated event images, so
a single time-collapsed frame cannot tell them apart; the order of the frames can. Everything here is synthetic.

By default there are 80 training and 200 test recordings per class (800 / 2,000): a large test split, so that one
test recording moves the accuracy by only 0.05 percentage points. The two splits are generated from separate random
streams (the training recordings from ``seed``, the test recordings from a stream derived from it), so the training
split does not depend on the size of the test split.
"""
from __future__ import annotations

import numpy as np

from .cache import cached_arrays
from .dvs import simulate_dvs
from .events import EVENT_DTYPE, EventFrames, FrameSpec
from .registry import DatasetInfo, register_dataset
from .render import render_sprites

__all__ = ["event_gestures", "generate_gestures", "GESTURES", "SENSOR", "DURATION_US"]

GESTURES = ("swipe right", "swipe left", "swipe up", "swipe down", "circle clockwise", "circle anticlockwise",
            "approach", "recede", "wave horizontal", "wave vertical")
SENSOR = (32, 32)               # (W, H): DVS-Gesture's 128x128 downsampled 4x, as the papers do
DURATION_US = 480_000           # 16 slices of 30 ms
_STEP_US = 5_000
_HAND_PX = 13
_VERSION = 3                    # 3: test split from its own random stream, default 200 test recordings per class


def _smooth_noise(rng: np.random.Generator, n: int, size: int, passes: int = 2) -> np.ndarray:
    """``[n, size, size]`` smooth random textures in [0, 1] (box-blurred white noise, min-max normalised)."""
    x = rng.random((n, size, size))
    for _ in range(passes):
        x = (x + np.roll(x, 1, 1) + np.roll(x, -1, 1) + np.roll(x, 1, 2) + np.roll(x, -1, 2)) / 5
    lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    return (x - lo) / (hi - lo)


def _hands(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Textured hand sprites and their soft opacity masks, ``[n, h, h]`` each."""
    r = np.linspace(-1, 1, _HAND_PX)
    radius2 = r[None, :, None] ** 2 + r[None, None, :] ** 2
    width = rng.uniform(0.55, 0.85, (n, 1, 1))
    alpha = np.clip(1.5 * np.exp(-radius2 / (2 * (width / 2) ** 2)), 0, 1)
    brightness = rng.uniform(0.55, 1.0, (n, 1, 1))
    sprite = brightness * (0.6 + 0.4 * _smooth_noise(rng, n, _HAND_PX))
    return sprite, alpha


def _trajectories(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hand centres ``[n, K, 2]`` and scales ``[n, K]`` of each gesture, with random timing and geometry."""
    n = len(labels)
    t = np.arange(0, DURATION_US + _STEP_US, _STEP_US) / DURATION_US           # 0..1
    onset = rng.uniform(0.0, 0.25, (n, 1))
    length = rng.uniform(0.55, 0.75, (n, 1))
    s = np.clip((t[None] - onset) / length, 0, 1)                            # progress 0..1
    ease = 0.5 - 0.5 * np.cos(np.pi * s)                                     # smooth start and stop
    centre = (np.array(SENSOR, dtype=float) - 1) / 2 + rng.uniform(-3, 3, (n, 1, 2))
    amplitude = rng.uniform(9, 14, (n, 1))
    radius = rng.uniform(4.5, 7.5, (n, 1))
    phase0 = rng.uniform(0, 2 * np.pi, (n, 1))
    zero = np.zeros_like(ease)
    offsets = np.empty((n, len(t), 2))
    scales = np.ones((n, len(t)))
    for k, name in enumerate(GESTURES):
        m = labels == k
        e, a = ease[m], amplitude[m]
        if name.startswith("swipe"):
            d = (e - 0.5) * a
            dx, dy = {"right": (d, zero[m]), "left": (-d, zero[m]), "up": (zero[m], -d),
                      "down": (zero[m], d)}[name.split()[1]]
        elif name.startswith("circle"):
            turn = 2 * np.pi * e * (1 if name == "circle clockwise" else -1)  # y points down
            dx, dy = radius[m] * np.cos(phase0[m] + turn), radius[m] * np.sin(phase0[m] + turn)
        elif name in ("approach", "recede"):
            grow = 0.55 + 1.1 * (e if name == "approach" else 1 - e)
            scales[m] = grow
            dx = dy = zero[m]
        else:  # waves: two oscillations
            d = 0.35 * a * np.sin(4 * np.pi * e)
            dx, dy = (d, zero[m]) if name.endswith("horizontal") else (zero[m], d)
        offsets[m] = np.stack([dx, dy], axis=-1)
    tremor = np.cumsum(rng.normal(0, 0.08, (n, len(t), 2)), axis=1)
    return centre + offsets + tremor, scales


def generate_gestures(labels: np.ndarray, seed: int, noise_hz: float = 2.0, threshold: float = 0.3,
                      chunk: int = 128) -> dict[str, np.ndarray]:
    """Event streams for gesture ``labels``: ``{"events": concatenated EVENT_DTYPE, "counts", "labels"}``."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    sprites, alphas = _hands(rng, n)
    centres, scales = _trajectories(labels, rng)
    backgrounds = 0.08 + 0.2 * _smooth_noise(rng, n, SENSOR[0], passes=3)
    times = np.arange(centres.shape[1]) * _STEP_US
    streams = []
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        video = render_sprites(sprites[part], centres[part], (SENSOR[1], SENSOR[0]), scales=scales[part],
                               background=backgrounds[part], alphas=alphas[part])
        streams += simulate_dvs(video, times, threshold=threshold, noise_hz=noise_hz, rng=rng)
    return {"events": np.concatenate(streams).astype(EVENT_DTYPE), "counts": np.array([len(s) for s in streams]),
            "labels": labels}


def _test_seed(seed: int) -> int:
    """The seed of the test recordings' own random stream (the training recordings use ``seed`` itself)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def _build(train_per_class: int, test_per_class: int, seed: int, noise_hz: float) -> dict[str, np.ndarray]:
    """Training recordings from ``seed``, then test recordings from their own stream: each split depends only on
    its own size (and ``seed``), so enlarging the test split leaves the training split unchanged."""
    classes = np.arange(len(GESTURES))
    train = generate_gestures(np.repeat(classes, train_per_class), seed, noise_hz)
    test = generate_gestures(np.repeat(classes, test_per_class), _test_seed(seed), noise_hz)
    arrays = {key: np.concatenate([train[key], test[key]]) for key in ("events", "counts", "labels")}
    arrays["is_test"] = np.arange(len(arrays["labels"])) >= len(train["labels"])
    return arrays


@register_dataset("event-gestures")
def event_gestures(split: str, frames: int | None = 8, time_window_us: int | None = None, size: int | None = None,
                   train_per_class: int = 80, test_per_class: int = 200, noise_hz: float = 2.0,
                   seed: int = 0, polarity: str = "split") -> EventFrames:
    """DVS-Gesture-like motions of a textured hand before a simulated 32×32 DVS, as ``[T, 2, H, W]`` frames.

    Ten classes (:data:`GESTURES`), ``train_per_class`` / ``test_per_class`` recordings of 480 ms each (default
    80 / 200: 800 training and 2,000 test recordings, class-balanced); the training recordings do not depend on
    ``test_per_class``. Framing:
    ``frames`` equal bins, or ``time_window_us`` slices (``30_000`` → 16 frames, DVS-Gesture's 30 ms slicing);
    ``size`` downsamples; ``polarity="merge"`` counts both polarities in one channel (``[T, 1, H, W]``, see
    :data:`~snnlab.data.events.POLARITIES`). Raw streams are in ``dataset.events``.
    """
    if time_window_us is not None:
        frames = None
    spec = FrameSpec(sensor_size=SENSOR, duration_us=DURATION_US, frames=frames, time_window_us=time_window_us,
                     size=(size, size) if size else None, polarity=polarity)
    params = {"seed": seed, "noise_hz": noise_hz, "train_per_class": train_per_class, "test_per_class": test_per_class}
    entry = cached_arrays("event-gestures", params,
                          lambda: _build(train_per_class, test_per_class, seed, noise_hz), version=_VERSION)
    index = np.flatnonzero(entry["is_test"] == (split == "test"))
    info = DatasetInfo(
        name="event-gestures", classes=GESTURES, sample_shape=spec.frame_shape, time_major=True,
        description="DVS-Gesture-like: ten motions of a textured hand before a simulated 32x32 DVS (synthetic)",
        extra={"sensor_size": SENSOR, "duration_us": DURATION_US, "frames": spec.num_frames,
               "time_window_us": time_window_us, "size": spec.frame_shape[-2:], "polarity": polarity,
               "noise_hz": noise_hz,
               "cache": entry.summary()},
    )
    return EventFrames.from_concatenated(entry["events"], entry["counts"], entry["labels"], index, spec, info)
