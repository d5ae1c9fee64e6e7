"""Comparisons: several methods trained under one setting, each set against the same baseline arm, with no claim.

A reproduction tests one paper's claim (its method against its baseline, with a premise and a verdict). A
:class:`Comparison` asks a question no single paper answers — e.g. how every static-image method of the kit fares
with the same backbone, time steps and training budget — and reports every arm's result over the seeds and its
paired difference from ``baseline`` (mean, 95 % Student-t interval, minimum detectable effect: the statistics of
:func:`~snnlab.repro.results.paired_effect`, without a verdict). :func:`run_comparison` writes
``results/comparisons/<name>-<preset>.json`` (``snnlab compare NAME --preset book``), saving each finished seed so an
interrupted run resumes; :func:`recorded_comparison` is what a chapter calls.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..execution import collect_execution
from ..io import atomic_write_json
from ..names import Registry
from .registry import check_presets, data_summary, preset_setting, provenance, recorded_arms, run_seeds, summarise_arms
from .results import paired_effect
from .seed_store import open_store
from .settings import json_roundtrip, stale_differences

__all__ = ["Comparison", "register_comparison", "get_comparison", "comparison_names", "run_comparison",
           "recorded_comparison", "differences", "COMPARISON_DIR"]

COMPARISON_DIR = Path("results") / "comparisons"


@dataclass(frozen=True)
class Comparison:
    """A question answered by training ``arms`` under one setting per preset.

    ``run_seed(settings, seed, progress)`` returns ``{arm: {"final": metric, "curve": [...], "metrics": {...}}}``
    for every arm of ``arms`` (as a reproduction's does); ``baseline`` is the arm every other is compared with.
    """

    name: str
    question: str
    metric: str
    arms: tuple[str, ...]
    baseline: str
    presets: dict[str, dict]
    run_seed: Callable[[dict, int, bool], dict]

    def __post_init__(self):
        if self.baseline not in self.arms:
            raise ValueError(f"comparison {self.name!r}: the baseline {self.baseline!r} is not one of its arms")
        check_presets("comparison", self.name, self.presets)

    def settings(self, preset: str) -> dict:
        return preset_setting(self.presets, preset)


_COMPARISONS = Registry("comparison")


def register_comparison(item: Comparison) -> Comparison:
    return _COMPARISONS.add(item)


def comparison_names() -> list[str]:
    return _COMPARISONS.names()


def get_comparison(name: str) -> Comparison:
    return _COMPARISONS.lookup(name)


def differences(arms: dict, baseline: str) -> dict:
    """``{arm: paired difference arm - baseline}`` over the seeds for every arm but ``baseline``: mean, std, t, 95 %
    interval and minimum detectable effect (:func:`~snnlab.repro.results.paired_effect` without its verdict)."""
    base = arms[baseline]["per_seed"]
    return {arm: {key: value for key, value in paired_effect(summary["per_seed"], base).items()
                  if key not in ("verdict", "rule")}
            for arm, summary in arms.items() if arm != baseline}


def _path(out: str | Path, name: str, preset: str) -> Path:
    return Path(out) / f"{name}-{preset}.json"


def run_comparison(name: str, preset: str = "book", seeds: int | None = None, out: str | Path | None = COMPARISON_DIR,
                   progress: bool = True, resume: bool = False) -> dict:
    """Run comparison ``name`` at ``preset`` over ``seeds`` seeds (default: the preset's) and return its record:
    the question, setting, data, every arm over the seeds, every arm's paired difference from the baseline, and where
    and when it ran. Written to ``out/<name>-<preset>.json`` unless ``out`` is None; with ``out``, every finished
    seed is saved under ``out/<name>-<preset>.partial/`` and ``resume=True`` trains only the missing seeds."""
    comparison = get_comparison(name)
    settings = comparison.settings(preset)
    n_seeds = settings["seeds"] if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {n_seeds}")
    seed_list = list(range(n_seeds))
    store = open_store(out, _path(out or ".", name, preset), settings)
    if store is not None and resume and seeds is None:
        seed_list = store.planned_seeds() or seed_list          # the interrupted run's own seeds
    start = time.perf_counter()
    with collect_execution() as execution:
        per_seed = run_seeds(name, comparison.run_seed, settings, seed_list, progress, store, resume)
    arms = summarise_arms(recorded_arms(name, comparison.arms, per_seed), per_seed)
    record = {"name": name, "question": comparison.question, "preset": preset, "setting": json_roundtrip(settings),
              "metric": comparison.metric, "data": data_summary(settings), "baseline": comparison.baseline,
              "arms": arms, "differences": differences(arms, comparison.baseline),
              **provenance(time.perf_counter() - start, execution)}
    if out is not None:
        path = _path(out, name, preset)
        store.finish(lambda: atomic_write_json(record, path), seed_list)
        record["path"] = str(path)
    return record


def recorded_comparison(name: str, preset: str = "book", results: str | Path = COMPARISON_DIR, rerun: bool = False,
                        progress: bool = True) -> dict:
    """The saved record ``results/<name>-<preset>.json`` (unless ``rerun``), with ``record["stale"]`` listing how its
    setting differs from the current preset; otherwise :func:`run_comparison` now, written to ``results`` (and
    resumed from its saved seeds) unless the preset is ``smoke``. ``record["source"]`` says which."""
    path = _path(results, name, preset)
    settings = get_comparison(name).settings(preset)
    if path.exists() and not rerun:
        saved = json.loads(path.read_text())
        return {**saved, "source": str(path), "stale": stale_differences(saved["setting"], settings)}
    out = None if preset == "smoke" else results
    return {**run_comparison(name, preset, out=out, progress=progress, resume=out is not None), "source": "run now",
            "stale": []}
