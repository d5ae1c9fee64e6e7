r"""A reproduction's protocol, frozen before its record: what is compared, on which premise, read how, judged how.

A claim is tested under one **protocol**, fixed before any data is seen:

* the **comparison** the paper makes: the method's arm against the baseline the paper sets itself against;
* the **premise** the claim depends on, measured on arms that are not the method's output (:class:`Premise`);
* the **readings** of a point the paper leaves open, each an arm of its own with its own verdict (:class:`Reading`);
* **further claims** of the paper with verdicts of their own, and **diagnostics** reported beside the verdict
  (:class:`Measure`);
* the **analysis rule** (the paired 95 % Student-t interval of :mod:`~snnlab.repro.results`, or an equivalence
  tolerance), the preset's setting and the seeds.

:meth:`Reproduction.protocol <snnlab.repro.registry.Reproduction.protocol>` serialises all of it to one JSON object
and :func:`protocol_hash` gives its content hash. A record stores both, and :func:`judge` assesses a record's arms
by the protocol stored *in the record*, so editing a premise or a reading later changes no committed verdict: the
record is then shown as exploratory until it is run again (:func:`standing`).

**Premises are judged with their interval.** For the per-seed values :math:`p_i` of the premise's measure, with
mean :math:`\bar p` and 95 % Student-t interval :math:`[l, u]`, and the threshold :math:`\theta`:

* *holds* when :math:`\bar p \ge \theta` and the interval excludes 0;
* *fails* when :math:`u < \theta`;
* *uncertain* otherwise (and always for a single seed); the claim's verdict is then
  "inconclusive (premise uncertain)".

A premise of several contrasts (e.g. each of two networks beats the student) holds when every one holds and fails
when any one fails.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from .results import CONFIDENCE, POWER, paired_effect, summarise, t_interval

__all__ = ["Contrast", "Premise", "Reading", "Measure", "ANALYSIS", "PREMISE_RULE", "PREMISE_STATUSES", "STANDINGS",
           "protocol_hash", "judge", "standing", "claim_verdict"]

PREMISE_RULE = ("holds when the mean reaches the threshold and its 95 % interval excludes 0; fails when the "
                "interval's upper end is below the threshold; uncertain otherwise")
PREMISE_STATUSES = ("holds", "fails", "uncertain", "not measured")
ANALYSIS = {"confidence": CONFIDENCE, "power": POWER}
"""The analysis rule's fixed parameters, stored in every protocol beside the claim's equivalence tolerance."""

CONFIRMATORY = "confirmatory"
UNFROZEN = "exploratory (recorded before its protocol was frozen)"
CHANGED = "exploratory (protocol changed after the record)"
MODIFIED_TREE = "exploratory (run from a modified source tree)"
STANDINGS = (CONFIRMATORY, CHANGED, UNFROZEN, MODIFIED_TREE)
"""How a record stands against its reproduction's protocol today (:func:`standing`)."""


def _values(arms: dict, quantity: str | float) -> list[float] | float:
    """The per-seed values of ``"arm"`` (its metric) or ``"arm:metric"``; a number stands for itself."""
    if isinstance(quantity, (int, float)):
        return float(quantity)
    arm, _, metric = quantity.partition(":")
    return list((arms[arm]["metrics"][metric] if metric else arms[arm])["per_seed"])


@dataclass(frozen=True)
class Contrast:
    """Per seed, ``better − worse``: each a quantity ``"arm"`` (the record's metric of that arm), ``"arm:metric"``
    (one of its further metrics) or a number (e.g. ``Contrast(100.0, "sdt")``: the error of the arm ``sdt``)."""

    better: str | float
    worse: str | float

    def __post_init__(self):
        if not any(isinstance(q, str) for q in (self.better, self.worse)):
            raise ValueError(f"a contrast needs at least one arm, got {self.better!r} − {self.worse!r}")

    def per_seed(self, arms: dict) -> list[float]:
        """The per-seed differences; ``KeyError`` when ``arms`` lacks an arm or metric it names."""
        better, worse = _values(arms, self.better), _values(arms, self.worse)
        n = len(better) if isinstance(better, list) else len(worse)
        better, worse = (v if isinstance(v, list) else [v] * n for v in (better, worse))
        return [b - w for b, w in zip(better, worse, strict=True)]

    def text(self) -> str:
        return f"{self.better:g} - {self.worse}" if isinstance(self.better, (int, float)) else \
            f"{self.better} - {self.worse:g}" if isinstance(self.worse, (int, float)) else f"{self.better} - {self.worse}"


def _contrasts(value) -> tuple[Contrast, ...]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return tuple(item if isinstance(item, Contrast) else Contrast(**item) for item in items)


def _premise_status(mean: float, interval: list[float] | None, threshold: float) -> str:
    if interval is None:
        return "uncertain"
    if interval[1] < threshold:
        return "fails"
    if mean >= threshold and not interval[0] <= 0 <= interval[1]:
        return "holds"
    return "uncertain"


@dataclass(frozen=True)
class Premise:
    """The condition a paper's claim depends on: every contrast's per-seed mean reaches ``threshold`` (module
    docstring for the rule). Example: "the teacher beats the student trained alone by at least 3 points" is
    ``Premise(statement, Contrast("teacher", "student"), 3.0)``."""

    statement: str
    contrasts: Contrast | tuple[Contrast, ...]
    threshold: float

    def __post_init__(self):
        object.__setattr__(self, "contrasts", _contrasts(self.contrasts))

    def to_dict(self) -> dict:
        return {"statement": self.statement, "threshold": self.threshold,
                "contrasts": [asdict(contrast) for contrast in self.contrasts]}

    @classmethod
    def from_dict(cls, data: dict) -> Premise:
        return cls(data["statement"], _contrasts(data["contrasts"]), data["threshold"])

    def assess(self, arms: dict) -> dict:
        """``{"statement", "threshold", "status", "holds", "measured", "ci", "contrasts", "rule"}``: ``measured``
        and ``ci`` are those of the weakest contrast; ``holds`` is True / False for holds / fails and ``None``
        when uncertain or not measured (the record lacks an arm or metric)."""
        base = {"statement": self.statement, "threshold": self.threshold, "comparison": ">=", "rule": PREMISE_RULE}
        try:
            parts = [{"of": c.text(), **_stats(c.per_seed(arms))} for c in self.contrasts]
        except KeyError:
            return {**base, "status": "not measured", "holds": None, "measured": None, "ci": None, "contrasts": []}
        for part in parts:
            part["status"] = _premise_status(part["mean"], part["ci"], self.threshold)
        statuses = {part["status"] for part in parts}
        status = "fails" if "fails" in statuses else "holds" if statuses == {"holds"} else "uncertain"
        weakest = min(parts, key=lambda part: part["mean"])
        return {**base, "status": status, "holds": {"holds": True, "fails": False}.get(status),
                "measured": weakest["mean"], "ci": weakest["ci"], "contrasts": parts}


def _stats(values: list[float]) -> dict:
    """Mean, std, per-seed values and the 95 % Student-t interval of per-seed values."""
    summary = summarise(values)
    interval = t_interval(summary["mean"], summary["std"], summary["n"])
    return {**summary, "ci": None if interval is None else list(interval)}


@dataclass(frozen=True)
class Reading:
    """One reading of a point the paper leaves open, trained as its own ``arm`` and judged against the baseline.

    ``meaning`` says what the reading does; ``support`` what in the paper's text speaks for or against it;
    ``favoured`` marks the reading the text supports best (its arm is the compared method arm)."""

    name: str
    arm: str
    meaning: str
    support: str
    favoured: bool = False


@dataclass(frozen=True)
class Measure:
    """A named contrast: a further claim of the paper (judged by the interval rule of
    :func:`~snnlab.repro.results.paired_effect` on its per-seed differences) or a diagnostic (reported with its
    interval, no verdict)."""

    name: str
    statement: str
    contrast: Contrast

    def to_dict(self) -> dict:
        return {"name": self.name, "statement": self.statement, "contrast": asdict(self.contrast)}

    @classmethod
    def from_dict(cls, data: dict) -> Measure:
        return cls(data["name"], data["statement"], Contrast(**data["contrast"]))


def protocol_hash(protocol: dict) -> str:
    """The SHA-256 of ``protocol``'s canonical JSON (sorted keys, no spaces): any changed field changes it."""
    return hashlib.sha256(json.dumps(protocol, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def claim_verdict(difference_verdict: str, premise_status: str) -> str:
    """The claim's verdict: the difference's when the premise holds; else what the premise's status implies."""
    return {"holds": difference_verdict, "fails": "premise not met", "uncertain": "inconclusive (premise uncertain)",
            "not measured": "premise not measured"}[premise_status]


def _judged_difference(diffs: list[float], premise: dict, equivalence: float | None) -> dict:
    """The paired statistics of per-seed differences, ``verdict_of_difference`` and the claim's ``verdict``."""
    effect = paired_effect(diffs, [0.0] * len(diffs), equivalence)
    return {**effect, "verdict_of_difference": effect["verdict"],
            "verdict": claim_verdict(effect["verdict"], premise["status"])}


def judge(protocol: dict, arms: dict) -> dict:
    """A record's verdicts from its per-seed ``arms`` by the frozen ``protocol`` alone.

    Returns ``{"premise", "effect", "open_point", "readings", "further_claims", "diagnostics"}``: the premise assessed with its
    interval; the compared pair's effect (``comparison.method − comparison.baseline``) with the claim's verdict;
    each reading's arm against the baseline; each further claim's verdict; each diagnostic's interval. A reading or
    measure whose arms the record lacks (a record made before the protocol declared them) is left out."""
    premise = Premise.from_dict(protocol["premise"]).assess(arms)
    equivalence = protocol["analysis"]["equivalence"]
    comparison = protocol["comparison"]
    baseline = comparison["baseline"]

    def against_baseline(arm: str) -> dict:
        return _judged_difference(Contrast(arm, baseline).per_seed(arms), premise, equivalence)

    effect = {"of": f"{comparison['method']} - {baseline}", **against_baseline(comparison["method"])}
    readings = {reading["name"]: {**reading, "of": f"{reading['arm']} - {baseline}",
                                  "effect": against_baseline(reading["arm"])}
                for reading in protocol["readings"] if reading["arm"] in arms}
    measures = {kind: [Measure.from_dict(m) for m in protocol[kind]] for kind in ("further_claims", "diagnostics")}
    further = {m.name: {"statement": m.statement, "of": m.contrast.text(),
                        **_judged_difference(m.contrast.per_seed(arms), premise, equivalence)}
               for m in measures["further_claims"] if _has(arms, m.contrast)}
    diagnostics = {m.name: {"statement": m.statement, "of": m.contrast.text(), **_stats(m.contrast.per_seed(arms))}
                   for m in measures["diagnostics"] if _has(arms, m.contrast)}
    return {"premise": premise, "effect": effect, "open_point": protocol["open_point"], "readings": readings,
            "further_claims": further, "diagnostics": diagnostics}


def _has(arms: dict, contrast: Contrast) -> bool:
    """Whether ``arms`` hold every arm and metric ``contrast`` names."""
    try:
        contrast.per_seed(arms)
    except KeyError:
        return False
    return True


def standing(record: dict, current: dict) -> str:
    """How ``record`` stands against ``current``, its reproduction's protocol today: ``"confirmatory"`` when it was
    run under exactly that protocol from an unmodified source tree; otherwise which of :data:`STANDINGS` applies.

    A record whose stored protocol does not match its stored hash (edited by hand) is refused."""
    stored = record.get("protocol")
    if stored is None:
        return UNFROZEN
    if protocol_hash(stored) != record.get("protocol_hash"):
        raise ValueError(f"the record of {record.get('name')!r} holds a protocol that does not match its "
                         "protocol_hash (edited after the run); restore the record from git or run it again")
    if record["protocol_hash"] != protocol_hash(current):
        return CHANGED
    if record.get("git_clean") is False:
        return MODIFIED_TREE
    return CONFIRMATORY

