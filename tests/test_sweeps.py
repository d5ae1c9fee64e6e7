"""Sweeps and saved records: a sweep summarises every point over seeds, a saved record is read back (with the list of
its differences from the current preset, never retrained silently), and the TSSD and SSNN sweeps run end to end at
the smoke preset."""
from __future__ import annotations

import json

import pytest

from snnlab.repro import recorded_run, recorded_sweep, registry, run, run_sweep, sweeps


def _toy(monkeypatch, calls):
    def run_seed(settings, seed, progress):
        calls.append(("run", seed))
        return {"method": {"final": settings["value"] + seed, "curve": []}, "baseline": {"final": 0.0, "curve": []}}

    def run_point(settings, value, seed, progress):
        calls.append(("point", value, seed))
        return {"a": settings["value"] * value + seed, "b": -value}

    presets = {preset: {"dataset": "digits", "value": 2.0, "seeds": 2} for preset in ("smoke", "book", "paper")}
    monkeypatch.setitem(registry._REGISTRY, "toy", registry.Reproduction(
        name="toy", paper="p", claim="c", metric="m", arms=("method", "baseline"), presets=presets,
        run_seed=run_seed, premise=registry.Premise("method above 1", registry.Contrast("method", 0.0), 1.0),
        against="baseline"))
    monkeypatch.setitem(sweeps._SWEEPS, "toy-sweep", sweeps.Sweep(
        name="toy-sweep", reproduction="toy", parameter="v", values={"book": (1, 3)}, run_point=run_point))
    return presets


def test_sweep_summarises_each_point_over_seeds_and_is_read_back_with_its_differences(tmp_path, monkeypatch):
    calls = []
    presets = _toy(monkeypatch, calls)
    record = run_sweep("toy-sweep", "book", out=tmp_path, progress=False)
    assert record["values"] == [1, 3] and record["seeds"] == 2
    assert [p["per_seed"] for p in record["series"]["a"]] == [[2.0, 3.0], [6.0, 7.0]]
    assert [p["mean"] for p in record["series"]["b"]] == [-1.0, -3.0]
    assert json.loads((tmp_path / "toy-sweep-book.json").read_text())["series"] == record["series"]

    calls.clear()
    saved = recorded_sweep("toy-sweep", "book", results=tmp_path)
    assert saved["source"] == str(tmp_path / "toy-sweep-book.json") and saved["stale"] == []
    assert calls == []                                                              # nothing trained
    assert recorded_sweep("toy-sweep", "book", results=tmp_path, rerun=True)["source"] == "run now"
    presets["book"]["value"] = 5.0                                                 # the preset changed
    calls.clear()
    stale = recorded_sweep("toy-sweep", "book", results=tmp_path)
    assert stale["stale"] == ["setting.value: 2.0 in the record, 5.0 in the preset"] and calls == []
    fresh = recorded_sweep("toy-sweep", "book", results=tmp_path, rerun=True)
    assert fresh["source"] == "run now" and fresh["series"]["a"][0]["per_seed"] == [5.0, 6.0] and calls
    with pytest.raises(ValueError, match="no values for preset 'paper'; available: book"):
        run_sweep("toy-sweep", "paper", out=None)
    with pytest.raises(ValueError, match="unknown sweep 'nope'"):
        run_sweep("nope")


def test_recorded_run_reads_the_saved_record_and_names_what_changed(tmp_path, monkeypatch):
    calls = []
    presets = _toy(monkeypatch, calls)
    written = run("toy", "book", out=str(tmp_path), progress=False)
    assert written["data"] == {"dataset": "digits", "train_size": 1257, "test_size": 540, "checksum": None}
    assert written["seeds"] == [5, 6] and written["premise"]["measured"] == 7.5     # 2 + seed, book seeds 5, 6
    assert written["effect"]["test_size"] == 540
    calls.clear()
    saved = recorded_run("toy", "book", results=tmp_path)
    assert saved["source"] == str(tmp_path / "toy-book.json") and saved["stale"] == [] and calls == []
    presets["book"]["value"] = 7.0
    stale = recorded_run("toy", "book", results=tmp_path)
    assert stale["stale"] == ["value: 2.0 in the record, 7.0 in the preset"] and calls == []
    fresh = recorded_run("toy", "book", results=tmp_path, rerun=True)
    assert fresh["source"] == "run now" and fresh["arms"]["method"]["per_seed"] == [12.0, 13.0]


def test_tssd_and_ssnn_sweeps_run_at_the_smoke_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path / "data"))
    tssd = run_sweep("tssd-teacher-steps", "smoke", out=None, progress=False)
    assert tssd["values"] == [2, 4] and all(0 <= p["mean"] <= 100 for p in tssd["series"]["tssd"])
    # one training run per point and seed, on this CPU, with TSSD's rectangular surrogate (never fused)
    assert tssd["execution"] == {"devices": ["cpu"], "amp": [False], "neuron_implementations": ["snnlab-cpu"],
                                 "training_runs": 2}
    ssnn = run_sweep("ssnn-average-steps", "smoke", out=None, progress=False)
    assert [p["mean"] for p in ssnn["series"]["T_avg"]] == [2.0, 3.0]
    assert set(ssnn["series"]) == {"ssnn", "baseline", "T_avg"}


def test_ssnn_sweep_refuses_a_layout_without_a_whole_average():
    from snnlab.repro import get_reproduction
    from snnlab.repro.papers.ssnn import average_steps_point

    with pytest.raises(ValueError, match="T_avg = 2.33"):
        average_steps_point(get_reproduction("ssnn").settings("smoke"), (4, 2, 1), 0, False)
