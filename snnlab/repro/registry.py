"""The reproduction registry, the runner that turns a reproduction + preset into a results file, and the assessment
of a record (effect, interval, premise, verdict)."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..data import get_dataset
from ..execution import collect_execution, summarise_execution
from ..names import Registry, did_you_mean
from ..reproducibility import environment_info
from .premise import Premise, arm_gap, arm_value
from .results import paired_effect, result_path, summarise, write_result
from .seed_store import SeedStore, check_writable
from .settings import apply_overrides, json_roundtrip, stale_differences, with_train_options

__all__ = ["PRESETS", "BOOK_SEEDS", "VERDICTS", "PaperVariant", "Premise", "Reproduction", "register",
           "get_reproduction", "reproduction_names", "run", "run_seeds", "recorded_arms", "summarise_arms", "data_summary", "provenance",
           "assess", "check_preset", "preset_setting", "check_presets", "recorded_run", "read_record", "arm_value",
           "arm_gap"]

PRESETS = ("smoke", "book", "paper")
"""``smoke``: seconds, for tests; ``book``: embedded data on a 2-core CPU (the notebooks' default);
``paper``: the paper's data, architecture and schedule, for a GPU."""

BOOK_SEEDS = 5
"""Seeds of every book preset: enough for a Student-t interval with 4 degrees of freedom."""

VERDICTS = ("reproduced", "reversed", "inconclusive", "not reproduced", "premise not met", "premise not measured")
"""Every verdict a record can carry (:func:`assess`)."""


@dataclass(frozen=True)
class PaperVariant:
    """Another of the paper's settings (a further data set, architecture or time steps), run at the ``paper``
    preset with ``variant=<name>``; ``paper_result`` is the paper's number for it."""

    settings: dict
    paper_result: dict | None = None


@dataclass(frozen=True)
class Reproduction:
    """A paper's claim, how to test it at each preset, and the function that runs one seed.

    ``run_seed(settings, seed, progress)`` returns ``{arm: {"final": metric, "curve": [metric per tested epoch]}}``, and
    optionally ``"metrics": {name: value}`` per arm (further scalar results, summarised over seeds like ``final``);
    ``arms[0]`` is the paper's method and ``arms[1]`` the baseline it is compared with; further arms (ablations,
    a teacher) are reported alongside, and so is any arm ``run_seed`` returns beyond the declared ones.
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
    premise: Premise | None = None
    """The condition the claim depends on, measured in every run (required by :func:`register`)."""

    def settings(self, preset: str, variant: str | None = None) -> dict:
        setting = preset_setting(self.presets, preset)
        return setting if variant is None else self._variant(preset, variant).settings

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


def preset_setting(presets: dict[str, dict], preset: str) -> dict:
    """``presets[preset]``; a ``ValueError`` naming the valid presets (and the closest) for one outside
    :data:`PRESETS`."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}{did_you_mean(preset, PRESETS)}")
    return presets[preset]


def check_presets(kind: str, name: str, presets: dict[str, dict]) -> None:
    """Refuse a ``kind`` of entry (a reproduction, a comparison, ...) called ``name`` whose ``presets`` lack one of
    :data:`PRESETS`."""
    missing = set(PRESETS) - set(presets)
    if missing:
        raise ValueError(f"{kind} {name!r} lacks presets {sorted(missing)}")


_REGISTRY = Registry("reproduction")


def register(reproduction: Reproduction) -> Reproduction:
    check_presets("reproduction", reproduction.name, reproduction.presets)
    if reproduction.premise is None:
        raise ValueError(f"reproduction {reproduction.name!r} declares no premise: state the condition its claim "
                         "depends on as a Premise, measured from its arms")
    return _REGISTRY.add(reproduction)


def reproduction_names() -> list[str]:
    return _REGISTRY.names()


def get_reproduction(name: str) -> Reproduction:
    return _REGISTRY.lookup(name)


def _summarise_arm(results: list[dict]) -> dict:
    """One arm over seeds: ``final`` summarised (mean, std, per seed), the curves, and each extra metric summarised."""
    arm = {**summarise([r["final"] for r in results]), "curves": [r["curve"] for r in results]}
    if "metrics" in results[0]:
        arm["metrics"] = {key: summarise([r["metrics"][key] for r in results]) for key in results[0]["metrics"]}
    return arm


def summarise_arms(arms: list[str], per_seed: list[dict]) -> dict:
    """``{arm: its results over the seeds}`` (mean, std and per-seed values of ``final`` and of every metric, the
    curves) from the per-seed results ``[{arm: {"final", "curve"[, "metrics"]}}]``."""
    return {arm: _summarise_arm([result[arm] for result in per_seed]) for arm in arms}


def recorded_arms(name: str, declared: tuple[str, ...], per_seed: list[dict]) -> list[str]:
    """The declared arms, then any further arms every seed returned (e.g. one per value of a setting's sweep)."""
    missing = [arm for arm in declared if any(arm not in result for result in per_seed)]
    if missing:
        raise ValueError(f"{name}: run_seed returned no result for declared arm(s) {missing}")
    extra = [arm for arm in per_seed[0] if arm not in declared and all(arm in r for r in per_seed)]
    return [*declared, *extra]


def data_summary(settings: dict) -> dict:
    """The data a setting trains and tests on: name, split sizes and (where the data set reports one) the content
    checksum of its cache entry, so a record says which version of a generated set it was measured on."""
    options = settings.get("data_options", {})
    splits = {split: get_dataset(settings["dataset"], split, **options) for split in ("train", "test")}
    info = splits["test"].info
    checksum = info.extra.get("checksum") or info.extra.get("cache", {}).get("checksum")
    return {"dataset": settings["dataset"], "train_size": len(splits["train"]), "test_size": len(splits["test"]),
            "checksum": checksum}


def _combined_verdict(difference_verdict: str, premise: dict) -> str:
    """The claim's verdict: the difference's, unless the premise failed (or could not be measured)."""
    if premise["holds"] is None:
        return "premise not measured"
    return difference_verdict if premise["holds"] else "premise not met"


def assess(record: dict) -> dict:
    """``record`` with its ``effect`` and ``premise`` (re)computed from its per-seed arm values by the current rule
    (:func:`~snnlab.repro.results.paired_effect`) and the reproduction's :class:`Premise`, and the paper's result
    it is compared with as the registry states it now (:meth:`Reproduction.target`).

    ``effect["verdict_of_difference"]`` is the interval's verdict; ``effect["verdict"]`` is the claim's: the same,
    or ``"premise not met"`` when the premise does not hold (``"premise not measured"`` when the record lacks an arm
    the premise needs).
    """
    reproduction = get_reproduction(record["name"])
    method_arm, baseline_arm = record["effect"]["of"].split(" - ")
    arms = record["arms"]
    effect = paired_effect(arms[method_arm]["per_seed"], arms[baseline_arm]["per_seed"], reproduction.equivalence)
    premise = reproduction.premise.assess(arms)
    return {**record, "premise": premise,
            "paper_result": reproduction.target(record.get("preset"), record.get("variant")),
            "effect": {"of": record["effect"]["of"], **effect, "test_size": record.get("data", {}).get("test_size"),
                       "verdict_of_difference": effect["verdict"],
                       "verdict": _combined_verdict(effect["verdict"], premise)}}


def run_seeds(name: str, run_seed: Callable[[dict, int, bool], dict], settings: dict, n_seeds: int,
              progress: bool, store: SeedStore | None, resume: bool) -> list[dict]:
    """``run_seed(settings, seed, progress)`` for every seed of a run called ``name``: read back from ``store`` when
    resuming, else trained and saved as it finishes."""
    saved = store.saved_seeds() if store is not None else []
    if saved and not resume:
        raise FileExistsError(f"{store.folder} holds {len(saved)} finished seed(s) of an interrupted run: pass "
                              "resume=True (--resume on the command line) to continue from them, or delete the "
                              "folder to start again")
    results = []
    for seed in range(n_seeds):
        if seed in saved:
            results.append(store.load(seed))
            print(f"{name}: seed {seed} read from {store.folder}", file=sys.stderr)
            continue
        results.append(run_seed(settings, seed, progress))
        if store is not None:
            store.save(seed, results[-1])
    return results


def provenance(wall_clock_s: float, execution: list) -> dict:
    """Where and when a run was made: its wall-clock time, what its training ran on (:mod:`snnlab.execution`), the
    hardware, package versions, Python, git SHA and the creation time."""
    env = environment_info()
    return {"wall_clock_s": wall_clock_s, "execution": summarise_execution(execution), "hardware": env["hardware"],
            "versions": env["versions"], "python": env["python"], "git_sha": env["git_sha"],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run(name: str, preset: str = "book", seeds: int | None = None, out: str | None = "results",
        progress: bool = True, variant: str | None = None, resume: bool = False,
        overrides: dict[str, object] | None = None, device: str | None = None, amp: bool | None = None) -> dict:
    """Run reproduction ``name`` at ``preset`` over ``seeds`` seeds (default: the preset's), write and return the record.

    ``variant`` picks one of the paper's further settings (:attr:`Reproduction.variants`; ``paper`` preset only).

    The record holds the paper, the setting, the preset, the metric, the data (split sizes, checksum), per-seed
    values with mean and std for each arm, the paired effect (method − baseline) with its 95 % interval, minimum
    detectable effect and verdict (:func:`assess`), the premise as measured, the wall-clock time, hardware, package
    versions and the git SHA. It is written to ``out/<name>-<preset>[-<variant>].json`` (unless ``out`` is None).

    With ``out``, the folder is checked writable before anything trains, and each finished seed is saved under
    ``out/<name>-<preset>[-<variant>].partial/`` (:mod:`~snnlab.repro.seed_store`); ``resume=True`` reads those
    back (refusing any of another setting) and trains only the missing seeds. ``wall_clock_s`` then counts only
    this invocation's training.

    ``overrides`` change the preset's setting by dotted keys (:func:`~snnlab.repro.settings.apply_overrides`, e.g.
    ``{"train.epochs": 2}``); the record's setting is the changed one and lists them under ``"overrides"``, so it reads
    as stale against the preset. ``device`` and ``amp`` set where every training run of the setting runs (its and any
    teacher's ``train`` group) without changing the setting; what this invocation's training runs actually ran on —
    devices, AMP, the implementation of every spiking neuron (:mod:`snnlab.execution`) — is stored under
    ``"execution"``.
    """
    reproduction = get_reproduction(name)
    settings = apply_overrides(reproduction.settings(preset, variant), overrides or {})
    n_seeds = settings["seeds"] if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {n_seeds}")
    store = None
    if out is not None:
        check_writable(out)
        store = SeedStore(result_path(out, name, preset, variant).with_suffix(".partial"), settings)
    start = time.perf_counter()
    with collect_execution() as execution:
        per_seed = run_seeds(name, reproduction.run_seed, with_train_options(settings, device=device, amp=amp),
                             n_seeds, progress, store, resume)
    wall = time.perf_counter() - start
    method_arm, baseline_arm = reproduction.arms[:2]
    record = assess({
        "name": name,
        "paper": reproduction.paper,
        "claim": reproduction.claim,
        "preset": preset,
        "variant": variant,
        "setting": json_roundtrip(settings),
        "metric": reproduction.metric,
        "data": data_summary(settings),
        "arms": summarise_arms(recorded_arms(reproduction.name, reproduction.arms, per_seed), per_seed),
        "effect": {"of": f"{method_arm} - {baseline_arm}"},
        "paper_result": reproduction.target(preset, variant),
        "overrides": json_roundtrip(overrides or {}),
        **provenance(wall, execution),
    })
    if out is not None:
        record["path"] = str(write_result(record, out))
        store.remove()
    return record


def read_record(path: str | Path) -> dict:
    """A saved record; ``ValueError`` naming the file when it is truncated or not a record."""
    try:
        record = json.loads(Path(path).read_text())
        if not isinstance(record, dict) or not {"name", "setting", "arms", "effect"} <= set(record):
            raise ValueError("not a reproduction record (name, setting, arms and effect expected)")
    except ValueError as err:
        raise ValueError(f"{path} is not a readable reproduction record ({err}); restore it (git checkout -- {path}) "
                         "or delete it and run the reproduction again") from err
    return record


def check_preset(preset: str) -> None:
    """Refuse a preset outside :data:`PRESETS`; print a warning when ``preset`` is ``"paper"`` and no CUDA device is
    present (the paper presets train for hours on a GPU). Notebooks call it first, so the warning is their first
    output."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}{did_you_mean(preset, PRESETS)}")
    import torch

    if preset == "paper" and not torch.cuda.is_available():
        print("WARNING: preset = 'paper' on a machine without a CUDA GPU. The paper presets train for hours on a GPU "
              "and far longer on a CPU. On Colab: Runtime > Change runtime type > GPU, then run the notebook again; "
              "elsewhere use preset = 'book'.")


def recorded_run(name: str, preset: str = "book", results: str | Path = "results", rerun: bool = False,
                 progress: bool = True) -> dict:
    """The saved record ``results/<name>-<preset>.json`` (unless ``rerun``), assessed by the current verdict rule;
    :func:`run` now when there is none or ``rerun`` is set. ``record["source"]`` says which.

    A run at the ``book`` or ``paper`` preset is written to ``results`` as it goes: each finished seed is saved under
    ``results/<name>-<preset>.partial/`` and a run started again (a notebook re-run after a lost connection) resumes
    from them; the finished record replaces the saved one. A ``smoke`` run only checks the code: it is not written.

    This is how a chapter shows a reproduction that takes longer than a book build should: the record is written
    once by ``snnlab reproduce NAME --preset book`` and read back. ``record["stale"]`` lists how the record's
    setting differs from the current preset (:func:`~snnlab.repro.settings.stale_differences`); a chapter shows that list rather than
    training for many minutes during a book build, and ``snnlab reproduce NAME --preset book`` brings the record up
    to date.
    """
    path = result_path(results, name, preset)
    settings = get_reproduction(name).settings(preset)
    if path.exists() and not rerun:
        saved = assess(read_record(path))
        return {**saved, "source": str(path), "stale": stale_differences(saved["setting"], settings)}
    out = None if preset == "smoke" else results
    return {**run(name, preset, out=out, progress=progress, resume=out is not None), "source": "run now", "stale": []}
