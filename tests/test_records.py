"""The committed records under results/ are the ones the chapters show: each must still describe its reproduction's
current book preset (else the book build would train again, or show numbers of another setting)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from snnlab.repro import get_reproduction, get_sweep

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT / "results").glob("*-book.json"))
SWEEP_RECORDS = sorted((ROOT / "results" / "sweeps").glob("*-book.json"))


def _plain(value):
    return json.loads(json.dumps(value))


def test_there_are_book_records():
    expected = {"tet", "mskd", "lc-ttfs", "tssd", "tssd-events", "ssnn", "kdsnn", "lasnn", "joint-asnn", "spikingbert"}
    assert expected <= {p.name[:-len("-book.json")] for p in RECORDS}
    assert {"tssd-teacher-steps", "ssnn-average-steps"} <= {p.name[:-len("-book.json")] for p in SWEEP_RECORDS}


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_book_record_matches_its_preset(path):
    record = json.loads(path.read_text())
    reproduction = get_reproduction(record["name"])
    settings = reproduction.settings("book")
    assert record["setting"] == _plain(settings), (
        f"the book preset of {record['name']!r} changed: rerun `snnlab reproduce {record['name']} --preset book` "
        "and commit the record")
    assert tuple(record["arms"]) == reproduction.arms
    assert all(arm["n"] == settings["seeds"] for arm in record["arms"].values())
    assert record["effect"]["per_seed"] == pytest.approx(
        [a - b for a, b in zip(*(record["arms"][arm]["per_seed"] for arm in reproduction.arms[:2]))])


@pytest.mark.parametrize("path", SWEEP_RECORDS, ids=[p.stem for p in SWEEP_RECORDS])
def test_sweep_record_matches_its_preset(path):
    record = json.loads(path.read_text())
    sweep = get_sweep(record["name"])
    settings = get_reproduction(sweep.reproduction).settings("book")
    assert record["setting"] == _plain(settings) and record["values"] == sweep.values_for("book"), (
        f"the book preset of sweep {record['name']!r} changed: rerun `snnlab sweep {record['name']} --preset book` "
        "and commit the record")
    assert record["seeds"] == settings["seeds"]
    assert all(len(points) == len(record["values"]) for points in record["series"].values())
