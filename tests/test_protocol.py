"""Frozen protocols: the hash covers every field, a record is judged by the protocol it was run under, premises are
judged with their interval, readings get verdicts of their own, and registration refuses protocols that cannot be
judged."""
from __future__ import annotations

import copy
import json
import math

import pytest

from snnlab.repro import get_reproduction, registry, reproduction_names
from snnlab.repro.protocol import (CHANGED, CONFIRMATORY, MODIFIED_TREE, Contrast, Measure, Premise, Reading,
                                   judge, protocol_hash)

T_975_4 = 2.776445  # t_{0.975, 4}, statistical tables


def _arms(**values) -> dict:
    return {arm: {"per_seed": list(v), "mean": sum(v) / len(v)} for arm, v in values.items()}


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _changed(protocol: dict, path: tuple) -> dict:
    edited = copy.deepcopy(protocol)
    node = edited
    for key in path[:-1]:
        node = node[key]
    old = node[path[-1]]
    node[path[-1]] = (not old) if isinstance(old, bool) else (old + 1 if isinstance(old, (int, float))
                                                                   else f"{old}!" if isinstance(old, str) else "x")
    return edited


@pytest.mark.parametrize("name", ["tssd", "lasnn", "kdsnn"])
def test_the_hash_changes_with_every_field(name):
    protocol = get_reproduction(name).protocol("book")
    original = protocol_hash(protocol)
    paths = list(_leaves(protocol))
    assert len(paths) > 40
    for path in paths:
        assert protocol_hash(_changed(protocol, path)) != original, path
    assert protocol_hash(json.loads(json.dumps(protocol))) == original   # a JSON round trip keeps it


def test_premise_rule_by_hand():
    # margins 4, 5, 6, 5, 5: mean 5, s = sqrt(0.5), half-width 2.776445 * sqrt(0.5) / sqrt(5) = 0.87799
    arms = _arms(teacher=[84, 85, 86, 85, 85], student=[80, 80, 80, 80, 80])
    assessed = Premise("teacher ahead", Contrast("teacher", "student"), 3.0).assess(arms)
    half = T_975_4 * math.sqrt(0.5) / math.sqrt(5)
    assert assessed["measured"] == pytest.approx(5.0) and assessed["ci"] == pytest.approx([5 - half, 5 + half])
    assert assessed["status"] == "holds" and assessed["holds"] is True
    # the threshold above the whole interval: fails; inside it: uncertain
    assert Premise("s", Contrast("teacher", "student"), 6.0).assess(arms)["status"] == "fails"
    assert Premise("s", Contrast("teacher", "student"), 5.5).assess(arms)["status"] == "uncertain"
    # the mean reaches the threshold, the interval includes 0: uncertain, not "holds"
    noisy = _arms(teacher=[89, 78, 85, 76, 88], student=[80] * 5)
    assert Premise("s", Contrast("teacher", "student"), 3.0).assess(noisy)["status"] == "uncertain"
    # one seed has no interval: never decided on a point estimate
    assert Premise("s", Contrast("teacher", "student"), 3.0).assess(_arms(teacher=[90], student=[80]))["status"] \
        == "uncertain"
    # a constant stands for itself: 100 - accuracy is an error rate
    error = Premise("s", Contrast(100.0, "student"), 3.0).assess(_arms(student=[80, 81, 79, 80, 80]))
    assert error["measured"] == pytest.approx(20.0) and error["status"] == "holds"
    assert Premise("s", Contrast("teacher", "missing"), 3.0).assess(arms)["status"] == "not measured"


def test_a_premise_of_several_contrasts_holds_when_all_hold_and_fails_when_one_fails():
    arms = _arms(a=[90, 91, 90, 91, 90], b=[84, 85, 84, 85, 84], student=[80] * 5)
    both = Premise("s", (Contrast("a", "student"), Contrast("b", "student")), 3.0).assess(arms)
    assert both["status"] == "holds" and both["measured"] == pytest.approx(4.4)          # the weaker contrast
    assert [part["status"] for part in both["contrasts"]] == ["holds", "holds"]
    one_fails = Premise("s", (Contrast("a", "student"), Contrast("b", "student")), 6.0).assess(arms)
    assert [part["status"] for part in one_fails["contrasts"]] == ["holds", "fails"]
    assert one_fails["status"] == "fails"


def _toy(monkeypatch, threshold: float = 1.0, reading_support: str = "the text says so") -> registry.Reproduction:
    """A registered toy reproduction: a method arm, a second reading of it, a baseline and a teacher."""
    def run_seed(settings, seed, progress):
        return {"method": {"final": 80.0 + seed % 2, "curve": []}, "baseline": {"final": 78.0, "curve": []},
                "other-reading": {"final": 77.0 + 0.1 * seed, "curve": []},
                "teacher": {"final": 85.0 + 0.2 * seed, "curve": []}}

    presets = {preset: {"dataset": "digits", "seeds": 5} for preset in ("smoke", "book", "paper")}
    toy = registry.Reproduction(
        name="toy-protocol", paper="p", claim="the method beats the baseline", metric="accuracy (%)",
        arms=("method", "baseline", "other-reading", "teacher"), presets=presets, run_seed=run_seed,
        premise=Premise("the teacher knows more", Contrast("teacher", "baseline"), threshold),
        against="the baseline of the paper's table", open_point="whether the target is detached",
        readings=(Reading("detached", "method", "targets detached", reading_support, favoured=True),
                  Reading("attached", "other-reading", "targets attached", "the loss as printed")),
        further_claims=(Measure("above-teacher", "the method beats the teacher", Contrast("method", "teacher")),))
    registry.check_protocol(toy)
    monkeypatch.setitem(registry._REGISTRY, toy.name, toy)
    monkeypatch.setattr(registry, "data_summary", lambda settings: {"dataset": "digits", "test_size": 100})
    return toy


def test_a_book_record_runs_on_the_confirmatory_seeds_and_stores_its_protocol(monkeypatch, tmp_path):
    toy = _toy(monkeypatch)
    monkeypatch.setattr(registry, "git_clean", lambda: True)
    record = registry.run(toy.name, "book", out=str(tmp_path), progress=False)
    assert record["seeds"] == [5, 6, 7, 8, 9] and record["arms"]["method"]["per_seed"] == [81, 80, 81, 80, 81]
    assert record["protocol"] == toy.protocol("book") and record["protocol_hash"] == protocol_hash(toy.protocol("book"))
    assert record["protocol_status"] == CONFIRMATORY
    # readings: each its own verdict against the baseline
    assert record["readings"]["detached"]["effect"]["verdict"] == "reproduced"
    assert record["readings"]["attached"]["of"] == "other-reading - baseline"
    assert record["readings"]["attached"]["effect"]["mean"] == pytest.approx(-0.3)
    assert record["further_claims"]["above-teacher"]["verdict"] == "reversed"
    assert registry.run(toy.name, "smoke", out=None, progress=False)["seeds"] == [0, 1, 2, 3, 4]


def test_an_edited_premise_changes_no_committed_verdict(monkeypatch, tmp_path):
    toy = _toy(monkeypatch, threshold=1.0)
    monkeypatch.setattr(registry, "git_clean", lambda: True)
    saved = json.loads(json.dumps(registry.run(toy.name, "book", out=str(tmp_path), progress=False)))
    assert saved["premise"]["status"] == "holds" and saved["effect"]["verdict"] == "reproduced"
    _toy(monkeypatch, threshold=50.0)                         # the premise edited after the record
    reassessed = registry.assess(saved)
    assert reassessed["premise"]["status"] == "holds" and reassessed["effect"]["verdict"] == "reproduced"
    assert reassessed["protocol_status"] == CHANGED
    _toy(monkeypatch, threshold=1.0, reading_support="edited")     # any field: a reading's text too
    assert registry.assess(saved)["protocol_status"] == CHANGED
    _toy(monkeypatch, threshold=1.0)
    assert registry.assess(saved)["protocol_status"] == CONFIRMATORY
    assert registry.assess({**saved, "git_clean": False})["protocol_status"] == MODIFIED_TREE


def test_a_record_whose_protocol_was_edited_by_hand_is_refused(monkeypatch, tmp_path):
    toy = _toy(monkeypatch)
    saved = registry.run(toy.name, "book", out=str(tmp_path), progress=False)
    forged = {**saved, "protocol": {**saved["protocol"], "premise": {**saved["protocol"]["premise"], "threshold": 0}}}
    with pytest.raises(ValueError, match="does not match its protocol_hash"):
        registry.assess(forged)


def test_judge_uses_only_the_stored_protocol():
    protocol = {"comparison": {"method": "m", "baseline": "b", "against": "x"}, "open_point": "",
                "premise": Premise("s", Contrast("t", "b"), 1.0).to_dict(), "readings": [], "further_claims": [],
                "diagnostics": [Measure("d", "diag", Contrast("m", 0.0)).to_dict()],
                "analysis": {"confidence": 0.95, "power": 0.8, "equivalence": None}}
    judged = judge(protocol, _arms(m=[2, 3, 4, 3, 3], b=[1, 1, 1, 1, 1], t=[5, 5, 6, 5, 5]))
    assert judged["effect"]["of"] == "m - b" and judged["effect"]["mean"] == pytest.approx(2.0)
    assert judged["diagnostics"]["d"]["mean"] == pytest.approx(3.0) and "verdict" not in judged["diagnostics"]["d"]


def test_registration_refuses_protocols_that_cannot_be_judged(monkeypatch):
    toy = _toy(monkeypatch)
    fields = dict(toy.__dict__)

    def variant(**changes):
        return registry.Reproduction(**{**fields, **changes})

    with pytest.raises(ValueError, match="against="):
        registry.check_protocol(variant(against=""))
    with pytest.raises(ValueError, match="method's own output"):
        registry.check_protocol(variant(premise=Premise("s", Contrast("method", "baseline"), 1.0)))
    with pytest.raises(ValueError, match="method's own output"):    # a reading's arm is a method output too
        registry.check_protocol(variant(premise=Premise("s", Contrast("other-reading", "baseline"), 1.0)))
    with pytest.raises(ValueError, match="not declared"):
        registry.check_protocol(variant(premise=Premise("s", Contrast("ghost", "baseline"), 1.0)))
    with pytest.raises(ValueError, match="exactly one favoured"):
        registry.check_protocol(variant(readings=(Reading("a", "method", "m", "s"),)))


@pytest.mark.parametrize("name", reproduction_names())
def test_every_reproduction_states_its_comparison_and_a_premise_off_the_method(name):
    reproduction = get_reproduction(name)
    registry.check_protocol(reproduction)
    protocol = reproduction.protocol("book")
    assert protocol["comparison"]["against"] and protocol["seeds"] == [5, 6, 7, 8, 9]


def test_the_protocol_command_prints_the_protocol_and_its_hash(capsys):
    from snnlab.cli import main

    assert main(["protocol", "tssd-events"]) == 0
    text, _, last = capsys.readouterr().out.rstrip().rpartition("\n")
    protocol = get_reproduction("tssd-events").protocol("book")
    assert json.loads(text) == protocol and last == f"protocol_hash {protocol_hash(protocol)}"
    assert [r["arm"] for r in protocol["readings"]] == ["tssd-one-way", "tssd-detached", "tssd"]


def test_git_clean_ignores_what_runs_write_and_sees_everything_else(tmp_path):
    import subprocess

    from snnlab.reproducibility import git_clean

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    assert git_clean(tmp_path) is None                                    # not a repository
    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    assert git_clean(tmp_path) is True
    (tmp_path / "results" / "tet-book.json").write_text("{}")            # a record being written
    assert git_clean(tmp_path) is True
    (tmp_path / "new.py").write_text("")                                   # an untracked source file
    assert git_clean(tmp_path) is False
    (tmp_path / "new.py").unlink()
    (tmp_path / "code.py").write_text("x = 2\n")                           # a modified one
    assert git_clean(tmp_path) is False
