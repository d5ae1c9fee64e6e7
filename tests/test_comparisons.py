"""Comparisons: every arm summarised over the seeds and set against the baseline by paired differences (checked
against an independent computation), saved seeds resumed, saved records read back; and the common-ground comparison
end to end at the smoke preset, its latencies, energies and training times checked against their definitions."""
from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from snnlab.cli import main
from snnlab.energy import E_AC_PJ, E_MAC_PJ
from snnlab.repro import comparisons, recorded_comparison, run_comparison
from snnlab.repro.papers.common_ground import ARMS, PRESETS, SNN_ARMS
from snnlab.repro.seed_store import SeedStore

_ARM_OFFSETS = {"base": 0.0, "better": 2.0, "noisy": 0.0}


def _toy(monkeypatch, calls):
    def run_seed(settings, seed, progress):
        calls.append(seed)
        values = {"base": 50.0 + seed, "better": 52.0 + seed + 0.5 * (seed % 2), "noisy": 50.0 + (-1) ** seed * 3}
        return {arm: {"final": value, "curve": [value], "metrics": {"train_s": 1.0 + seed}}
                for arm, value in values.items()}

    presets = {preset: {"dataset": "digits", "value": 1, "seeds": 4} for preset in ("smoke", "book", "paper")}
    monkeypatch.setitem(comparisons._COMPARISONS, "toy", comparisons.Comparison(
        name="toy", question="q", metric="m", arms=("base", "better", "noisy"), baseline="base", presets=presets,
        run_seed=run_seed))
    return presets


def _independent_difference(method, baseline):
    diffs = [m - b for m, b in zip(method, baseline)]
    n, mean = len(diffs), sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return mean, (mean - half, mean + half)


def test_every_arm_is_compared_with_the_baseline_by_paired_differences(tmp_path, monkeypatch):
    calls = []
    _toy(monkeypatch, calls)
    record = run_comparison("toy", "book", out=tmp_path, progress=False)
    assert calls == [0, 1, 2, 3] and record["baseline"] == "base"
    assert set(record["differences"]) == {"better", "noisy"}                  # the baseline is not compared with itself
    for arm in ("better", "noisy"):
        mean, (low, high) = _independent_difference(record["arms"][arm]["per_seed"], record["arms"]["base"]["per_seed"])
        difference = record["differences"][arm]
        assert difference["mean"] == pytest.approx(mean) and difference["ci"] == pytest.approx([low, high])
        assert difference["n"] == 4 and difference["mde"] > 0 and "verdict" not in difference
    assert record["differences"]["better"]["ci"][0] > 0                     # +2.25 with a small spread
    assert record["differences"]["noisy"]["ci"][0] < 0 < record["differences"]["noisy"]["ci"][1]
    assert record["arms"]["better"]["metrics"]["train_s"]["per_seed"] == [1.0, 2.0, 3.0, 4.0]
    saved = json.loads((tmp_path / "toy-book.json").read_text())
    assert saved["differences"] == record["differences"] and saved["question"] == "q"
    assert not (tmp_path / "toy-book.partial").exists()


def test_an_interrupted_comparison_resumes_and_a_saved_one_is_read_back(tmp_path, monkeypatch):
    calls = []
    presets = _toy(monkeypatch, calls)
    first = run_comparison("toy", "book", seeds=2, out=tmp_path, progress=False)
    store = SeedStore(tmp_path / "toy-book.partial", presets["book"])
    for seed in range(2):                                                   # two seeds saved, then interrupted
        store.save(seed, {arm: {"final": first["arms"][arm]["per_seed"][seed], "curve": [],
                                "metrics": {"train_s": 0.0}} for arm in ("base", "better", "noisy")})
    calls.clear()
    with pytest.raises(FileExistsError, match="holds 2 finished seed"):
        run_comparison("toy", "book", out=tmp_path, progress=False)
    resumed = run_comparison("toy", "book", out=tmp_path, progress=False, resume=True)
    assert calls == [2, 3] and resumed["arms"]["base"]["n"] == 4

    calls.clear()
    saved = recorded_comparison("toy", "book", results=tmp_path)
    assert calls == [] and saved["source"] == str(tmp_path / "toy-book.json") and saved["stale"] == []
    presets["book"]["value"] = 2
    assert recorded_comparison("toy", "book", results=tmp_path)["stale"] == [
        "value: 1 in the record, 2 in the preset"]


def test_bad_comparisons_and_names_are_clear_errors(monkeypatch):
    _toy(monkeypatch, [])
    with pytest.raises(ValueError, match="the baseline 'nope' is not one of its arms"):
        comparisons.Comparison(name="x", question="q", metric="m", arms=("a",), baseline="nope",
                               presets={p: {} for p in ("smoke", "book", "paper")}, run_seed=None)
    with pytest.raises(ValueError, match=r"lacks presets \['paper'\]"):
        comparisons.Comparison(name="x", question="q", metric="m", arms=("a",), baseline="a",
                               presets={p: {} for p in ("smoke", "book")}, run_seed=None)
    with pytest.raises(ValueError, match="unknown comparison 'toyy'.*did you mean 'toy'"):
        run_comparison("toyy")
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        run_comparison("toy", seeds=0, out=None)


@pytest.fixture(scope="module")
def common_ground_smoke():
    return run_comparison("common-ground", "smoke", out=None, progress=False)


def test_common_ground_runs_every_method_on_one_backbone_and_budget(common_ground_smoke):
    record, setting = common_ground_smoke, PRESETS["smoke"]
    assert tuple(record["arms"]) == ARMS and record["baseline"] == "plain"
    assert set(record["differences"]) == set(ARMS) - {"plain"}
    for arm, summary in record["arms"].items():
        metrics = summary["metrics"]
        assert 0.0 <= summary["mean"] <= 100.0 and metrics["train_s"]["mean"] > 0 and metrics["energy_pj"]["mean"] > 0
        assert metrics["latency"]["mean"] == {"ssnn": 2.0, "lc-ttfs": 8.0, "ann": 1.0, "teacher": 1.0}.get(
            arm, float(setting["T"])), arm
    # SSNN: one spiking layer per stage of the small CNN, so T_avg is the mean of the stage steps (3 + 2 + 1) / 3;
    # LC-TTFS: one window per converted layer (three convolutions, four poolings, the classifier).
    arms = record["arms"]
    # the teacher's passes are part of what KDSNN and LaSNN cost
    for arm in ("kdsnn", "lasnn"):
        assert arms[arm]["metrics"]["train_s"]["mean"] > arms["teacher"]["metrics"]["train_s"]["mean"]
    # an ANN pays a MAC per operation; the TTFS network one AC per synapse and no MAC
    for arm in ("ann", "teacher"):
        metrics = arms[arm]["metrics"]
        assert metrics["sops"]["mean"] == 0
        assert metrics["energy_pj"]["mean"] == pytest.approx(metrics["macs"]["mean"] * E_MAC_PJ)
    ttfs = arms["lc-ttfs"]["metrics"]
    assert ttfs["macs"]["mean"] == 0 and ttfs["energy_pj"]["mean"] == pytest.approx(ttfs["sops"]["mean"] * E_AC_PJ)
    # LC-TTFS's conversion is lossless: the TTFS network agrees with its ANN on every test image
    assert ttfs["agreement"]["mean"] == 100.0 and arms["lc-ttfs"]["mean"] == ttfs["ann_acc"]["mean"]
    for arm in SNN_ARMS[:-1]:
        assert 0.0 <= arms[arm]["metrics"]["firing_rate"]["mean"] <= 1.0


def test_cli_compare_prints_every_arm_against_the_baseline_and_writes_the_record(tmp_path, monkeypatch, capsys):
    _toy(monkeypatch, [])
    assert main(["compare", "toy", "--preset", "book", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "toy [book] m, 4 seed(s)" in out and "better" in out and "vs base: +2.25 [" in out
    assert (tmp_path / "toy-book.json").exists()
    assert main(["list"]) == 0 and "comparisons:  common-ground" in capsys.readouterr().out
