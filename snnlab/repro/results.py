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
from typing import Callable

from ..io import atomic_write_json

__all__ = ["summarise", "paired_effect", "t_interval", "minimum_detectable_effect", "result_path", "write_result",
           "load_results", "read_result", "metric_bounds", "check_value", "check_seed_result", "check_record_values", "CONFIDENCE",
           "POWER"]

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


def metric_bounds(metric: str) -> tuple[float, float]:
    """The range of a metric's values: ``[0, 100]`` for a percentage (a metric named with ``%``), else the finite
    numbers."""
    return (0.0, 100.0) if "%" in metric else (-math.inf, math.inf)


def check_value(value, where: str, bounds: tuple[float, float] = (-math.inf, math.inf)) -> float:
    """``value`` when it is a finite number within ``bounds``; else a ``ValueError`` naming ``where`` it is."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}, not a finite number")
    if not low <= value <= high:
        raise ValueError(f"{where} is {value!r}, outside the metric's range [{low:g}, {high:g}]")
    return float(value)


def check_seed_result(result: dict, where: str, bounds: tuple[float, float]) -> None:
    """Refuse a seed's result (``{arm: {"final", "curve"[, "metrics"]}}``) whose ``final`` is not a finite number
    within ``bounds`` or whose further metrics are not finite, naming ``where`` (e.g. the run and seed) and the arm."""
    fix = "; it is not saved: fix the training (learning rate, grad_clip) or the metric, then run again"
    if not isinstance(result, dict) or not result:
        raise ValueError(f"{where} returned {result!r}, not {{arm: {{'final': value, 'curve': [...]}}}}{fix}")
    try:
        for arm, values in result.items():
            if not isinstance(values, dict) or "final" not in values:
                raise ValueError(f"{where}: arm {arm!r} has no 'final' value")
            check_value(values["final"], f"{where}: {arm}.final", bounds)
            for name, value in (values.get("metrics") or {}).items():
                check_value(value, f"{where}: {arm}.metrics.{name}")
    except ValueError as err:
        raise ValueError(f"{err}{fix}") from None


def _check_summary(summary, where: str, bounds: tuple[float, float], n: int | None) -> int:
    """Refuse a summary (``{"per_seed", "mean", ...}``) with a value that is not finite or out of ``bounds``, a
    mean that is not the mean of its per-seed values, or (``n``) another number of seeds; its seed count."""
    per_seed = summary.get("per_seed") if isinstance(summary, dict) else None
    if not isinstance(per_seed, list) or not per_seed:
        raise ValueError(f"{where}.per_seed is missing or empty")
    if n is not None and len(per_seed) != n:
        raise ValueError(f"{where}.per_seed has {len(per_seed)} values, the other arms {n}")
    values = [check_value(v, f"{where}.per_seed[{i}]", bounds) for i, v in enumerate(per_seed)]
    mean = check_value(summary.get("mean"), f"{where}.mean", bounds)
    if not math.isclose(mean, sum(values) / len(values), rel_tol=1e-9, abs_tol=1e-9):
        raise ValueError(f"{where}.mean is {mean}, not the mean of its per-seed values ({sum(values) / len(values)})")
    return len(values)


def check_record_values(record: dict, bounds: tuple[float, float]) -> None:
    """Refuse a record with a per-seed value or mean that enters its verdict (every arm's, within ``bounds``; every
    further metric's, finite) and is not a finite number, is out of range or disagrees with the per-seed values, or
    whose arms hold different numbers of seeds; the ``ValueError`` names the field (``arms.<arm>.per_seed[i]``)."""
    arms = record.get("arms")
    if not isinstance(arms, dict) or not arms:
        raise ValueError("the field arms is missing or empty")
    n = None
    for arm, summary in arms.items():
        n = _check_summary(summary, f"arms.{arm}", bounds, n)
        for name, metric in (summary.get("metrics") or {}).items():
            _check_summary(metric, f"arms.{arm}.metrics.{name}", (-math.inf, math.inf), n)


def paired_effect(method: list[float], baseline: list[float], equivalence: float | None = None) -> dict:
    r"""Paired per-seed differences ``method - baseline``: mean, std, t statistic, 95 % interval, MDE and verdict.

    For a claim that the method is better, the verdict follows the interval (module docstring): ``"reproduced"``
    above 0, ``"reversed"`` below 0, ``"inconclusive"`` otherwise. For a claim of equality (``equivalence`` = the
    largest tolerated :math:`|d|`, e.g. 0 for a lossless conversion) it is ``"reproduced"`` when every :math:`|d|`
    is within the tolerance and ``"not reproduced"`` otherwise; the interval is reported, the MDE is not (it
    belongs to a claim of difference). A value that is not a finite number is refused (``ValueError``): NaN would
    otherwise fall outside every interval test and read as a verdict.
    """
    if len(method) != len(baseline):
        raise ValueError(f"paired values need as many method values as baseline values ({len(method)} and "
                         f"{len(baseline)})")
    try:
        diffs = [check_value(m, f"method value {i}") - check_value(b, f"baseline value {i}")
                 for i, (m, b) in enumerate(zip(method, baseline))]
    except ValueError as err:
        raise ValueError(f"{err}: pass finite per-seed values (a NaN would read as a verdict)") from None
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


def read_result(path: str | Path, expected: dict | None = None,
                metric_of: Callable[[dict], str] = lambda record: str(record.get("metric", ""))) -> dict:
    """The saved record at ``path``; a one-line ``ValueError`` naming the file when it is truncated or not a record
    (name, setting, arms and effect expected), when a field differs from ``expected`` (e.g. ``{"name": "tet",
    "preset": "book", "variant": None}``), when its file name is not the one :func:`result_path` gives its name,
    preset and variant, or when a value entering its verdict is not a finite number within the range of its metric
    (``metric_of(record)``; :func:`check_record_values`)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or not {"name", "setting", "arms", "effect"} <= set(record):
            raise ValueError("not a reproduction record (name, setting, arms and effect expected)")
        for key, value in (expected or {}).items():
            if record.get(key) != value:
                raise ValueError(f"its {key} is {record.get(key)!r}, not {value!r}: it is not the record asked for")
        own_name = result_path(".", str(record["name"]), str(record.get("preset")), record.get("variant")).name
        if own_name != path.name:
            raise ValueError(f"it is the record of {own_name}, not of {path.name}")
        check_record_values(record, metric_bounds(metric_of(record)))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable reproduction record ({err}); restore it (git checkout -- {path}) "
                         "or delete it and run the reproduction again") from err
    return record


def load_results(out_dir: str | Path = "results") -> list[dict]:
    """Every result record in ``out_dir`` (each checked by :func:`read_result`), sorted by name and preset."""
    records = [read_result(p) for p in sorted(Path(out_dir).glob("*.json"))]
    return sorted(records, key=lambda r: (r["name"], r["preset"], r.get("variant") or ""))
