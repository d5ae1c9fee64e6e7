"""The reproduction registry, the runner that turns a reproduction + preset into a results file, and the assessment
of a record (effect, interval, premise, verdict)."""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from torch import nn

from ..data import get_dataset
from ..execution import collect_execution, summarise_execution
from ..names import Registry, did_you_mean
from ..reproducibility import environment_info, git_clean
from ..scaffold import PLACEHOLDER
from ..train import check_device
from .common import setting_model
from .export import write_history_csv
from .networks import keep_networks, load_network, network_entries, network_folder
from .protocol import ANALYSIS, Contrast, Measure, Premise, Reading, judge, protocol_hash, standing
from .results import check_seed_result, metric_bounds, read_result, result_path, summarise, write_result
from .seed_store import SeedStore, open_store
from .settings import apply_overrides, json_roundtrip, stale_differences, with_train_options

__all__ = ["PRESETS", "BOOK_SEEDS", "VERDICTS", "PaperVariant", "Premise", "Reproduction", "register", "UnfilledProtocol",
           "get_reproduction", "reproduction_names", "run", "run_seeds", "recorded_arms", "summarise_arms", "data_summary", "provenance",
           "assess", "check_preset", "preset_setting", "check_presets", "recorded_run", "read_record", "trained_network",
           "Contrast", "Measure", "Reading", "CONFIRMATORY_FIRST_SEED"]

PRESETS = ("smoke", "book", "paper")
"""``smoke``: seconds, for tests; ``book``: embedded data on a 2-core CPU (the notebooks' default);
``paper``: the paper's data, architecture and schedule, for a GPU."""

BOOK_SEEDS = 5
"""Seeds of every book preset: enough for a Student-t interval with 4 degrees of freedom."""

CONFIRMATORY_FIRST_SEED = 5
"""A book record runs on seeds 5, 6, ...: seeds 0–4 were the exploratory runs that shaped the book settings, so a
record under a frozen protocol confirms on fresh seeds."""

TRAINED = "trained"
"""The key under which a run that is not written (``out=None``) holds its first seed's compared networks."""

VERDICTS = ("reproduced", "reversed", "inconclusive", "not reproduced", "premise not met",
            "inconclusive (premise uncertain)", "premise not measured")
"""Every verdict a record can carry (:func:`assess`)."""


@dataclass(frozen=True)
class PaperVariant:
    """Another of the paper's settings (a further data set, architecture or time steps), run at the ``paper``
    preset with ``variant=<name>``; ``paper_result`` is the paper's number for it."""

    settings: dict
    paper_result: dict | None = None


@dataclass(frozen=True)
class Reproduction:
    """A paper's claim, the protocol that tests it, how to run it at each preset, and the function that runs one seed.

    ``run_seed(settings, seed, progress)`` returns ``{arm: {"final": metric, "curve": [metric per tested epoch]}}``, and
    optionally ``"metrics": {name: value}`` per arm (further scalar results, summarised over seeds like ``final``);
    ``arms[0]`` is the paper's method and ``arms[1]`` the baseline the paper sets itself against (``against`` says
    which, in words); further arms (readings, controls, a teacher) are reported alongside, and so is any arm
    ``run_seed`` returns beyond the declared ones. The protocol (:mod:`~snnlab.repro.protocol`) is the claim, that
    comparison, the ``premise``, the ``readings`` of an ``open_point``, the ``further_claims``, the ``diagnostics``,
    the analysis rule (``equivalence`` for a claim of equality), the preset's setting and the seeds
    (:meth:`protocol`).
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
    """The condition the claim depends on, measured in every run on arms that are not the method's output
    (required by :func:`register`)."""
    against: str = ""
    """The baseline the paper sets itself against, in words: why ``arms[1]`` is the claim's comparison."""
    open_point: str = ""
    """The point of the method the paper leaves open, when ``readings`` are declared."""
    readings: tuple[Reading, ...] = ()
    """Each reading of ``open_point``: an arm with its own verdict; the favoured one's arm is ``arms[0]``."""
    further_claims: tuple[Measure, ...] = ()
    """The paper's further claims, each with a verdict of its own (e.g. a latency ratio)."""
    diagnostics: tuple[Measure, ...] = ()
    """Contrasts reported beside the verdict, with their intervals (e.g. a mechanism's size in an ANN)."""
    explored: tuple[str, ...] = ()
    """Arms beyond the compared pair whose first-seed networks the record also keeps, for the chapter to explore
    (e.g. LaSNN's teacher, whose attention its student is distilled towards). Not part of the protocol."""
    network: Callable[[dict, str], nn.Module] | None = None
    """``network(setting, arm)``: the untrained network whose weights the record keeps for ``arm`` (what ``run_seed``
    returns under ``"network"``); None: the setting's ``model`` (:func:`~snnlab.repro.common.setting_model`). Not
    part of the protocol."""

    def settings(self, preset: str, variant: str | None = None) -> dict:
        setting = preset_setting(self.presets, preset)
        return setting if variant is None else self._variant(preset, variant).settings

    def seeds(self, preset: str, count: int) -> list[int]:
        """The seeds of a run of ``count`` seeds: from :data:`CONFIRMATORY_FIRST_SEED` at the ``book`` preset,
        from 0 otherwise."""
        first = CONFIRMATORY_FIRST_SEED if preset == "book" else 0
        return list(range(first, first + count))

    def protocol(self, preset: str, variant: str | None = None, setting: dict | None = None,
                 seeds: list[int] | None = None) -> dict:
        """The frozen protocol of a run, as JSON: claim, comparison, premise, readings, further claims,
        diagnostics, analysis rule, preset, variant, setting (the preset's unless given) and seeds (the preset's
        unless given). :func:`~snnlab.repro.protocol.protocol_hash` of it is the record's ``protocol_hash``."""
        setting = self.settings(preset, variant) if setting is None else setting
        seeds = self.seeds(preset, setting["seeds"]) if seeds is None else seeds
        return json_roundtrip({
            "reproduction": self.name, "paper": self.paper, "claim": self.claim, "metric": self.metric,
            "comparison": {"method": self.arms[0], "baseline": self.arms[1], "against": self.against},
            "premise": self.premise.to_dict(),
            "open_point": self.open_point, "readings": [dataclasses.asdict(r) for r in self.readings],
            "further_claims": [m.to_dict() for m in self.further_claims],
            "diagnostics": [m.to_dict() for m in self.diagnostics],
            "analysis": {**ANALYSIS, "equivalence": self.equivalence},
            "preset": preset, "variant": variant, "setting": setting, "seeds": list(seeds)})

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
    check_protocol(reproduction)
    undeclared = [arm for arm in reproduction.explored if arm not in reproduction.arms]
    if undeclared:
        raise ValueError(f"reproduction {reproduction.name!r} keeps networks of undeclared arms {undeclared}: "
                         f"explored names arms of {list(reproduction.arms)}")
    return _REGISTRY.add(reproduction)


class UnfilledProtocol(ValueError):
    """A reproduction whose protocol still holds the chapter template's placeholder texts: not registered until
    they are written."""


def check_protocol(reproduction: Reproduction) -> None:
    """Refuse a protocol that cannot be judged: no ``against``; a text still holding the chapter template's
    :data:`~snnlab.scaffold.PLACEHOLDER`; a reading, premise or measure naming an arm that is
    not declared; readings without an ``open_point`` or without exactly one favoured reading, whose arm must be the
    compared method arm ``arms[0]``; and a premise measured on the method's own output."""
    name, arms = reproduction.name, set(reproduction.arms)

    def refuse(problem: str) -> None:
        raise ValueError(f"reproduction {name!r}: {problem}")

    if not reproduction.against:
        refuse("says nothing about its baseline: set against= to the baseline the paper sets itself against")
    texts = {"paper": reproduction.paper, "claim": reproduction.claim, "against": reproduction.against,
             "premise": reproduction.premise.statement, "open_point": reproduction.open_point,
             **{f"reading {r.name}": f"{r.meaning} {r.support}" for r in reproduction.readings},
             **{f"measure {m.name}": m.statement for m in (*reproduction.further_claims, *reproduction.diagnostics)}}
    unfilled = [field for field, text in texts.items() if PLACEHOLDER in text]
    if unfilled:
        raise UnfilledProtocol(f"reproduction {name!r}: the protocol skeleton is not filled in: "
                               f"{', '.join(unfilled)} still read {PLACEHOLDER!r}")
    contrasts = [*reproduction.premise.contrasts, *(m.contrast for m in reproduction.further_claims),
                 *(m.contrast for m in reproduction.diagnostics)]
    for quantity in (q for c in contrasts for q in (c.better, c.worse) if isinstance(q, str)):
        if quantity.partition(":")[0] not in arms:
            refuse(f"the quantity {quantity!r} names an arm that is not declared in arms {sorted(arms)}")
    method_arms = {reproduction.arms[0], *(reading.arm for reading in reproduction.readings)}
    circular = [q for c in reproduction.premise.contrasts for q in (c.better, c.worse)
                if isinstance(q, str) and q.partition(":")[0] in method_arms]
    if circular:
        refuse(f"its premise is measured on the method's own output ({', '.join(circular)}); measure it on arms "
               "that are not the method's")
    if reproduction.readings:
        favoured = [reading for reading in reproduction.readings if reading.favoured]
        if not reproduction.open_point or len(favoured) != 1 or favoured[0].arm != reproduction.arms[0]:
            refuse("readings need an open_point and exactly one favoured reading whose arm is arms[0]")
        unknown = [reading.arm for reading in reproduction.readings if reading.arm not in arms]
        if unknown:
            refuse(f"readings name undeclared arms {unknown}")


def reproduction_names() -> list[str]:
    return _REGISTRY.names()


def get_reproduction(name: str) -> Reproduction:
    return _REGISTRY.lookup(name)


def _summarise_arm(results: list[dict]) -> dict:
    """One arm over seeds: ``final`` summarised (mean, std, per seed), the curves, the per-epoch training histories
    (loss terms, accuracies, learning rate, seconds) where every seed kept one, and each extra metric summarised."""
    arm = {**summarise([r["final"] for r in results]), "curves": [r["curve"] for r in results]}
    if all("history" in r for r in results):
        arm["histories"] = [r["history"] for r in results]
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


def _unfrozen_protocol(record: dict, current: dict) -> dict:
    """The protocol a record made before protocols were stored is judged by: today's, comparing the pair the record
    itself compared."""
    method, baseline = record["effect"]["of"].split(" - ")
    return {**current, "comparison": {**current["comparison"], "method": method, "baseline": baseline}}


def assess(record: dict) -> dict:
    """``record`` judged by the protocol it was run under (:func:`~snnlab.repro.protocol.judge`), with its standing
    against its reproduction's protocol today (:func:`~snnlab.repro.protocol.standing`) and the paper's result as
    the registry states it now (:meth:`Reproduction.target`).

    A record made before protocols were stored is judged by today's protocol and stands as exploratory.
    ``effect`` is the compared pair's (``verdict_of_difference``: the interval's verdict; ``verdict``: the claim's,
    which the premise's status can override); ``readings``, ``further_claims`` and ``diagnostics`` follow the
    protocol; ``protocol_status`` is the standing.
    """
    reproduction = get_reproduction(record["name"])
    preset, variant = record.get("preset"), record.get("variant")
    current = reproduction.protocol(preset, variant)
    judged = judge(record.get("protocol") or _unfrozen_protocol(record, current), record["arms"])
    judged["effect"]["test_size"] = record.get("data", {}).get("test_size")
    return {**record, **judged, "protocol_status": standing(record, current),
            "paper_result": reproduction.target(preset, variant)}


def run_seeds(name: str, run_seed: Callable[[dict, int, bool], dict], settings: dict, seeds: list[int],
              progress: bool, store: SeedStore | None, resume: bool,
              bounds: tuple[float, float] = (-math.inf, math.inf)) -> list[dict]:
    """``run_seed(settings, seed, progress)`` for every seed in ``seeds`` of a run called ``name``: read back from
    ``store`` when resuming, else trained and saved as it finishes.

    ``store`` is begun first (:meth:`~snnlab.repro.seed_store.SeedStore.begin`: its lock taken, its folder checked,
    a resumed run's seed list compared with the interrupted one's), so nothing trains on a refusal; its lock is
    released when a seed fails. Every result must hold finite values, its arms' within ``bounds`` (the metric's
    range, :func:`~snnlab.repro.results.check_seed_result`), before it is saved."""
    try:
        if store is not None:
            store.begin(seeds, resume)
        return [_seed_result(name, run_seed, settings, seed, progress, store, bounds) for seed in seeds]
    except BaseException:
        if store is not None:
            store.release()
        raise


def _seed_result(name: str, run_seed: Callable[[dict, int, bool], dict], settings: dict, seed: int, progress: bool,
                 store: SeedStore | None, bounds: tuple[float, float]) -> dict:
    """Seed ``seed``'s result: read back from ``store`` when it holds it, else trained, checked and saved."""
    if store is not None and seed in store.saved_seeds():
        print(f"{name}: seed {seed} read from {store.folder}", file=sys.stderr)
        result = store.load(seed)
        check_seed_result(result, f"{store.folder}/seed-{seed}.json", bounds)
        return result
    result = run_seed(settings, seed, progress)
    check_seed_result(result, f"{name}: seed {seed}", bounds)
    if store is not None:
        store.save(seed, result)
    return result


def provenance(wall_clock_s: float, execution: list) -> dict:
    """Where and when a run was made: its wall-clock time, what its training ran on (:mod:`snnlab.execution`), the
    hardware, package versions, Python, git SHA, whether that tree was unmodified (``git_clean``; ``None`` outside
    git) and the creation time."""
    env = environment_info()
    return {"wall_clock_s": wall_clock_s, "execution": summarise_execution(execution), "hardware": env["hardware"],
            "versions": env["versions"], "python": env["python"], "git_sha": env["git_sha"],
            "git_clean": git_clean(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run(name: str, preset: str = "book", seeds: int | None = None, out: str | None = "results",
        progress: bool = True, variant: str | None = None, resume: bool = False,
        overrides: dict[str, object] | None = None, device: str | None = None, amp: bool | None = None) -> dict:
    """Run reproduction ``name`` at ``preset`` over ``seeds`` seeds (default: the preset's), write and return the record.

    ``variant`` picks one of the paper's further settings (:attr:`Reproduction.variants`; ``paper`` preset only).

    The record holds the paper, the setting, the preset, the metric, the data (split sizes, checksum), per-seed
    values with mean and std for each arm, the paired effect (method − baseline) with its 95 % interval, minimum
    detectable effect and verdict (:func:`assess`), the premise as measured, the wall-clock time, hardware, package
    versions and the git SHA. It is written to ``out/<name>-<preset>[-<variant>].json`` (unless ``out`` is None),
    with the first seed's trained networks of the compared arms (and of :attr:`Reproduction.explored`) beside it
    (:mod:`~snnlab.repro.networks`; in memory under ``record["trained"]`` when ``out`` is None, see
    :func:`trained_network`). It stores the frozen protocol (:meth:`Reproduction.protocol`) with its hash, runs on the protocol's seeds (from
    :data:`CONFIRMATORY_FIRST_SEED` at the ``book`` preset) and is judged by it (:func:`assess`).

    With ``out``, the folder (writable, with free space), the device and the ``.partial`` path are checked and the
    record's lock is taken before anything trains, and each finished seed is saved under
    ``out/<name>-<preset>[-<variant>].partial/`` (:mod:`~snnlab.repro.seed_store`); ``resume=True`` continues the
    interrupted run's own seed list (``seeds`` given and different: refused), reads the finished seeds back
    (refusing any of another setting, or edited) and trains only the missing ones. ``wall_clock_s`` then counts
    only this invocation's training. Every seed's values must be finite and within the metric's range.

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
    seed_list = reproduction.seeds(preset, n_seeds)
    if device is not None:
        check_device(device)
    store = open_store(out, result_path(out or ".", name, preset, variant), settings)
    if store is not None and resume and seeds is None:
        seed_list = store.planned_seeds() or seed_list          # the interrupted run's own seeds
    protocol = reproduction.protocol(preset, variant, json_roundtrip(settings), seed_list)
    if out is not None and preset == "book" and git_clean() is False:
        print(f"{name}: the source tree has uncommitted changes, so this record will stand as exploratory; commit "
              "first to make a confirmatory record", file=sys.stderr)
    kept = (*reproduction.arms[:2], *reproduction.explored)
    networks = None if out is None else network_folder(result_path(out, name, preset, variant))
    in_memory = {} if out is None else None
    run_seed = keep_networks(reproduction.run_seed, networks, kept, seed_list[0], in_memory)
    start = time.perf_counter()
    with collect_execution() as execution:
        per_seed = run_seeds(name, run_seed, with_train_options(settings, device=device, amp=amp),
                             seed_list, progress, store, resume, metric_bounds(reproduction.metric))
    wall = time.perf_counter() - start
    method_arm, baseline_arm = reproduction.arms[:2]
    record = assess({
        "protocol": protocol,
        "protocol_hash": protocol_hash(protocol),
        "seeds": seed_list,
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
        "networks": {} if networks is None else network_entries(networks, kept, seed_list[0], out),
        **provenance(wall, execution),
    })
    if out is not None:
        record["path"] = str(store.finish(lambda: write_result(record, out), seed_list))
        write_history_csv(record, record["path"])
    else:
        record[TRAINED] = in_memory
    return record


def read_record(path: str | Path, name: str | None = None, preset: str | None = None,
                variant: str | None = None) -> dict:
    """A saved record, checked by :func:`~snnlab.repro.results.read_result`: a ``ValueError`` naming the file (and
    the field) when it is truncated or not a record, when it is not the record of ``name`` at ``preset`` (and
    ``variant``) where those are given, or when a value entering its verdict is not a finite number within the range
    of its metric (the registered reproduction's)."""
    expected = {key: value for key, value in (("name", name), ("preset", preset)) if value is not None}
    if name is not None:
        expected["variant"] = variant
    return read_result(path, expected, _registered_metric)


def _registered_metric(record: dict) -> str:
    """The metric of a record's reproduction as registered (the record's own when it is not registered)."""
    name = record["name"]
    return get_reproduction(name).metric if name in reproduction_names() else str(record.get("metric", ""))


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
    from them; the finished record replaces the saved one. A ``smoke`` run only checks the code: it is not written (its networks are kept in memory).

    This is how a chapter shows a reproduction that takes longer than a book build should: the record is written
    once by ``snnlab reproduce NAME --preset book`` and read back. ``record["stale"]`` lists how the record's
    setting differs from the current preset (:func:`~snnlab.repro.settings.stale_differences`); a chapter shows that list rather than
    training for many minutes during a book build, and ``snnlab reproduce NAME --preset book`` brings the record up
    to date.
    """
    path = result_path(results, name, preset)
    settings = get_reproduction(name).settings(preset)
    if path.exists() and not rerun:
        saved = assess(read_record(path, name, preset))
        return {**saved, "source": str(path), "stale": stale_differences(saved["setting"], settings)}
    out = None if preset == "smoke" else results
    return {**run(name, preset, out=out, progress=progress, resume=out is not None), "source": "run now", "stale": []}


def trained_network(record: dict, arm: str, results: str | Path = "results") -> nn.Module:
    """The trained network that ``record`` (e.g. from :func:`recorded_run`) keeps for ``arm``, in evaluation mode.

    A saved record's network is built by its reproduction from the record's setting (:attr:`Reproduction.network`)
    and loaded from ``results`` with :func:`~snnlab.repro.networks.load_network` (hash checked, weights only); a
    run that was not written (a ``smoke`` run) holds its networks in memory (``record["trained"]``). ``ValueError``
    when the record keeps no network for ``arm``, or when the file lacks a threshold that the network needs (a
    neuron left without one, e.g. a converted network kept before thresholds were saved): run the reproduction
    again."""
    if arm in record.get(TRAINED, {}):
        return record[TRAINED][arm].eval()
    build = get_reproduction(record["name"]).network or setting_model
    network = load_network(record, arm, build(record["setting"], arm), results).eval()
    missing = [path for path, module in network.named_modules()
               if not math.isfinite(float(getattr(module, "v_threshold", 0.0)))]
    if missing:
        raise ValueError(f"the network {record['name']!r} keeps for {arm!r} was saved without the thresholds of "
                         f"{missing}; run `snnlab reproduce {record['name']} --preset {record['preset']}` to keep them")
    return network
