"""What the reproductions teach: each family of methods with its chapters' verdicts beside the common-ground
comparison, and the recipe differences that separate the two, written from the records (the first section of the
Results page).

A chapter tests a paper's claim against the baseline the paper sets itself against, with the chapter's own recipe;
the ``common-ground`` comparison (:mod:`~snnlab.repro.papers.common_ground`) trains every static-image method with one
shared recipe against one plain SNN. The two can disagree without either being wrong, and :func:`story` puts them
side by side: for each family, what holds at this scale, what does not, the premise that explains it (measured
again on common ground where that comparison has the premise's arms), and every recipe difference between the
chapter's run and the common-ground arm. Records that are not confirmatory are marked as exploratory.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .common_ground import DIRECT_INPUT, deployment
from ..protocol import CONFIRMATORY, Contrast, Premise
from ..registry import get_reproduction
from ..report import effect_text, interval_text, premise_text

__all__ = ["Family", "FAMILIES", "recipe", "common_ground_recipe", "findings", "family_story", "story"]


@dataclass(frozen=True)
class Family:
    """Methods that rest on one idea: the ``reproductions`` that test them (in chapter order), the common-ground
    arm of each one's method (``arms``; none where the comparison has none), and, where the common-ground
    comparison has the arms of a reproduction's premise, those arms under their common-ground names
    (``premise_arms[reproduction] = {record arm: common-ground arm}``): the premise is then measured there too."""

    name: str
    reproductions: tuple[str, ...]
    arms: dict[str, str] = field(default_factory=dict)
    premise_arms: dict[str, dict[str, str]] = field(default_factory=dict)


FAMILIES = (
    Family("Surrogate-gradient training with a loss at every step", ("tet",), {"tet": "tet"},
           {"tet": {"mean_ce": "plain"}}),
    Family("Distillation from an ANN teacher", ("kdsnn", "dkd", "mskd"), {"kdsnn": "kdsnn"},
           {"kdsnn": {"teacher": "teacher", "snn": "plain"}, "dkd": {"teacher": "teacher", "student": "plain"}}),
    Family("Joint training with an ANN twin", ("joint-asnn",), {"joint-asnn": "joint-asnn"},
           {"joint-asnn": {"ann-alone": "ann", "snn-alone": "plain"}}),
    Family("Self-distillation through time", ("tssd", "tssd-events"), {"tssd": "tssd"}),
    Family("Fewer time steps in later layers", ("ssnn",), {"ssnn": "ssnn"}),
    Family("Conversion from a trained ANN", ("lc-ttfs", "lasnn"), {"lc-ttfs": "lc-ttfs", "lasnn": "lasnn"}),
    Family("Spiking transformers", ("spikingbert",)),
)
"""Every reproduction of the kit in one family, every spiking method of the common-ground comparison with its
reproduction."""

_INPUTS = {"lasnn": "Poisson spikes", "lc-ttfs": "first-spike times",
           "spikingbert": "token embeddings as input currents"}
"""Input codings that a reproduction's code fixes rather than its setting names."""
_NETWORKS = {"joint-asnn": "weights factorised with an ANN twin"}
"""What a reproduction's code adds to the network its setting names."""
_BASELINE = ("the plain SNN: the same backbone trained with cross entropy on its mean output (SDT), with the same "
             "data, budget and time steps")
_ROWS = {"network": "network", "input": "input coding", "steps": "sequential time steps",
         "data": "data", "training": "training"}


def _training(train: dict) -> str:
    return f"{train['optimizer']} at {train['lr']:g}, batch {train['batch_size']}, {train['epochs']} epochs"


def _network(setting: dict) -> str:
    options = setting.get("model_options") or {}
    if "student" in setting:
        student = setting["student"]
        return (f"ConversionCNN {'-'.join(map(str, student['cfg']))} (no batch norm or bias), "
                f"{student['neuron']['kind']} neurons")
    if "networks" in setting:
        return (f"constrained CNN {'-'.join(map(str, setting['networks']['cnn']['cfg']))} and MLP, one spike per "
                "neuron")
    if "dim" in options:
        return f"spiking transformer, {options['layers']} layers of width {options['dim']}"
    model = f"SmallCNN-{options['width']}" if setting["model"] == "small-cnn" else setting["model"]
    return f"{model}, {options['neuron']} neurons" + (", run in stages" if "steps" in setting else "")


def _steps(setting: dict) -> str:
    options = setting.get("model_options") or {}
    if "steps" in setting:
        return f"{sum(setting['steps'])} (stages of {', '.join(map(str, setting['steps']))})"
    if "T_s" in setting:
        return f"{setting['T_s']} (the teacher run of {setting['T_t']} in training only)"
    if "networks" in setting:
        return f"{len(setting['networks']['cnn']['cfg']) + 1} time windows, one per layer"
    if "t_conv" in options:
        return f"{options['t_conv']} simulated steps"
    return str(setting["T"])


def _input(record: dict) -> str:
    setting = record["setting"]
    if record["name"] in _INPUTS:
        return _INPUTS[record["name"]]
    if setting.get("encoding", "direct") != "direct":
        return f"{setting['encoding'].capitalize()} spikes"
    if "frames" in setting.get("data_options", {}) or setting["dataset"] == "eye":
        return "recorded frames, one per step"
    return DIRECT_INPUT


def recipe(record: dict) -> dict[str, str]:
    """How a reproduction's record was made, in words: ``network``, ``input`` (coding), ``steps`` (run one after
    the other), ``data`` and ``training`` (LaSNN's: its ANN's, then the fine-tuning)."""
    setting = record["setting"]
    training = _training(setting["train"])
    if "ann_train" in setting:
        training = f"ANN: {_training(setting['ann_train'])}; fine-tuning: {training}"
    network = ", ".join([_network(setting), *([_NETWORKS[record["name"]]] if record["name"] in _NETWORKS else [])])
    return {"network": network, "input": _input(record), "steps": _steps(setting),
            "data": f"`{setting['dataset']}`, {record['data']['train_size']:,} training samples",
            "training": training}


def common_ground_recipe(comparison: dict, arm: str) -> dict[str, str]:
    """:func:`recipe` of one arm of the common-ground comparison record (its deployment,
    :func:`~snnlab.repro.papers.common_ground.deployment`)."""
    setting = comparison["setting"]
    deployed = deployment(setting)[arm]
    training = _training(setting["train"])
    if arm == "lasnn":
        ann = {**setting["train"], "epochs": setting["train"]["epochs"] - setting["fine_tune_epochs"]}
        training = (f"ANN: {_training(ann)}; fine-tuning: "
                    f"{_training({**setting['fine_tune'], 'epochs': setting['fine_tune_epochs']})}")
    steps = str(deployed["steps"])
    if arm == "ssnn":
        steps += f" (stages of {', '.join(map(str, setting['ssnn_steps']))})"
    elif arm == "lc-ttfs":
        steps += " time windows, one per layer"
    return {"network": deployed["network"], "input": deployed["input"], "steps": steps,
            "data": f"`{comparison['data']['dataset']}`, {comparison['data']['train_size']:,} training samples",
            "training": training}


def _kind(verdict: str) -> str:
    if verdict == "reproduced":
        return "holds"
    if verdict in ("reversed", "not reproduced"):
        return "does not hold"
    return "not shown" if verdict == "inconclusive" else "cannot be tested here"


def _effect(effect: dict) -> str:
    mde = (f"; minimum detectable effect {effect['mde']:.2f} points (80 % power), so an effect smaller than that "
           "could go unseen") if effect.get("mde") and effect["verdict"] == "inconclusive" else ""
    return f"{effect['of']} = {effect_text(effect)}{mde}"


def findings(record: dict) -> list[tuple[str, str]]:
    """``(kind, text)`` for the record's claim, its other readings and its further claims, ``kind`` being
    ``"holds"`` (reproduced), ``"does not hold"`` (reversed or not reproduced), ``"not shown"`` (inconclusive) or
    ``"cannot be tested here"`` (the premise fails, is uncertain or was not measured)."""
    standing = "" if record.get("protocol_status") == CONFIRMATORY else ", exploratory"
    name, effect = record["name"], record["effect"]
    found = [(_kind(effect["verdict"]), f"`{name}` ({effect['verdict']}{standing}): {_effect(effect)}")]
    method = effect["of"].split(" - ")[0]
    found += [(_kind(reading["effect"]["verdict"]),
               f"`{name}`, reading *{reading_name}* ({reading['effect']['verdict']}{standing}): "
               f"{_effect({**reading['effect'], 'of': reading['of']})}")
              for reading_name, reading in (record.get("readings") or {}).items() if reading["arm"] != method]
    found += [(_kind(measure["verdict"]), f"`{name}`, {measure['statement']} ({measure['verdict']}{standing}): "
                                          f"{_effect(measure)}")
              for measure in (record.get("further_claims") or {}).values()]
    return found


def _common_ground_premise(record: dict, arms: dict[str, str], comparison: dict) -> dict | None:
    """The record's premise measured on the common-ground arms ``arms`` stands for (None when one is missing)."""
    premise = record.get("protocol", {}).get("premise") or get_reproduction(record["name"]).premise.to_dict()
    premise = Premise.from_dict(premise)

    def renamed(quantity):
        return quantity if not isinstance(quantity, str) else arms.get(quantity)

    pairs = [(renamed(c.better), renamed(c.worse)) for c in premise.contrasts]
    if any(None in pair for pair in pairs):
        return None
    contrasts = tuple(Contrast(*pair) for pair in pairs)
    statement = premise.statement + " (" + "; ".join(f"here {c.text()}" for c in contrasts) + ")"
    return Premise(statement, contrasts, premise.threshold).assess(comparison["arms"])


def _against_plain(difference: dict) -> tuple[str, str]:
    low, high = difference["ci"] or (0.0, 0.0)
    kind = "holds" if low > 0 else "does not hold" if high < 0 else "not shown"
    words = {"holds": "above", "does not hold": "below", "not shown": "not separated from"}[kind]
    return kind, f"{difference['mean']:+.2f} {interval_text(difference)} ({difference['n']} seeds): {words} the plain SNN"


def _reconciled(chapter: str, common: str, differ: list[str], premise: dict, common_premise: dict | None) -> str:
    """One sentence: whether the chapter's verdict and the common-ground result agree, and what separates them."""
    head = (f"Chapter and common ground point the same way ({chapter})" if chapter == common else
            f"The chapter ({chapter}) and common ground ({common}) differ: they set the method against different "
            "baselines (first row)")
    parts = [head] + ([f"their recipes differ in {', '.join(_ROWS[key] for key in differ)}"] if differ else [])
    if common_premise is not None and common_premise["status"] != premise["status"]:
        parts.append(f"the premise {premise['status']} in the chapter but {common_premise['status']} on common "
                     "ground")
    same = [_ROWS[key] for key in _ROWS if key not in differ]
    return "; ".join(parts) + (f". The same in both: {', '.join(same)}." if same else ".")


def family_story(family: Family, records: dict[str, dict], comparison: dict) -> str:
    """Markdown for one family: per reproduction, the chapter's verdict beside its method's common-ground result
    (compared with, result, premise, and each recipe item that differs), then what holds at this scale, what does
    not, what is not shown and what cannot be tested here."""
    parts, found = [f"### {family.name}"], []
    for name in family.reproductions:
        record = records.get(name)
        if record is None:
            parts.append(f"`{name}`: no {comparison['preset']} record yet (`snnlab reproduce {name} --preset "
                         f"{comparison['preset']}` writes it).")
            continue
        found += findings(record)
        arm = family.arms.get(name)
        standing = "" if record.get("protocol_status") == CONFIRMATORY else f", *{record['protocol_status']}*"
        against = (record.get("protocol") or {}).get("comparison", {}).get("against") or \
            get_reproduction(name).against
        chapter = {"compared with": against,
                   "result": f"**{record['effect']['verdict']}**{standing}: {_effect(record['effect'])}",
                   "premise": premise_text(record["premise"])}
        if arm is None:
            rows = [f"| {key} | {value} |" for key, value in {**chapter, **{_ROWS[k]: v for k, v in
                                                                            recipe(record).items()}}.items()]
            parts.append("\n".join([f"| | chapter: `{name}` (not on common ground) |", "|---|---|", *rows]))
            continue
        kind, text = _against_plain(comparison["differences"][arm])
        found.append((kind, f"on common ground, `{arm}` − plain = {text}"))
        premise = _common_ground_premise(record, family.premise_arms.get(name, {}), comparison)
        common = {"compared with": _BASELINE, "result": f"`{arm}` − plain = {text}",
                  "premise": premise_text(premise) if premise else "not measured on common ground"}
        ours, theirs = recipe(record), common_ground_recipe(comparison, arm)
        differ = [key for key in _ROWS if ours[key] != theirs[key]]
        rows = [f"| {key} | {chapter[key]} | {common[key]} |" for key in chapter]
        rows += [f"| {_ROWS[key]} | {ours[key]} | {theirs[key]} |" for key in differ]
        parts.append("\n".join([f"| | chapter: `{name}` | common ground: `{arm}` |", "|---|---|---|", *rows]))
        parts.append(_reconciled(_kind(record["effect"]["verdict"]), kind, differ, record["premise"], premise))
    for kind in ("holds", "does not hold", "not shown", "cannot be tested here"):
        chosen = [text for k, text in found if k == kind]
        if chosen:
            parts.append(f"**{kind.capitalize()}:**\n\n" + "\n".join(f"* {text}" for text in chosen))
    return "\n\n".join(parts)


def story(records: list[dict], comparison: dict) -> str:
    """Markdown for every family of :data:`FAMILIES`, from the assessed reproduction records ``records`` of the
    comparison's preset and the common-ground comparison record ``comparison``."""
    by_name = {record["name"]: record for record in records if record["preset"] == comparison["preset"]
               and not record.get("variant")}
    return "\n\n".join(family_story(family, by_name, comparison) for family in FAMILIES)
