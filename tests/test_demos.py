"""Demonstrations: a run writes its measurements with the setting and provenance, a saved record is read back (with
the list of its differences from the current preset, never retrained silently), the command line writes it, and
every registered demonstration runs at the smoke preset and measures what its chapter shows."""
from __future__ import annotations

import json

import pytest

from snnlab.cli import main
from snnlab.energy import EnergyReport
from snnlab.repro import demos, recorded_demonstration, run_demonstration
from snnlab.repro.papers.energy_twins import PRESETS as TWIN_PRESETS
from snnlab.repro.papers.tssd import EXIT_THRESHOLDS


def _toy(monkeypatch, calls):
    def run(settings, progress):
        calls.append(settings["value"])
        return {"doubled": [2 * settings["value"]], "label": "toy", "steps": (1, 2)}

    presets = {preset: {"value": 1.5} for preset in ("smoke", "book", "paper")}
    monkeypatch.setitem(demos._DEMONSTRATIONS, "toy", demos.Demonstration(
        name="toy", description="doubles its value", presets=presets, run=run))
    return presets


def test_a_run_writes_its_measurements_with_setting_and_provenance(tmp_path, monkeypatch):
    calls = []
    _toy(monkeypatch, calls)
    record = run_demonstration("toy", "book", out=tmp_path, progress=False)
    assert calls == [1.5] and record["measured"] == {"doubled": [3.0], "label": "toy", "steps": [1, 2]}
    assert record["setting"] == {"value": 1.5} and record["description"] == "doubles its value"
    assert record["wall_clock_s"] >= 0 and record["created"] and "hardware" in record and "execution" in record
    saved = json.loads((tmp_path / "toy-book.json").read_text())
    assert saved == {key: value for key, value in record.items() if key != "path"}


def test_a_saved_record_is_read_back_with_what_changed_and_smoke_runs_are_not_written(tmp_path, monkeypatch):
    calls = []
    presets = _toy(monkeypatch, calls)
    run_demonstration("toy", "book", out=tmp_path, progress=False)
    saved = recorded_demonstration("toy", "book", results=tmp_path)
    assert calls == [1.5] and saved["source"] == str(tmp_path / "toy-book.json") and saved["stale"] == []
    presets["book"]["value"] = 2.0
    assert recorded_demonstration("toy", "book", results=tmp_path)["stale"] == [
        "value: 1.5 in the record, 2.0 in the preset"]
    rerun = recorded_demonstration("toy", "book", results=tmp_path, rerun=True)
    assert calls == [1.5, 2.0] and rerun["source"] == "run now" and rerun["measured"]["doubled"] == [4.0]
    assert json.loads((tmp_path / "toy-book.json").read_text())["measured"]["doubled"] == [4.0]
    recorded_demonstration("toy", "smoke", results=tmp_path)
    assert calls == [1.5, 2.0, 1.5] and not (tmp_path / "toy-smoke.json").exists()


def test_bad_demonstrations_and_names_are_clear_errors(monkeypatch):
    _toy(monkeypatch, [])
    with pytest.raises(ValueError, match=r"demonstration 'x' lacks presets \['paper'\]"):
        demos.Demonstration(name="x", description="d", presets={"smoke": {}, "book": {}}, run=None)
    with pytest.raises(ValueError, match="unknown demonstration 'toyy'.*did you mean 'toy'"):
        run_demonstration("toyy")
    with pytest.raises(ValueError, match="unknown preset 'bok'"):
        run_demonstration("toy", "bok")


def test_cli_demo_writes_the_record_and_list_names_the_demonstrations(tmp_path, monkeypatch, capsys):
    _toy(monkeypatch, [])
    assert main(["demo", "toy", "--preset", "book", "--quiet", "--out", str(tmp_path)]) == 0
    assert "toy [book]: doubles its value" in capsys.readouterr().out and (tmp_path / "toy-book.json").exists()
    assert main(["list"]) == 0
    assert "demos:        energy-twins, toy, tssd-inference" in capsys.readouterr().out


def test_tssd_inference_measures_both_networks_at_every_step_and_the_early_exit():
    record = run_demonstration("tssd-inference", "smoke", out=None, progress=False)
    measured, setting = record["measured"], record["setting"]
    assert measured["steps"] == list(range(1, 2 * setting["T_t"] + 1))
    assert set(measured["accuracy"]) == {"tssd", "plain"}
    assert all(len(curve) == len(measured["steps"]) for curve in measured["accuracy"].values())
    exit_curve = measured["early_exit"]
    assert exit_curve["thresholds"] == list(EXIT_THRESHOLDS) and len(exit_curve["accuracy"]) == len(EXIT_THRESHOLDS)
    assert all(0 <= value <= 100 for value in exit_curve["accuracy"] + exit_curve["exited"])
    assert exit_curve["exited"] == sorted(exit_curve["exited"], reverse=True)   # a higher bar lets fewer leave early
    assert record["execution"]["training_runs"] == 2


def test_energy_twins_report_the_ann_and_an_snn_at_every_step():
    measured = run_demonstration("energy-twins", "smoke", out=None, progress=False)["measured"]
    steps = TWIN_PRESETS["smoke"]["steps"]
    assert list(measured["models"]) == ["ANN", *(f"SNN T={T}" for T in steps)]
    assert measured["eval_images"] == TWIN_PRESETS["smoke"]["eval_batch"]
    ann = EnergyReport.from_dict(measured["models"]["ANN"]["report"])
    assert ann.sops == 0 and ann.macs == ann.ops and not ann.firing_rates
    for T in steps:
        twin = measured["models"][f"SNN T={T}"]
        report = EnergyReport.from_dict(twin["report"])
        assert twin["T"] == T and report.steps == T and report.ops == T * ann.ops
        assert report.to_dict() == twin["report"] and report.firing_rates     # the round trip loses nothing
        assert all(entry.macs == 0 for entry in report.layers[1:])           # spike-driven after the first layer
    before = measured["pooling_before_neurons"]              # the largest T again, poolings before the neurons
    report = EnergyReport.from_dict(before["report"])
    assert before["T"] == steps[-1] and report.ops == steps[-1] * ann.ops and 0 <= before["accuracy"] <= 100
