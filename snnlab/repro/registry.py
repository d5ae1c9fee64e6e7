"""The reproduction registry and the runner that turns a reproduction + preset into a results file."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..reproducibility import environment_info
from .results import paired_effect, result_path, summarise, write_result

__all__ = ["PRESETS", "PaperVariant", "Reproduction", "register", "get_reproduction", "reproduction_names", "run",
           "recorded_run"]

PRESETS = ("smoke", "book", "paper")
"""``smoke``: seconds, for tests; ``book``: embedded data on a 2-core CPU (the notebooks' default);
``paper``: the paper's data, architecture and schedule, for a GPU."""


@dataclass(frozen=True)
class PaperVariant:
    """Another of the paper's settings (a further data set, architecture or time steps), run at the ``paper``
    preset with ``variant=<name>``; ``paper_result`` is the paper's number for it."""

    settings: dict
    paper_result: dict | None = None


@dataclass(frozen=True)
class Reproduction:
    """A paper's claim, how to test it at each preset, and the function that runs one seed.

    ``run_seed(settings, seed, progress)`` returns ``{arm: {"final": metric, "curve": [metric per epoch]}}``, and
    optionally ``"metrics": {name: value}`` per arm (further scalar results, summarised over seeds like ``final``);
    ``arms[0]`` is the paper's method and ``arms[1]`` the baseline it is compared with; further arms (ablations,
    a teacher) are reported alongside.
    """

    name: str
    paper: str
    claim: str
    metric: str
    arms: tuple[str, ...]
    presets: dict[str, dict]
    run_seed: Callable[[dict, int, bool], dict]
    paper_result: dict | None = None
    equivalence: float | None = None
    """For a claim of equality (e.g. lossless conversion): the largest tolerated per-seed difference between
    ``arms[0]`` and ``arms[1]`` (see :func:`~snnlab.repro.results.paired_effect`)."""
    variants: dict[str, PaperVariant] = field(default_factory=dict)
    """The paper's further settings beside the ``paper`` preset's, by name."""

    def settings(self, preset: str, variant: str | None = None) -> dict:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
        if variant is None:
            return self.presets[preset]
        return self._variant(preset, variant).settings

    def target(self, preset: str, variant: str | None = None) -> dict | None:
        """The paper's result a run of ``preset`` (and ``variant``) is compared with."""
        return self.paper_result if variant is None else self._variant(preset, variant).paper_result

    def _variant(self, preset: str, variant: str) -> PaperVariant:
        if preset != "paper":
            raise ValueError(f"variants are settings of the paper preset; got preset {preset!r} with variant "
                             f"{variant!r}")
        if variant not in self.variants:
            raise ValueError(f"unknown variant {variant!r} of {self.name!r}; available: "
                             f"{', '.join(sorted(self.variants)) or 'none'}")
        return self.variants[variant]


_REGISTRY: dict[str, Reproduction] = {}


def register(reproduction: Reproduction) -> Reproduction:
    missing = set(PRESETS) - set(reproduction.presets)
    if missing:
        raise ValueError(f"reproduction {reproduction.name!r} lacks presets {sorted(missing)}")
    _REGISTRY[reproduction.name] = reproduction
    return reproduction


def reproduction_names() -> list[str]:
    return sorted(_REGISTRY)


def get_reproduction(name: str) -> Reproduction:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown reproduction {name!r}; available: {', '.join(reproduction_names())}") from None


def _summarise_arm(results: list[dict]) -> dict:
    """One arm over seeds: ``final`` summarised (mean, std, per seed), the curves, and each extra metric summarised."""
    arm = {**summarise([r["final"] for r in results]), "curves": [r["curve"] for r in results]}
    if "metrics" in results[0]:
        arm["metrics"] = {key: summarise([r["metrics"][key] for r in results]) for key in results[0]["metrics"]}
    return arm


def run(name: str, preset: str = "book", seeds: int | None = None, out: str | None = "results",
        progress: bool = True, variant: str | None = None) -> dict:
    """Run reproduction ``name`` at ``preset`` over ``seeds`` seeds (default: the preset's), write and return the record.

    ``variant`` picks one of the paper's further settings (:attr:`Reproduction.variants`; ``paper`` preset only).

    The record holds the paper, the setting, the preset, the metric, per-seed values with mean and std for each arm,
    the paired effect (method − baseline) with its verdict, the wall-clock time, hardware, package versions and the
    git SHA. It is written to ``out/<name>-<preset>[-<variant>].json`` (unless ``out`` is None).
    """
    reproduction = get_reproduction(name)
    settings = reproduction.settings(preset, variant)
    n_seeds = settings["seeds"] if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {n_seeds}")
    start = time.perf_counter()
    per_seed = [reproduction.run_seed(settings, seed, progress) for seed in range(n_seeds)]
    wall = time.perf_counter() - start
    method_arm, baseline_arm = reproduction.arms[:2]
    arms = {arm: _summarise_arm([r[arm] for r in per_seed]) for arm in reproduction.arms}
    env = environment_info()
    record = {
        "name": name,
        "paper": reproduction.paper,
        "claim": reproduction.claim,
        "preset": preset,
        "variant": variant,
        "setting": settings,
        "metric": reproduction.metric,
        "arms": arms,
        "effect": {"of": f"{method_arm} - {baseline_arm}",
                   **paired_effect(arms[method_arm]["per_seed"], arms[baseline_arm]["per_seed"],
                                   reproduction.equivalence)},
        "paper_result": reproduction.target(preset, variant),
        "wall_clock_s": wall,
        "hardware": env["hardware"],
        "versions": env["versions"],
        "python": env["python"],
        "git_sha": env["git_sha"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if out is not None:
        record["path"] = str(write_result(record, out))
    return record


def recorded_run(name: str, preset: str = "book", results: str | Path = "results", rerun: bool = False,
                 progress: bool = True) -> dict:
    """The saved record ``results/<name>-<preset>.json`` when its setting is the preset's (and not ``rerun``);
    otherwise :func:`run` now, without writing. ``record["source"]`` says which.

    This is how a chapter shows a reproduction that takes longer than a book build should: the record is written
    once by ``snnlab reproduce NAME --preset book`` and read back as long as the preset is unchanged.
    """
    path = result_path(results, name, preset)
    if path.exists() and not rerun:
        saved = json.loads(path.read_text())
        if saved["setting"] == json.loads(json.dumps(get_reproduction(name).settings(preset))):
            return {**saved, "source": str(path)}
    return {**run(name, preset, out=None, progress=progress), "source": "run now"}
