"""The Results page's families: every reproduction and every common-ground method in one, each chapter's verdict
beside its common-ground arm with the recipe items that differ, the premise measured again on common ground, and
exploratory records marked as such."""
from __future__ import annotations

import copy
import json
import statistics
from pathlib import Path

import pytest

from snnlab.repro import assess, reproduction_names
from snnlab.repro.papers.common_ground import PRESETS as COMMON_PRESETS
from snnlab.repro.papers.common_ground import SNN_ARMS, deployment
from snnlab.repro.papers.story import FAMILIES, common_ground_recipe, family_story, findings, recipe, story

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT / "results").glob("*-book.json"))
COMMON = json.loads((ROOT / "results" / "comparisons" / "common-ground-book.json").read_text())


def _record(name: str) -> dict:
    return assess(json.loads((ROOT / "results" / f"{name}-book.json").read_text()))


def test_every_reproduction_and_every_common_ground_method_has_one_family():
    listed = [name for family in FAMILIES for name in family.reproductions]
    assert sorted(listed) == sorted(reproduction_names())
    arms = [arm for family in FAMILIES for arm in family.arms.values()]
    assert sorted(set(arms)) == sorted(arm for arm in SNN_ARMS if arm != "plain")
    for family in FAMILIES:
        assert set(family.arms) | set(family.premise_arms) <= set(family.reproductions), family.name


def test_deployment_counts_the_steps_that_run_one_after_the_other():
    setting = COMMON_PRESETS["book"]
    deployed = deployment(setting)
    assert set(deployed) == set(COMMON["arms"])
    assert deployed["ssnn"]["steps"] == sum(setting["ssnn_steps"]) > setting["T"]    # stages wait for each other
    recorded = {arm: summary["metrics"]["latency"]["mean"] for arm, summary in COMMON["arms"].items()}
    for arm in set(deployed) - {"ssnn"}:                     # SSNN's record holds T_avg, not the sequential count
        assert deployed[arm]["steps"] == recorded[arm], arm
    assert deployed["lasnn"]["input"] != deployed["plain"]["input"] and "Poisson" in deployed["lasnn"]["input"]


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_every_record_has_a_recipe_in_words(path):
    ours = recipe(assess(json.loads(path.read_text())))
    assert set(ours) == {"network", "input", "steps", "data", "training"} and all(ours.values())


def test_a_chapter_and_its_common_ground_arm_side_by_side():
    """Joint A-SNN: the premise measured again on the common-ground arms (here the ANN of the backbone against the
    plain SNN, computed independently), the recipe items that differ and no others, and the exploratory mark."""
    record = copy.deepcopy(_record("joint-asnn"))
    family = next(f for f in FAMILIES if "joint-asnn" in f.reproductions)
    text = family_story(family, {"joint-asnn": record}, COMMON)
    ann, plain = COMMON["arms"]["ann"]["per_seed"], COMMON["arms"]["plain"]["per_seed"]
    assert f"measured {statistics.mean(a - p for a, p in zip(ann, plain)):+.2f}" in text
    ours, theirs = recipe(record), common_ground_recipe(COMMON, "joint-asnn")
    labels = {"network": "network", "input": "input coding", "steps": "sequential time steps", "data": "data",
              "training": "training"}
    for key, label in labels.items():                                            # a row only where they differ
        assert (f"| {label} | {ours[key]} | {theirs[key]} |" in text) == (ours[key] != theirs[key]), key
    difference = COMMON["differences"]["joint-asnn"]
    assert f"`joint-asnn` − plain = {difference['mean']:+.2f}" in text
    assert ("exploratory" in text) == (record["protocol_status"] != "confirmatory")
    record["protocol_status"] = "confirmatory"
    assert "exploratory" not in family_story(family, {"joint-asnn": record}, COMMON)


def test_findings_sort_each_verdict():
    record = copy.deepcopy(_record("lasnn"))
    kinds = {"reproduced": "holds", "reversed": "does not hold", "inconclusive": "not shown",
             "premise not met": "cannot be tested here"}
    for verdict, kind in kinds.items():
        record["effect"]["verdict"] = verdict
        assert findings(record)[0][0] == kind


def test_a_missing_record_is_named_with_the_command_that_writes_it():
    text = story([], COMMON)
    for name in reproduction_names():
        assert f"`{name}`: no book record yet (`snnlab reproduce {name} --preset book`" in text
    assert text.count("### ") == len(FAMILIES)
