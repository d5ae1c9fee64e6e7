r"""``eye``: a SEE-like multimodal single-eye emotion set — intensity (APS) frames and event frames of one recording.

SEE (Zhang et al., SIGGRAPH 2023; used by MSKD, Wang et al., IJCAI 2024) records a volunteer's right eye with a
DAVIS346, which delivers both intensity (APS) frames at about 30 fps and events; the events are released accumulated
over 33 ms, one event frame per APS frame. Seven emotions (angry, disgust, fear, happiness, neutral, sadness,
surprise) are shown under four lighting conditions (normal, overexposure, low light, HDR) that ruin the intensity
frames (clipping, noise, contrast loss) but barely the events. This module is a *synthetic* stand-in for it:

**Scene.** A parametric eye region is rendered analytically (resolution-independent, anti-aliased soft edges):
skin with a smooth texture and a lid crease, the eye opening between an upper and a lower lid curve, sclera with the
upper lid's shadow, iris, pupil and a specular highlight, a dark lash line on the upper lid margin, a fold under the
lower lid, crow's-feet lines at the outer corner, and an eyebrow (height, inner-end tilt, arch, thickness). Each of
16 training and 8 test *subjects* (disjoint) has its own geometry and tones (eye position, size and lid heights,
iris size and tone, skin and brow tone, brow height, arch and thickness).

**Expressions.** Each emotion drives facial actions with a per-sequence amplitude (0.6-1.15), onset (0.03-0.2 s),
rise time and optional partial release:

=========== =========================================================================================
angry       brows lowered, inner ends pulled down, lids narrowed, slight lower-lid tension
disgust     brows lowered, strong lower-lid raise
fear        brows raised with inner ends raised, lids wide, more saccades (rate 2 vs 0.5 per sequence)
happiness   lower lid raised by the cheek (squint), crow's feet at the outer corner
neutral     small random movements only (blinks and saccades as in every class)
sadness     inner brow raised, upper lid droops, gaze down
surprise    brows raised high, lids wide, fast onset (50-120 ms rise)
=========== =========================================================================================

and any class may blink (Poisson, 0.35 per sequence), make saccades, and drift (head motion). The apexes of
angry/disgust, fear/surprise and happiness/disgust overlap once amplitude and subject variation are added, so the
time course (onset speed, which features move) carries part of the label.

**Sensors.** The scene reflectance :math:`R(x, t)` is lit by a per-condition illumination field
:math:`L(x)` (mild vignetting everywhere; ``normal``: level 0.8-1.1; ``overexposure``: 3-4.5; ``low-light``:
0.02-0.05; ``HDR``: a sharp spatial gradient from 0.04-0.1 to 2.5-4 across a random line), giving radiance
:math:`I = R L`. It is rendered every 33.3/8 ms. The *event* sensor is :func:`~snnlab.data.dvs.simulate_dvs` on
:math:`I` (contrast threshold 0.15 on :math:`\log(I + 10^{-3})`, 3% threshold mismatch, 1 ms refractory period): a
global or static gain cancels in the log, so events change little across conditions, except more background
activity in low light (2 Hz/pixel vs 0.5; 1 in HDR) and some loss of contrast where :math:`I` nears the
:math:`10^{-3}` floor. The *APS* sensor integrates :math:`I` over each 33.3 ms frame (global shutter, so fast motion
blurs), converts it to electrons (full well 1000 e⁻ at :math:`I = 1`), adds Poisson shot noise and 4 e⁻ read noise,
clips at the full well and quantises to 8 bits; in low light the camera then applies a digital gain
(:math:`0.4 / \bar L`), which amplifies the noise and the quantisation steps. So: overexposure saturates skin,
sclera and iris; low light leaves a few electrons per pixel (SNR ≈ 3 on skin); HDR clips one part of the frame and
crushes the other.

**Clips.** A sequence has ``sequence_frames`` APS frames (default 16, 0.53 s) and as many event frames, event frame
``k`` accumulating the events of APS frame ``k``'s exposure window ``[k, k+1) × 33.3 ms`` (per pixel and polarity
counts, channel 0 = OFF, 1 = ON). Samples are SEEN-style clips of ``timesteps`` frames taken every ``stride`` frames
(:func:`~snnlab.data.see.clip_indices`): random phase and start in training (torch's global RNG, which snnlab's
Trainer seeds per epoch); at test time a fixed centred clip by default, or with ``random_crop=True`` a random clip
seeded by ``(test_seed, index)`` as in SEEN's repeated test passes. Everything here is synthetic.

**Splits.** By default 420 training and 1,008 test sequences (60 / 144 per class, 15 / 36 per class and condition):
a large test split, so that one test clip moves the accuracy by only 0.1 percentage points. Each split is designed
and recorded from its own random streams (the training split from ``seed``, the test split from a seed derived from
it), so the training sequences do not depend on the size of the test split.

**Measured (default options, seed 0; 2-core CPU).** Generation ≈ 19 s, cached npz ≈ 29 MB (27 MiB) for the 420 train
/ 1,008 test sequences. On the same 14 sequences recorded under every condition: saturated APS pixels 0% (normal) vs
93% (overexposure); correlation of APS frames with the clean scene 0.96 (normal), 0.66 (overexposure), 0.54 (low
light), 0.17 (HDR); event counts under overexposure / HDR / low light (without background noise) 1.00 / 0.98 / 0.89
× normal. Baselines (test accuracy, 30 epochs, chance 14%; measured on generator version 4, whose test split had 196
sequences): a spiking VGG-9 (width ×0.25, LIF, TET) reaches 66-67% on event clips (2 seeds; 59-78% per condition)
but 21% on raw intensity clips and 37% on per-clip standardised ones (65% normal, 37% overexposure, 35% low light,
10% HDR); a SmallCNN ANN on the 4 time-stacked frames gets 65% (events) vs 54% (intensity; 71% normal, 37%
overexposure). Emotions differ mostly in how features move, which events encode directly; one intensity frame is
weak evidence across subjects.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .cache import cached_arrays
from .dvs import simulate_dvs
from .events import EVENT_DTYPE, FrameSpec, events_to_frames, split_events, time_major_collate
from .registry import DatasetInfo, register_dataset
from .see import CONDITIONS, EMOTIONS, clip_indices

__all__ = ["eye", "EyeClips", "generate_eye", "render_eye", "sample_scenes", "illumination", "aps_frames",
           "EMOTIONS", "CONDITIONS", "MODALITIES", "FRAME_US", "SUBSTEPS", "FULL_WELL", "DVS_NOISE_HZ"]

MODALITIES = ("both", "frames", "events")
"""What a sample holds: a dict of both streams, or only the intensity frames, or only the event frames."""
FRAME_US = 33_333               # APS frame period and event accumulation window (30 fps, SEE's 33 ms)
SUBSTEPS = 8                    # scene renders per APS frame (the DVS sees this finer time step)
FULL_WELL = 1000.0              # APS electrons at radiance 1 (saturation)
READ_NOISE = 4.0                # APS read noise, electrons (std)
DVS_THRESHOLD = 0.15
DVS_NOISE_HZ = {"normal": 0.5, "overexposure": 0.5, "low-light": 2.0, "HDR": 1.0}
"""Background-activity rate of the event sensor per lighting condition (events/s/pixel; real DVS pixels leak more
noise events in the dark)."""
TRAIN_SUBJECTS, TEST_SUBJECTS = 16, 8
_UNIT = 32.0                    # scene coordinates: the frame spans [0, 32) x [0, 32) at every resolution
_CHUNK = 48
_VERSION = 5                    # 5: test split from its own random streams, default 144 test sequences per class

# Action targets per emotion at full amplitude: brow raise (units up), inner-brow raise (units, inner end),
# upper-lid opening change (relative), lower-lid raise (0-1), gaze down (units), crow's feet (0-1).
_ACTIONS = {
    "angry": (-2.4, -2.0, -0.35, 0.40, 0.0, 0.0),
    "disgust": (-1.6, -0.6, -0.25, 1.00, 0.0, 0.3),
    "fear": (2.2, 1.8, 0.45, 0.30, 0.0, 0.0),
    "happiness": (0.3, 0.0, -0.15, 0.90, 0.0, 1.0),
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "sadness": (0.2, 2.2, -0.40, 0.10, 1.2, 0.0),
    "surprise": (3.2, 0.3, 0.55, -0.10, 0.0, 0.0),
}
_RISE_S = {"surprise": (0.05, 0.12), "fear": (0.10, 0.20)}     # others: (0.15, 0.35)
_NEUTRAL_JITTER = np.array([0.35, 0.30, 0.06, 0.10, 0.20, 0.0])


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _smoothstep(s):
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


# ------------------------------------------------------------------------------------------------------ scenes
def _subject_table(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-subject geometry and tones (scene units: the frame is 32 x 32 units)."""
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    return {
        "cx": 16 + u(-1.5, 1.5), "cy": 19 + u(-1.5, 1.5), "a": u(9.0, 11.5), "hu0": u(4.0, 6.3), "hl0": u(2.2, 3.6),
        "r_iris": u(3.5, 4.6), "pupil": u(0.35, 0.5), "skin": u(0.42, 0.72), "sclera": u(0.82, 0.95),
        "iris_tone": u(0.15, 0.5), "brow_d": u(8.5, 11.5), "brow_th": u(1.8, 3.0), "brow_tone": u(0.08, 0.3),
        "brow_arch": u(0.5, 2.0), "brow_off": u(-1.5, 1.5), "lash_th": u(0.9, 1.6), "lash_tone": u(0.04, 0.12),
        "tex_f": rng.uniform(0.4, 1.6, (n, 6, 2)) * rng.choice([-1, 1], (n, 6, 2)),
        "tex_phase": rng.uniform(0, 2 * np.pi, (n, 6)), "tex_amp": u(0.02, 0.05),
    }


def sample_scenes(labels: np.ndarray, subjects: np.ndarray, seed: int, frames: int = 16) -> dict[str, np.ndarray]:
    """The scene of every sequence: subject geometry and action trajectories on the render time grid.

    Depends only on ``(labels, subjects, seed, frames)``, never on the lighting condition, so one sequence can be
    "recorded" under several conditions. Trajectories are ``[S, frames * SUBSTEPS + 1]`` arrays.
    """
    labels, subjects = np.asarray(labels, dtype=np.int64), np.asarray(subjects, dtype=np.int64)
    if labels.shape != subjects.shape:
        raise ValueError(f"labels {labels.shape} and subjects {subjects.shape} must have the same shape")
    if labels.size and (labels.min() < 0 or labels.max() >= len(EMOTIONS)):
        raise ValueError(f"labels must be in [0, {len(EMOTIONS)}), got {labels.min()}..{labels.max()}")
    n = len(labels)
    table = _subject_table(int(subjects.max()) + 1 if n else 1, np.random.default_rng([seed, 0]))
    rng = np.random.default_rng([seed, 1])
    scene = {k: v[subjects] for k, v in table.items()}
    # small per-sequence jitter of the placement (the camera is not fixed to the head)
    scene["cx"] = scene["cx"] + rng.normal(0, 0.4, n)
    scene["cy"] = scene["cy"] + rng.normal(0, 0.4, n)
    t = np.arange(frames * SUBSTEPS + 1) * (FRAME_US / SUBSTEPS) / 1e6          # seconds
    targets = np.array([_ACTIONS[EMOTIONS[c]] for c in labels]).reshape(n, 6)
    amplitude = rng.uniform(0.6, 1.15, (n, 1))
    au = amplitude * targets * rng.uniform(0.8, 1.2, (n, 6))
    neutral = labels == EMOTIONS.index("neutral")
    au[neutral] = rng.normal(0, 1, (int(neutral.sum()), 6)) * _NEUTRAL_JITTER
    onset = rng.uniform(0.03, 0.2, (n, 1))
    lo_hi = np.array([_RISE_S.get(EMOTIONS[c], (0.15, 0.35)) for c in labels]).reshape(n, 2)
    rise = rng.uniform(lo_hi[:, :1], lo_hi[:, 1:])
    hold = rng.uniform(0.05, 0.3, (n, 1))
    release = rng.uniform(0, 0.6, (n, 1)) * (rng.random((n, 1)) < 0.5)
    envelope = _smoothstep((t - onset) / rise) - release * _smoothstep((t - onset - rise - hold) / 0.15)
    actions = au[:, :, None] * envelope[:, None, :]                                   # [S, 6, Ts]
    scene.update(brow_raise=actions[:, 0], brow_inner=actions[:, 1], open=1 + actions[:, 2],
                 lower_raise=np.clip(actions[:, 3], -0.2, 1.0), gaze_down=actions[:, 4], crow=actions[:, 5])
    # blinks (any class)
    blink = np.zeros((n, len(t)))
    n_blinks = np.minimum(rng.poisson(0.35, n), 2)
    for b in range(2):
        tb, db = rng.uniform(0.0, 0.45, (n, 1)), rng.uniform(0.10, 0.18, (n, 1))
        bump = np.where((t >= tb) & (t <= tb + db), np.sin(np.pi * (t - tb) / db) ** 2, 0.0)
        blink = np.maximum(blink, bump * (n_blinks[:, None] > b))
    scene["blink"] = blink
    # gaze: resting direction plus saccades (more in fear); fast (~25 ms) smooth steps
    rate = np.where(labels == EMOTIONS.index("fear"), 2.0, 0.5)
    gx = np.tile(rng.normal(0, 0.5, (n, 1)), (1, len(t)))
    gy = np.tile(rng.normal(0, 0.3, (n, 1)), (1, len(t)))
    n_sacc = np.minimum(rng.poisson(rate), 4)
    for s in range(4):
        ts, step = rng.uniform(0, 0.5, (n, 1)), rng.uniform(0.4, 1.2, (n, 2)) * rng.choice([-1, 1], (n, 2))
        ramp = _smoothstep((t - ts) / 0.025) * (n_sacc[:, None] > s)
        gx, gy = gx + step[:, :1] * ramp, gy + 0.4 * step[:, 1:] * ramp
    scene["gx"], scene["gy"] = gx, gy + scene["gaze_down"]
    # head drift: a smoothed random walk, up to about half a unit
    walk = np.cumsum(rng.normal(0, 0.025, (n, 2, len(t))), axis=-1)
    kernel = np.ones(9) / 9
    walk = np.apply_along_axis(lambda w: np.convolve(w, kernel, mode="same"), -1, walk)
    scene["hx"], scene["hy"] = walk[:, 0], walk[:, 1]
    scene["t_us"] = t * 1e6
    return scene


def render_eye(scene: dict[str, np.ndarray], size: int, index: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Reflectance videos ``[S, Ts, size, size]`` (float32, in [0, 1]) of the sequences ``index`` of ``scene``.

    Shapes are analytic curves with soft (anti-aliased) edges about a third of a pixel wide, so sub-pixel motion
    changes intensities smoothly, as on a real sensor.
    """
    p = {k: np.asarray(v)[index] for k, v in scene.items() if k != "t_us"}
    f32 = np.float32
    col = lambda k: p[k].astype(f32)[:, None, None, None]          # noqa: E731  per-sample constant
    seq = lambda k: p[k].astype(f32)[:, :, None, None]             # noqa: E731  per-sample trajectory
    e = f32(0.35 * _UNIT / size)                                     # edge softness (scene units)
    grid = ((np.arange(size) + 0.5) * _UNIT / size).astype(f32)
    X = grid[None, None, None, :] - seq("hx")                        # head motion moves everything
    Y = grid[None, None, :, None] - seq("hy")
    cx, cy, a = col("cx"), col("cy"), col("a")
    dx = X - cx
    q2 = np.clip(1 - (dx / a) ** 2, 0, 1)
    inside_x = _sig((a - np.abs(dx)) / e)
    # lids
    hu = col("hu0") * seq("open")
    y_l = cy + col("hl0") * (1 - 0.55 * seq("lower_raise")) * q2
    y_u_open = cy - hu * q2 ** 0.7
    blink = seq("blink")
    y_u = (1 - blink) * y_u_open + blink * (y_l - 0.2)
    m_open = _sig((Y - y_u) / e) * _sig((y_l - Y) / e) * inside_x
    # skin: tone x texture x socket shading, crease, lower fold, crow's feet
    tex = np.zeros(np.broadcast_shapes(X.shape, Y.shape), f32)
    for k in range(p["tex_f"].shape[1]):     # sum of plane waves, cos(fx X + fy Y + ph) split into 1-D factors
        fx = p["tex_f"][:, k, 0].astype(f32)[:, None, None, None]
        fy = p["tex_f"][:, k, 1].astype(f32)[:, None, None, None]
        ph = p["tex_phase"][:, k].astype(f32)[:, None, None, None]
        tex += np.cos(fx * X + ph) * np.cos(fy * Y) - np.sin(fx * X + ph) * np.sin(fy * Y)
    skin = col("skin") * (1 + col("tex_amp") * tex / 2.5)
    skin = skin * (1 - 0.12 * np.exp(-(dx / (1.2 * a)) ** 2 - ((Y - cy + 2) / 7) ** 2))
    y_c = cy - np.maximum(col("hu0") + 2.0, hu + 0.8) * q2 ** 0.7 - 0.3 * np.maximum(seq("brow_raise"), 0)
    wide = _sig((a + 1.0 - np.abs(dx)) / e)
    skin = skin * (1 - 0.25 * np.exp(-((Y - y_c) / 0.7) ** 2) * wide)
    lower = seq("lower_raise")
    y_f = y_l + 2.2 - 0.8 * lower
    skin = skin * (1 - (0.10 + 0.25 * np.clip(lower, 0, 1)) * np.exp(-((Y - y_f) / 0.8) ** 2) * wide)
    crowing = np.flatnonzero(np.abs(p["crow"]).max(axis=1) > 0)   # crow's feet only where they can show
    if crowing.size:
        Xc, Yc = X[crowing], Y[crowing]
        corner_x, corner_y = (cx - a - 0.3)[crowing], cy[crowing]         # outer corner (the inner side is +x)
        crow = np.zeros(np.broadcast_shapes(Xc.shape, Yc.shape), f32)
        for angle in (-0.45, 0.0, 0.45):
            ux, uy = -float(np.cos(angle)), float(np.sin(angle))
            along = (Xc - corner_x) * ux + (Yc - corner_y) * uy
            perp = -(Xc - corner_x) * uy + (Yc - corner_y) * ux
            crow += np.exp(-(perp / 0.45) ** 2) * _sig(along / e) * _sig((3.5 - along) / 0.6)
        skin[crowing] *= 1 - 0.35 * np.clip(seq("crow")[crowing], 0, 1) * np.minimum(crow, 1)
    # eye interior: sclera with the lid's shadow, iris, pupil, highlight
    sclera = col("sclera") * (1 - 0.3 * np.exp(-np.clip(Y - y_u, 0, None) / 1.2))
    ix, iy = cx + seq("gx"), cy + seq("gy")
    d_i = np.sqrt((X - ix) ** 2 + (Y - iy) ** 2)
    r_i = col("r_iris")
    m_iris = _sig((r_i - d_i) / e)
    m_pupil = _sig((r_i * col("pupil") - d_i) / e)
    iris = col("iris_tone") * (0.85 + 0.15 * np.clip(d_i / r_i, 0, 1)) * (1 - m_pupil) + 0.03 * m_pupil
    interior = sclera * (1 - m_iris) + iris * m_iris
    d_h = np.sqrt((X - ix + 0.35 * r_i) ** 2 + (Y - iy + 0.35 * r_i) ** 2)
    m_hl = _sig((0.7 - d_h) / e)
    interior = interior * (1 - m_hl) + m_hl
    radiance = skin * (1 - m_open) + interior * m_open
    # lash line along the upper lid margin
    m_lash = _sig((Y - (y_u - col("lash_th"))) / e) * _sig((y_u + 0.25 - Y) / e) * wide
    radiance = radiance * (1 - m_lash) + col("lash_tone") * m_lash
    # eyebrow: arched band, inner end (+x) tilted by brow_inner, thinner towards the outer end
    a_b = 1.15 * a
    xb = np.clip((dx - col("brow_off")) / a_b, -1.5, 1.5)
    y_b = cy - col("brow_d") - seq("brow_raise") + col("brow_arch") * xb ** 2 - seq("brow_inner") * np.clip(
        (xb + 1) / 2, 0, 1)
    th = col("brow_th") * (1 - 0.35 * np.clip((1 - xb) / 2, 0, 1))
    m_brow = _sig((th / 2 - np.abs(Y - y_b)) / e) * _sig((a_b - np.abs(dx - col("brow_off"))) / 0.8)
    radiance = radiance * (1 - m_brow) + col("brow_tone") * m_brow
    return np.clip(radiance, 0, 1).astype(f32)


# ------------------------------------------------------------------------------------------------------ sensors
def illumination(conditions, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample illumination fields ``[S, size, size]`` and their mean levels ``[S]`` for ``conditions``.

    Every parameter is drawn for every sample whatever its condition, so sample ``i``'s field depends only on
    ``(seed, i, conditions[i])``.
    """
    conditions = list(conditions)
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown lighting condition(s) {unknown}; choose from {CONDITIONS}")
    n = len(conditions)
    rng = np.random.default_rng([seed, 2])
    grid = (np.arange(size) + 0.5) / size - 0.5
    Y, X = np.meshgrid(grid, grid, indexing="ij")
    centre = rng.uniform(-0.2, 0.2, (n, 2, 1, 1))
    vignette = 1 - 0.3 * ((X - centre[:, 0]) ** 2 + (Y - centre[:, 1]) ** 2)
    level = {"normal": rng.uniform(0.8, 1.1, n), "overexposure": rng.uniform(3.0, 4.5, n),
             "low-light": rng.uniform(0.02, 0.05, n)}
    lo, hi = rng.uniform(0.04, 0.1, n), rng.uniform(2.5, 4.0, n)
    angle, offset, width = rng.uniform(0, 2 * np.pi, n), rng.uniform(-0.15, 0.15, n), rng.uniform(0.03, 0.1, n)
    proj = np.cos(angle)[:, None, None] * X + np.sin(angle)[:, None, None] * Y - offset[:, None, None]
    hdr = np.exp(np.log(lo)[:, None, None] + np.log(hi / lo)[:, None, None] * _sig(proj / width[:, None, None]))
    fields = np.empty((n, size, size))
    for i, c in enumerate(conditions):
        fields[i] = vignette[i] * (hdr[i] if c == "HDR" else level[c][i])
    return fields.astype(np.float32), fields.mean(axis=(1, 2))


def aps_frames(radiance: np.ndarray, conditions, levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """8-bit APS frames ``[S, K, H, W]`` from radiance ``[S, K * SUBSTEPS + 1, H, W]`` (global-shutter exposure).

    Frame ``k`` integrates the radiance over renders ``k*SUBSTEPS .. (k+1)*SUBSTEPS - 1``; electrons are
    Poisson(FULL_WELL x exposure), plus Gaussian read noise, clipped at the full well and quantised to 8 bits.
    Low-light frames get a digital gain ``0.4 / level`` after quantisation (noise and quantisation steps amplified).
    """
    s, ts, h, w = radiance.shape
    k = (ts - 1) // SUBSTEPS
    exposure = radiance[:, :k * SUBSTEPS].reshape(s, k, SUBSTEPS, h, w).mean(axis=2, dtype=np.float64)
    electrons = rng.poisson(FULL_WELL * np.clip(exposure, 0, None)).astype(np.float64)
    electrons += READ_NOISE * rng.standard_normal(electrons.shape)
    dn = np.round(np.clip(electrons, 0, FULL_WELL) * (255.0 / FULL_WELL))
    gain = np.array([0.4 / lv if c == "low-light" else 1.0 for c, lv in zip(conditions, levels)])
    return np.clip(np.round(dn * gain[:, None, None, None]), 0, 255).astype(np.uint8)


def generate_eye(labels, conditions, subjects, seed: int = 0, size: int = 32, frames: int = 16,
                 return_radiance: bool = False) -> dict[str, np.ndarray]:
    """Record sequences ``labels`` of ``subjects`` under ``conditions`` with both sensors.

    Returns ``{"aps": uint8 [S, frames, size, size], "events": concatenated EVENT_DTYPE (t in µs from the start of
    frame 0), "counts": [S]}``, plus ``"reflectance"`` (float32 ``[S, frames * SUBSTEPS + 1, size, size]``, the
    clean scene before lighting) if ``return_radiance``. The scene depends on ``(labels, subjects, seed)`` only, so
    the same sequence can be compared across conditions; sensor noise depends also on the conditions.
    """
    labels = np.asarray(labels, dtype=np.int64)
    conditions = [str(c) for c in conditions]
    if len(conditions) != len(labels):
        raise ValueError(f"{len(labels)} labels but {len(conditions)} conditions")
    if size < 8 or frames < 1:
        raise ValueError(f"size must be >= 8 and frames >= 1, got size={size}, frames={frames}")
    scene = sample_scenes(labels, subjects, seed, frames)
    fields, levels = illumination(conditions, size, seed)
    aps_rng = np.random.default_rng([seed, 3])
    n = len(labels)
    aps = np.empty((n, frames, size, size), np.uint8)
    streams: list[np.ndarray] = [np.empty(0, EVENT_DTYPE)] * n
    reflectance = np.empty((n, frames * SUBSTEPS + 1, size, size), np.float32) if return_radiance else None
    cond_arr = np.array(conditions)
    for condition in CONDITIONS:                   # one DVS noise rate per call: chunk within a condition
        members = np.flatnonzero(cond_arr == condition)
        for start in range(0, len(members), _CHUNK):
            idx = members[start:start + _CHUNK]
            refl = render_eye(scene, size, idx)
            if reflectance is not None:
                reflectance[idx] = refl
            radiance = refl * fields[idx, None]
            aps[idx] = aps_frames(radiance, [condition] * len(idx), levels[idx], aps_rng)
            dvs_rng = np.random.default_rng([seed, 4, int(idx[0])])
            for i, events in zip(idx, simulate_dvs(radiance, scene["t_us"], threshold=DVS_THRESHOLD,
                                                   noise_hz=DVS_NOISE_HZ[condition], rng=dvs_rng)):
                streams[i] = events
    out = {"aps": aps, "events": np.concatenate(streams).astype(EVENT_DTYPE),
           "counts": np.array([len(s) for s in streams], dtype=np.int64)}
    if reflectance is not None:
        out["reflectance"] = reflectance
    return out


def _design(per_class: int, subjects: np.ndarray, rng: np.random.Generator):
    """Labels, conditions (balanced within every class) and subjects of one split."""
    labels = np.repeat(np.arange(len(EMOTIONS)), per_class)
    conditions = np.tile(np.arange(per_class) % len(CONDITIONS), len(EMOTIONS))
    return labels, conditions, rng.choice(subjects, len(labels))


def _test_seed(seed: int) -> int:
    """The seed of the test sequences' own random streams (the training sequences use ``seed`` itself)."""
    return int(np.random.SeedSequence([seed, 6]).generate_state(1)[0])


def _build(train_per_class: int, test_per_class: int, size: int, frames: int, seed: int) -> dict[str, np.ndarray]:
    """Training sequences (design and recording) from ``seed``, test sequences from their own streams: each split
    depends only on its own size (and ``seed``), so enlarging the test split leaves the training split unchanged."""
    splits = []
    for per_class, subjects, split_seed, design_key in (
            (train_per_class, np.arange(TRAIN_SUBJECTS), seed, [seed, 5]),
            (test_per_class, TRAIN_SUBJECTS + np.arange(TEST_SUBJECTS), _test_seed(seed), [seed, 5, 1])):
        labels, conditions, subject_ids = _design(per_class, subjects, np.random.default_rng(design_key))
        arrays = generate_eye(labels, [CONDITIONS[c] for c in conditions], subject_ids, split_seed, size, frames)
        arrays.update(labels=labels, conditions=conditions.astype(np.int8), subjects=subject_ids.astype(np.int16))
        splits.append(arrays)
    train, test = splits
    arrays = {key: np.concatenate([train[key], test[key]]) for key in train}
    arrays["is_test"] = np.arange(len(arrays["labels"])) >= len(train["labels"])
    return arrays


# ------------------------------------------------------------------------------------------------------ dataset
class EyeClips(Dataset):
    """Sequences served as ``({"frames": [T, 1, H, W], "events": [T, 2, H, W]}, label)`` float32 clips.

    ``frames`` are APS intensities in [0, 1]; ``events`` per-pixel event counts (channel 0 = OFF, 1 = ON) in the
    33.3 ms window of each selected APS frame. Per-sample metadata: ``conditions`` (lighting, one of
    :data:`CONDITIONS`), ``subjects`` (ids; train and test subjects are disjoint), ``labels``; the raw streams are
    ``events_raw`` and the full 8-bit APS sequences ``aps`` (``[N, K, H, W]`` uint8). ``collate_fn`` batches
    time-major: ``{"frames": [T, N, 1, H, W], "events": [T, N, 2, H, W]}``.
    """

    collate_fn = staticmethod(time_major_collate)

    def __init__(self, aps: np.ndarray, events: list[np.ndarray], labels, conditions, subjects, spec: FrameSpec,
                 timesteps: int, stride: int, random_crop: bool, test_seed: int, modality: str = "both",
                 info: DatasetInfo | None = None):
        self.modality = modality
        self.aps = torch.from_numpy(np.ascontiguousarray(aps))
        self.events_raw = events
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.conditions = list(conditions)
        self.subjects = [int(s) for s in subjects]
        self.spec, self.timesteps, self.stride = spec, timesteps, stride
        self.random_crop, self.test_seed = random_crop, test_seed
        self.train = False                       # set by the builder: training clips use the global RNG
        self.info = info
        self._event_frames: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def event_frames(self) -> torch.Tensor:
        """All event frames, ``[N, K, 2, H, W]`` uint8 counts (computed once, on first use)."""
        if self._event_frames is None:
            k, _, h, w = self.spec.frame_shape
            stacked = np.zeros((len(self), k, 2, h, w), np.uint8)
            for i, events in enumerate(self.events_raw):
                stacked[i] = np.minimum(events_to_frames(events, self.spec), 255)
            self._event_frames = torch.from_numpy(stacked)
        return self._event_frames

    def clip(self, index: int) -> list[int]:
        """The frame numbers of sample ``index``'s clip at this access."""
        n_frames = self.aps.shape[1]
        if not self.random_crop:                 # fixed: the centred clip (looped if the sequence is too short)
            span = (self.timesteps - 1) * self.stride + 1
            sub = list(range(max((n_frames - span) // 2, 0), n_frames, self.stride))[:self.timesteps]
            return [sub[i % len(sub)] for i in range(self.timesteps)]
        generator = None
        if not self.train:
            seed = int(np.random.SeedSequence([self.test_seed, index]).generate_state(1, np.uint64)[0] >> 1)
            generator = torch.Generator().manual_seed(seed)
        return clip_indices(list(range(n_frames)), self.timesteps, self.stride, generator)

    def __getitem__(self, index: int):
        numbers = torch.tensor(self.clip(index))
        sample = {}
        if self.modality in ("both", "frames"):
            sample["frames"] = self.aps[index, numbers].float().div_(255.0).unsqueeze(1)
        if self.modality in ("both", "events"):
            sample["events"] = self.event_frames[index, numbers].float()
        return (sample if self.modality == "both" else sample[self.modality]), self.labels[index]


def _condition_filter(condition) -> set[str] | None:
    if condition is None:
        return None
    wanted = [condition] if isinstance(condition, str) else list(condition)
    lookup = {c.lower(): c for c in CONDITIONS} | {"overexposed": "overexposure", "low": "low-light",
                                                    "lowlight": "low-light"}
    bad = [c for c in wanted if str(c).lower() not in lookup]
    if bad:
        raise ValueError(f"unknown lighting condition(s) {bad}; choose from {CONDITIONS} (or None for all)")
    return {lookup[str(c).lower()] for c in wanted}


@register_dataset("eye")
def eye(split: str, timesteps: int = 4, stride: int = 4, size: int = 32, condition=None, train_per_class: int = 60,
        test_per_class: int = 144, sequence_frames: int = 16, random_crop: bool | None = None, test_seed: int = 0,
        modality: str = "both", seed: int = 0) -> EyeClips:
    """SEE-like single-eye emotion clips with intensity (APS) and event frames of the same synthetic recording.

    Seven emotions (:data:`EMOTIONS`, SEE's order), ``train_per_class`` / ``test_per_class`` sequences of
    ``sequence_frames`` frames at 30 fps, rendered at ``size`` x ``size`` (default 60 / 144: 420 training and 1,008
    test sequences, 15 / 36 per class and condition); lighting conditions (:data:`CONDITIONS`) cycle within each
    class (balanced when the per-class counts are multiples of 4); train and test subjects are disjoint. Each split
    is generated from its own random streams, so the training sequences do not depend on ``test_per_class``.
    ``condition`` keeps one condition (or a list of them). A sample is a clip of ``timesteps`` frames every
    ``stride`` frames (SEEN: 4 and 4): random in training; at test the centred clip unless ``random_crop=True``
    (then a random clip seeded by ``(test_seed, index)``). ``random_crop=None`` means "random for train, fixed for
    test". Samples are ``({"frames": [T, 1, H, W], "events": [T, 2, H, W]}, label)`` with ``modality="both"``, or
    just the one tensor with ``modality="frames"`` / ``"events"``; use ``dataset.collate_fn``. Generated once per
    ``(size, sequence_frames, per-class counts, seed)`` and cached.
    """
    if timesteps < 1 or stride < 1:
        raise ValueError(f"timesteps and stride must be >= 1, got timesteps={timesteps}, stride={stride}")
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    if sequence_frames < 1 or train_per_class < 1 or test_per_class < 1:
        raise ValueError("sequence_frames, train_per_class and test_per_class must be >= 1")
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
    wanted = _condition_filter(condition)
    params = {"size": size, "frames": sequence_frames, "train_per_class": train_per_class,
              "test_per_class": test_per_class, "seed": seed}
    entry = cached_arrays("eye", params, lambda: _build(train_per_class, test_per_class, size, sequence_frames, seed),
                          version=_VERSION)
    names = np.array(CONDITIONS)[entry["conditions"]]
    keep = (entry["is_test"] == (split == "test"))
    if wanted is not None:
        keep &= np.isin(names, sorted(wanted))
    index = np.flatnonzero(keep)
    streams = split_events(entry["events"], entry["counts"])
    spec = FrameSpec(sensor_size=(size, size), duration_us=sequence_frames * FRAME_US, time_window_us=FRAME_US)
    train = split == "train"
    dataset = EyeClips(entry["aps"][index], [streams[i] for i in index], entry["labels"][index], names[index],
                       entry["subjects"][index], spec, timesteps, stride,
                       random_crop=train if random_crop is None else bool(random_crop), test_seed=test_seed,
                       modality=modality)
    dataset.train = train
    counts = {c: int((names[index] == c).sum()) for c in CONDITIONS}
    shapes = {"frames": (timesteps, 1, size, size), "events": (timesteps, 2, size, size)}
    dataset.info = DatasetInfo(
        name="eye", classes=EMOTIONS, sample_shape=shapes.get(modality, shapes["frames"]), time_major=True,
        description="SEE-like single-eye emotions: synthetic APS + DVS recordings under four lighting conditions",
        extra={"modality": modality, "modalities": shapes,
               "conditions": CONDITIONS, "condition_counts": counts, "condition_filter": sorted(wanted or CONDITIONS),
               "fps": 1e6 / FRAME_US, "accumulation_ms": FRAME_US / 1000, "sensor_size": (size, size),
               "sequence_frames": sequence_frames, "timesteps": timesteps, "stride": stride,
               "random_crop": dataset.random_crop, "test_seed": test_seed, "subjects": sorted(set(dataset.subjects)),
               "dvs_noise_hz": dict(DVS_NOISE_HZ), "checksum": entry.checksum,
               "cache": entry.summary()},
    )
    return dataset
