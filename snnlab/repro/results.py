"""Reproduction results: summary statistics and machine-readable files under ``results/``."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..io import atomic_write_json

__all__ = ["summarise", "paired_effect", "result_path", "write_result", "load_results"]


def summarise(values: list[float]) -> dict:
    """Per-seed values with mean and sample standard deviation (ddof = 1; 0 for a single seed)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"per_seed": list(values), "mean": mean, "std": std, "n": n}


def paired_effect(method: list[float], baseline: list[float], equivalence: float | None = None) -> dict:
    r"""Paired per-seed differences ``method - baseline`` with the paired t statistic and a verdict.

    :math:`t = \bar d / (s_d / \sqrt n)`. For a claim that the method is better, the verdict is ``"reproduced"``
    when :math:`t \ge 2` (better by at least two standard errors), ``"reversed"`` when :math:`t \le -2`, and
    ``"inconclusive"`` otherwise (also for a single seed). For a claim of equality (``equivalence`` = the largest
    tolerated :math:`|d|`, e.g. 0 for a lossless conversion), it is ``"reproduced"`` when every :math:`|d|` is within
    the tolerance and ``"not reproduced"`` otherwise.
    """
    diffs = [m - b for m, b in zip(method, baseline, strict=True)]
    summary = summarise(diffs)
    se = summary["std"] / math.sqrt(summary["n"]) if summary["n"] > 1 else 0.0
    t = summary["mean"] / se if se > 0 else (math.copysign(math.inf, summary["mean"]) if summary["mean"] and summary["n"] > 1 else 0.0)
    if equivalence is not None:
        verdict = "reproduced" if all(abs(d) <= equivalence for d in diffs) else "not reproduced"
        return {**summary, "t": t, "verdict": verdict, "equivalence": equivalence}
    verdict = "reproduced" if t >= 2 else "reversed" if t <= -2 else "inconclusive"
    return {**summary, "t": t, "verdict": verdict}


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
