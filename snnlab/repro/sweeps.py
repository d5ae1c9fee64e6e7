"""Sweeps: one quantity of a reproduction's setting varied over a list of values, every point over several seeds.

A :class:`Sweep` names the reproduction whose preset it starts from, the values per preset, and a function that
trains one point for one seed and returns a metric per series (e.g. ``{"ssnn": 88.1, "baseline": 86.0}``).
:func:`run_sweep` writes ``results/sweeps/<name>-<preset>.json`` (``snnlab sweep NAME --preset book``);
:func:`recorded_sweep` is what a chapter calls: the saved record (with how it differs from the current preset), or a
fresh run (not written) when there is none.
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
from .registry import get_reproduction, provenance
from .settings import json_roundtrip, stale_differences
from .results import summarise

__all__ = ["Sweep", "register_sweep", "get_sweep", "sweep_names", "run_sweep", "recorded_sweep", "SWEEP_DIR"]

SWEEP_DIR = Path("results") / "sweeps"


@dataclass(frozen=True)
class Sweep:
    """``run_point(settings, value, seed, progress) -> {series: metric}``; ``values`` per preset."""

    name: str
    reproduction: str
    parameter: str
    values: dict[str, tuple]
    run_point: Callable[[dict, object, int, bool], dict[str, float]]
    description: str = ""

    def values_for(self, preset: str) -> list:
        get_reproduction(self.reproduction).settings(preset)           # validates the preset
        if preset not in self.values:
            raise ValueError(f"sweep {self.name!r} has no values for preset {preset!r}; available: "
                             f"{', '.join(self.values)}")
        return json_roundtrip(list(self.values[preset]))


_SWEEPS = Registry("sweep")


def register_sweep(item: Sweep) -> Sweep:
    return _SWEEPS.add(item)


def sweep_names() -> list[str]:
    return _SWEEPS.names()


def get_sweep(name: str) -> Sweep:
    return _SWEEPS.lookup(name)


def run_sweep(name: str, preset: str = "book", seeds: int | None = None, out: str | Path | None = SWEEP_DIR,
              progress: bool = True) -> dict:
    """Run sweep ``name`` at ``preset`` for ``seeds`` seeds (default: the reproduction's preset's) and return the
    record ``{name, parameter, values, setting, series: {series: [summary per value]}, ...}``; written to
    ``out/<name>-<preset>.json`` unless ``out`` is None."""
    sweep = get_sweep(name)
    values = sweep.values_for(preset)
    settings = get_reproduction(sweep.reproduction).settings(preset)
    n_seeds = settings["seeds"] if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {n_seeds}")
    start = time.perf_counter()
    with collect_execution() as execution:
        points = [[sweep.run_point(settings, value, seed, progress) for seed in range(n_seeds)] for value in values]
    series = {key: [summarise([seed_result[key] for seed_result in point]) for point in points]
              for key in points[0][0]}
    record = {"name": name, "reproduction": sweep.reproduction, "description": sweep.description, "preset": preset,
              "parameter": sweep.parameter, "values": values, "setting": json_roundtrip(settings), "seeds": n_seeds,
              "series": series, **provenance(time.perf_counter() - start, execution)}
    if out is not None:
        path = Path(out) / f"{name}-{preset}.json"
        atomic_write_json(record, path)
        record["path"] = str(path)
    return record


def recorded_sweep(name: str, preset: str = "book", results: str | Path = SWEEP_DIR, rerun: bool = False,
                   progress: bool = True) -> dict:
    """The saved record ``results/<name>-<preset>.json`` (unless ``rerun``); otherwise :func:`run_sweep` now, written
    to ``results`` unless the preset is ``smoke`` (a code check). ``record["source"]`` says which; ``record["stale"]`` lists how the saved setting, values or seed count
    differ from the current preset (see :func:`~snnlab.repro.settings.stale_differences`)."""
    sweep = get_sweep(name)
    path = Path(results) / f"{name}-{preset}.json"
    settings = get_reproduction(sweep.reproduction).settings(preset)
    if path.exists() and not rerun:
        saved = json.loads(path.read_text())
        current = {"setting": settings, "values": sweep.values_for(preset), "seeds": settings["seeds"]}
        recorded = {key: saved[key] for key in current}
        return {**saved, "source": str(path), "stale": stale_differences(recorded, current)}
    out = None if preset == "smoke" else results
    return {**run_sweep(name, preset, out=out, progress=progress), "source": "run now", "stale": []}
