"""How a SmallCNN training step grows with the number of time steps T and with the batch size.

One training step (as in ``neuron_overhead.py``) of snnlab's SmallCNN (width 16, 16 × 16 inputs, TET's neuron) at
T = 1, 2, 4, 8, 16 (batch 32) and at batch 8 ... 128 (T = 4), each sweep timed interleaved. A least-squares line
``seconds = intercept + slope · x`` is fitted to each sweep; the cost grows linearly when the line fits (R² near 1)
and the per-unit cost ``slope`` is close to ``seconds / x`` at the largest ``x``.
"""
from __future__ import annotations

import numpy as np
import torch

from snnlab.encoding import direct

from neuron_overhead import CASES, stepper
from peers import build_variant
from timing import interleaved_median

STEPS = (1, 2, 4, 8, 16)
BATCHES = (8, 16, 32, 64, 128)


def linear_fit(xs, seconds) -> dict:
    """Least-squares ``seconds = intercept + slope · x`` with its coefficient of determination R²."""
    xs, seconds = np.asarray(xs, dtype=float), np.asarray(seconds, dtype=float)
    slope, intercept = np.polyfit(xs, seconds, 1)
    residual = seconds - (intercept + slope * xs)
    total = seconds - seconds.mean()
    r2 = 1.0 - float(residual @ residual) / float(total @ total) if float(total @ total) > 0 else 1.0
    return {"slope_s": float(slope), "intercept_s": float(intercept), "r2": r2}


def _sweep(name: str, points, make_batch, repeats: int) -> dict:
    case = CASES[name]
    model = build_variant(name, "snnlab", **case["model"])
    steps = {}
    for point in points:
        x_seq, y = make_batch(point, case)
        steps[point] = stepper(model, x_seq, y, lambda out: out.mean(0))
    times = interleaved_median(steps, repeats=repeats)
    seconds = [times[point] for point in points]
    return {"points": list(points), "step_s": seconds, "fit": linear_fit(points, seconds)}


def _batch(batch: int, T: int, case: dict):
    return direct(torch.rand(batch, *case["input"]), T), torch.randint(0, 10, (batch,))


def measure(repeats: int, steps=STEPS, batches=BATCHES, name: str = "small-cnn") -> dict:
    """Step time against T (batch 32) and against the batch size (T = 4), with their linear fits."""
    return {"model": name,
            "time_steps": {"batch": 32, **_sweep(name, steps, lambda T, case: _batch(32, T, case), repeats)},
            "batch_size": {"T": 4, **_sweep(name, batches, lambda b, case: _batch(b, 4, case), repeats)}}
