"""Demonstrations: a few networks trained with a chapter's setting and measured, for the chapter to show.

A reproduction tests a claim over seeds; a :class:`Demonstration` is what a chapter looks at in trained networks —
one network's accuracy at every number of inference steps, what a trained temporal transformer learned, the energy of
an ANN and its SNN twins — when training them takes longer than a book build should. ``run(settings, progress)``
trains (seed 0) and measures, and returns the measurements as JSON-compatible values. :func:`run_demonstration`
writes ``results/demos/<name>-<preset>.json`` with the setting and where and when it ran (``snnlab demo NAME
--preset book``); :func:`recorded_demonstration` is what a chapter calls: the saved record, with how its setting
differs from the current preset, or a run now when there is none or ``rerun`` is set.
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
from .registry import check_presets, preset_setting, provenance
from .seed_store import check_writable
from .settings import json_roundtrip, stale_differences

__all__ = ["Demonstration", "register_demonstration", "get_demonstration", "demonstration_names", "run_demonstration",
           "recorded_demonstration", "DEMO_DIR"]

DEMO_DIR = Path("results") / "demos"


@dataclass(frozen=True)
class Demonstration:
    """What a chapter measures in networks it trains: ``run(settings, progress)`` trains with a preset's ``settings``
    and returns the measurements (JSON-compatible: numbers, strings, lists and dicts of them)."""

    name: str
    description: str
    presets: dict[str, dict]
    run: Callable[[dict, bool], dict]

    def __post_init__(self):
        check_presets("demonstration", self.name, self.presets)

    def settings(self, preset: str) -> dict:
        return preset_setting(self.presets, preset)


_DEMONSTRATIONS = Registry("demonstration")


def register_demonstration(item: Demonstration) -> Demonstration:
    return _DEMONSTRATIONS.add(item)


def demonstration_names() -> list[str]:
    return _DEMONSTRATIONS.names()


def get_demonstration(name: str) -> Demonstration:
    return _DEMONSTRATIONS.lookup(name)


def _path(out: str | Path, name: str, preset: str) -> Path:
    return Path(out) / f"{name}-{preset}.json"


def run_demonstration(name: str, preset: str = "book", out: str | Path | None = DEMO_DIR,
                      progress: bool = True) -> dict:
    """Run demonstration ``name`` at ``preset`` and return its record: the description, the setting, the
    measurements (``record["measured"]``) and where and when it ran; written to ``out/<name>-<preset>.json`` unless
    ``out`` is None (the folder is checked writable before anything trains)."""
    demonstration = get_demonstration(name)
    settings = demonstration.settings(preset)
    if out is not None:
        check_writable(out)
    start = time.perf_counter()
    with collect_execution() as execution:
        measured = demonstration.run(settings, progress)
    record = {"name": name, "description": demonstration.description, "preset": preset,
              "setting": json_roundtrip(settings), "measured": json_roundtrip(measured),
              **provenance(time.perf_counter() - start, execution)}
    if out is not None:
        path = _path(out, name, preset)
        atomic_write_json(record, path)
        record["path"] = str(path)
    return record


def recorded_demonstration(name: str, preset: str = "book", results: str | Path = DEMO_DIR, rerun: bool = False,
                           progress: bool = True) -> dict:
    """The saved record ``results/<name>-<preset>.json`` (unless ``rerun``), with ``record["stale"]`` listing how its
    setting differs from the current preset; otherwise :func:`run_demonstration` now, written to ``results`` unless
    the preset is ``smoke`` (a code check). ``record["source"]`` says which."""
    path = _path(results, name, preset)
    settings = get_demonstration(name).settings(preset)
    if path.exists() and not rerun:
        saved = json.loads(path.read_text())
        return {**saved, "source": str(path), "stale": stale_differences(saved["setting"], settings)}
    out = None if preset == "smoke" else results
    return {**run_demonstration(name, preset, out=out, progress=progress), "source": "run now", "stale": []}
