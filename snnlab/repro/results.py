r"""Reproduction results: summary statistics, the verdict rule, and machine-readable files under ``results/``.

The verdict on a claim that a method beats its baseline rests on the paired per-seed differences
:math:`d_i = m_i - b_i` (same seed, data, initialisation and budget), :math:`i = 1..n`: their mean :math:`\bar d`, their
sample standard deviation :math:`s_d` and the 95 % Student-t confidence interval

.. math:: \bar d \pm t_{0.975,\,n-1}\, s_d / \sqrt n .

*reproduced* when the interval lies above 0, *reversed* when it lies below 0, *inconclusive* otherwise (always for a
single seed). The **minimum detectable effect** (MDE) is the smallest true mean difference :math:`\delta` that a run
with the same spread and seed count calls *reproduced* with probability 0.8: the statistic
:math:`\bar d / (s_d/\sqrt n)` then follows a noncentral t distribution with :math:`n-1` degrees of freedom and
noncentrality :math:`\delta\sqrt n / s_d`, and the MDE solves
:math:`P\big(t_{n-1}(\delta\sqrt n/s_d) > t_{0.975,\,n-1}\big) = 0.8`. A neutral result with an MDE of 3 points says
"no effect of 3 points or more", not "no effect".
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..io import atomic_write_json

__all__ = ["summarise", "paired_effect", "t_interval", "minimum_detectable_effect", "result_path", "write_result",
           "load_results", "CONFIDENCE", "POWER"]

CONFIDENCE = 0.95
"""Two-sided confidence of the paired-difference interval."""
POWER = 0.8
"""Probability with which a true effect of the minimum detectable size is called reproduced."""


def summarise(values: list[float]) -> dict:
    """Per-seed values with mean and sample standard deviation (ddof = 1; 0 for a single seed)."""
    n = len(values)
    if n == 0:
        raise ValueError("cannot summarise an empty list of per-seed values")
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"per_seed": list(values), "mean": mean, "std": std, "n": n}


def _t_quantile(n: int, confidence: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def t_interval(mean: float, std: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    r"""The Student-t interval :math:`\bar d \pm t_{(1+c)/2,\,n-1}\, s/\sqrt n`; ``None`` for fewer than two values."""
    if n < 2:
        return None
    half = _t_quantile(n, confidence) * std / math.sqrt(n)
    return mean - half, mean + half


def minimum_detectable_effect(std: float, n: int, confidence: float = CONFIDENCE, power: float = POWER) -> float | None:
    r"""The smallest true mean difference that the interval rule calls *reproduced* with probability ``power``, for
    ``n`` paired values of standard deviation ``std`` (see the module docstring); ``None`` for fewer than two values.

    Solves :math:`P(T' > t_{(1+c)/2,\,n-1}) = \text{power}` for the noncentrality :math:`\lambda` of
    :math:`T' \sim t_{n-1}(\lambda)` and returns :math:`\lambda\, s / \sqrt n`.
    """
    if n < 2:
        return None
    if std == 0:
        return 0.0
    from scipy import optimize, stats

    critical, df = _t_quantile(n, confidence), n - 1
    noncentrality = optimize.brentq(lambda nc: stats.nct.sf(critical, df, nc) - power, 0.0, 100.0 + 10 * critical,
                                    xtol=1e-12)
    return noncentrality * std / math.sqrt(n)


def paired_effect(method: list[float], baseline: list[float], equivalence: float | None = None) -> dict:
    r"""Paired per-seed differences ``method - baseline``: mean, std, t statistic, 95 % interval, MDE and verdict.

    For a claim that the method is better, the verdict follows the interval (module docstring): ``"reproduced"``
    above 0, ``"reversed"`` below 0, ``"inconclusive"`` otherwise. For a claim of equality (``equivalence`` = the
    largest tolerated :math:`|d|`, e.g. 0 for a lossless conversion) it is ``"reproduced"`` when every :math:`|d|`
    is within the tolerance and ``"not reproduced"`` otherwise; the interval is reported, the MDE is not (it
    belongs to a claim of difference).
    """
    diffs = [m - b for m, b in zip(method, baseline, strict=True)]
    summary = summarise(diffs)
    n, mean, std = summary["n"], summary["mean"], summary["std"]
    se = std / math.sqrt(n) if n > 1 else 0.0
    t = mean / se if se > 0 else (math.copysign(math.inf, mean) if mean and n > 1 else 0.0)
    interval = t_interval(mean, std, n)
    stats = {**summary, "t": t, "df": n - 1, "confidence": CONFIDENCE,
             "ci": None if interval is None else list(interval)}
    if equivalence is not None:
        verdict = "reproduced" if all(abs(d) <= equivalence for d in diffs) else "not reproduced"
        return {**stats, "mde": None, "verdict": verdict, "rule": f"every |difference| <= {equivalence:g}",
                "equivalence": equivalence}
    if interval is None or interval[0] <= 0 <= interval[1]:
        verdict = "inconclusive"
    else:
        verdict = "reproduced" if interval[0] > 0 else "reversed"
    return {**stats, "mde": minimum_detectable_effect(std, n), "power": POWER, "verdict": verdict,
            "rule": f"{CONFIDENCE:.0%} Student-t interval of the paired differences"}


def result_path(out_dir: str | Path, name: str, preset: str, variant: str | None = None) -> Path:
    return Path(out_dir) / (f"{name}-{preset}.json" if variant is None else f"{name}-{preset}-{variant}.json")


def write_result(record: dict, out_dir: str | Path) -> Path:
    """Write ``record`` to ``out_dir/<name>-<preset>[-<variant>].json`` atomically and return the path."""
    path = result_path(out_dir, record["name"], record["preset"], record.get("variant"))
    atomic_write_json(record, path)
    return path


def load_results(out_dir: str | Path = "results") -> list[dict]:
    """Every result record in ``out_dir``, sorted by name and preset."""
    records = [json.loads(p.read_text()) for p in sorted(Path(out_dir).glob("*.json"))]
    return sorted(records, key=lambda r: (r["name"], r["preset"], r.get("variant") or ""))
