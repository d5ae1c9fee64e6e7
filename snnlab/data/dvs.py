r"""A dynamic vision sensor (DVS) simulator: intensity videos → ``(x, y, t, p)`` event streams.

Each pixel keeps a reference log intensity :math:`L_\mathrm{ref}` and emits an event whenever its log intensity
:math:`L(t) = \log(I(t) + \epsilon)` moves a contrast threshold :math:`C` away from it (ESIM/v2e-style model;
Lichtsteiner et al. 2008, Gallego et al. 2022):

.. math::

    |L(t) - L_\mathrm{ref}| \ge C \;\Rightarrow\; \text{event } (x, y, t, p = [L(t) > L_\mathrm{ref}]),
    \qquad L_\mathrm{ref} \leftarrow L_\mathrm{ref} \pm C .

Between two rendered frames the log intensity is interpolated linearly, so a change of :math:`n C` gives :math:`n`
events at the times the interpolated signal crosses each level. Per-pixel thresholds vary (``threshold_jitter``,
fabrication mismatch); an event closer than ``refractory_us`` to the pixel's previous threshold crossing is
dropped; background-activity noise adds events at ``noise_hz`` per pixel with random polarity. Because only log
intensity changes matter, a global gain (exposure, illumination level) leaves the events unchanged — the property
that makes events robust where intensity frames clip or drown in noise.
"""
from __future__ import annotations

import numpy as np

from .events import make_events

__all__ = ["simulate_dvs"]


def _crossings(level_from: np.ndarray, level_to: np.ndarray, reference: np.ndarray, threshold: np.ndarray):
    """Threshold crossings of pixels whose log intensity moves from ``level_from`` to ``level_to`` in one step.

    Returns the flat pixel indices (one entry per event), polarities, time fractions in (0, 1] within the step,
    and the updated references.
    """
    delta = level_to - reference
    # a level must be passed, not merely reached: a pixel returning exactly to an earlier level (within rounding)
    # must not fire at the step's end
    count = np.maximum(np.floor(np.abs(delta) / threshold - 1e-9), 0).astype(np.int64)
    pixels = np.flatnonzero(count)
    if pixels.size == 0:
        return pixels, pixels, np.zeros(0), reference
    n = count.ravel()[pixels]
    sign = np.sign(delta.ravel()[pixels])
    per_event = np.repeat(pixels, n)
    # j-th crossing (1-based) of each pixel: level = ref + sign * j * C
    j = np.arange(per_event.size) - np.repeat(np.cumsum(n) - n, n) + 1
    ref, thr = reference.ravel()[per_event], threshold.ravel()[per_event]
    start, stop = level_from.ravel()[per_event], level_to.ravel()[per_event]
    level = ref + np.repeat(sign, n) * j * thr
    span = np.where(stop != start, stop - start, 1.0)
    fraction = np.clip((level - start) / span, 1e-9, 1.0)
    updated = reference.copy().ravel()
    updated[pixels] += sign * n * threshold.ravel()[pixels]
    return per_event, (np.repeat(sign, n) > 0).astype(np.int8), fraction, updated.reshape(reference.shape)


def _refractory_filter(pixel: np.ndarray, t: np.ndarray, refractory_us: float) -> np.ndarray:
    """Mask keeping events at least ``refractory_us`` after the same pixel's previous threshold crossing."""
    order = np.lexsort((t, pixel))
    p_sorted, t_sorted = pixel[order], t[order]
    too_soon = np.zeros(len(t), dtype=bool)
    too_soon[1:] = (p_sorted[1:] == p_sorted[:-1]) & (t_sorted[1:] - t_sorted[:-1] < refractory_us)
    keep = np.empty(len(t), dtype=bool)
    keep[order] = ~too_soon
    return keep


def simulate_dvs(video: np.ndarray, frame_times_us: np.ndarray, threshold: float = 0.2,
                 threshold_jitter: float = 0.03, refractory_us: float = 1000.0, noise_hz: float = 0.0,
                 eps: float = 1e-3, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Events of a batch of intensity videos.

    Args:
        video: ``[S, K, H, W]`` (or ``[K, H, W]``) linear intensities >= 0, ``K`` frames per video.
        frame_times_us: ``[K]`` increasing frame times in microseconds (the first frame sets the references).
        threshold: contrast threshold ``C`` on ``log(I + eps)``.
        threshold_jitter: relative standard deviation of the per-pixel thresholds.
        refractory_us: an event closer than this to the pixel's previous threshold crossing is dropped.
        noise_hz: background-activity rate per pixel (events/s, random polarity, uniform in time).
        eps: offset that keeps the log finite in the dark.
        rng: random generator (thresholds, noise); a fixed default seed if ``None``.

    Returns:
        one time-sorted structured event array (:data:`~snnlab.data.events.EVENT_DTYPE`) per video.
    """
    video = np.asarray(video, dtype=np.float64)
    if video.ndim == 3:
        video = video[None]
    if video.ndim != 4:
        raise ValueError(f"video must be [S, K, H, W] or [K, H, W], got shape {video.shape}")
    if (video < 0).any():
        raise ValueError("intensities must be >= 0")
    times = np.asarray(frame_times_us, dtype=np.float64)
    n_videos, n_frames, height, width = video.shape
    if times.shape != (n_frames,) or np.any(np.diff(times) <= 0):
        raise ValueError(f"frame_times_us must be {n_frames} strictly increasing times, got shape {times.shape}")
    rng = rng if rng is not None else np.random.default_rng(0)
    threshold_map = threshold * np.clip(1 + threshold_jitter * rng.standard_normal((n_videos, height, width)), 0.5, 1.5)
    log_video = np.log(video + eps)
    reference = log_video[:, 0].copy()
    pixels, polarities, stamps = [], [], []
    for k in range(1, n_frames):
        index, polarity, fraction, reference = _crossings(log_video[:, k - 1], log_video[:, k], reference,
                                                          threshold_map)
        pixels.append(index)
        polarities.append(polarity)
        stamps.append(times[k - 1] + fraction * (times[k] - times[k - 1]))
    pixel = np.concatenate(pixels)
    polarity = np.concatenate(polarities)
    t = np.concatenate(stamps)
    if refractory_us > 0 and pixel.size:
        keep = _refractory_filter(pixel, t, refractory_us)
        pixel, polarity, t = pixel[keep], polarity[keep], t[keep]
    if noise_hz > 0:
        duration_s = (times[-1] - times[0]) / 1e6
        n_noise = rng.poisson(noise_hz * duration_s * height * width * n_videos)
        pixel = np.concatenate([pixel, rng.integers(0, n_videos * height * width, n_noise)])
        polarity = np.concatenate([polarity, rng.integers(0, 2, n_noise).astype(np.int8)])
        t = np.concatenate([t, rng.uniform(times[0], times[-1], n_noise)])
    video_index, rest = np.divmod(pixel, height * width)
    y, x = np.divmod(rest, width)
    t = np.round(t - times[0]).astype(np.int64)
    order = np.argsort(video_index, kind="stable")
    counts = np.bincount(video_index, minlength=n_videos)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [make_events(x[order[a:b]], y[order[a:b]], t[order[a:b]], polarity[order[a:b]])
            for a, b in zip(bounds[:-1], bounds[1:])]
