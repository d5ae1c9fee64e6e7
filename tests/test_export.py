"""Records as tidy tables: ``tidy_rows``, ``history_rows``, ``load_records`` and ``snnlab export``."""
import csv
import io
import json

import pytest

from snnlab.cli import main
from snnlab.repro.export import COLUMNS, history_path, history_rows, load_records, tidy_rows, write_history_csv

METRIC = "test accuracy (%)"


def _record(readings: bool = True) -> dict:
    """A record as :func:`snnlab.repro.run` writes it: two seeds (5 and 6), a method arm with a further metric and
    a per-epoch history, a baseline with curves only."""
    history = [[{"epoch": 1, "loss": 2.0, "loss/ce": 1.5, "loss/kd": 0.5, "train_acc": 40.0, "lr": 0.1, "time_s": 3.0,
                 "test_acc": 50.0},
                {"epoch": 2, "loss": 1.0, "loss/ce": 0.8, "loss/kd": 0.2, "train_acc": 60.0, "lr": 0.05,
                 "time_s": 3.1, "test_acc": 61.0}]] * 2
    record = {
        "name": "kdsnn", "preset": "book", "variant": None, "metric": METRIC, "seeds": [5, 6],
        "setting": {"seeds": 2, "train": {"epochs": 2}},
        "arms": {
            "kd": {"per_seed": [61.0, 62.0], "mean": 61.5, "curves": [[50.0, 61.0], [51.0, 62.0]],
                   "histories": history, "metrics": {"energy_pj": {"per_seed": [10.0, 11.0], "mean": 10.5}}},
            "snn": {"per_seed": [60.0, 60.5], "mean": 60.25, "curves": [[49.0, 60.0], [48.0, 60.5]]},
        },
    }
    if readings:
        record["readings"] = {"as-written": {"arm": "kd", "effect": {"mean": 1.25}}}
    return record


def test_tidy_rows_hold_every_raw_value_once():
    rows = tidy_rows(_record())
    assert all(tuple(row) == COLUMNS for row in rows)
    assert len(rows) == 2 * 2 + 2                              # kd: metric + energy over 2 seeds; snn: metric
    kd_energy = [r for r in rows if r["arm"] == "kd" and r["metric"] == "energy_pj"]
    assert [(r["seed"], r["value"]) for r in kd_energy] == [(5, 10.0), (6, 11.0)]
    assert {r["reading"] for r in rows if r["arm"] == "kd"} == {"as-written"}
    assert {r["reading"] for r in rows if r["arm"] == "snn"} == {""}
    assert {r["reading"] for r in tidy_rows(_record(readings=False))} == {""}


def test_history_rows_keep_loss_terms_and_fall_back_to_curves():
    rows = history_rows(_record())
    kd = [r for r in rows if r["arm"] == "kd"]
    assert len(kd) == 4 and kd[1]["seed"] == 5 and kd[1]["epoch"] == 2 and kd[1]["loss/kd"] == 0.2
    assert kd[1]["lr"] == 0.05 and kd[1]["time_s"] == 3.1
    snn = [r for r in rows if r["arm"] == "snn"]
    assert [(r["seed"], r["epoch"], r["test_acc"]) for r in snn] == [(5, 1, 49.0), (5, 2, 60.0), (6, 1, 48.0),
                                                                       (6, 2, 60.5)]


def test_history_csv_is_written_beside_the_record(tmp_path):
    path = write_history_csv(_record(), tmp_path / "kdsnn-book.json")
    assert path == history_path(tmp_path / "kdsnn-book.json") == tmp_path / "kdsnn-book.history.csv"
    table = list(csv.DictReader(path.open()))
    assert len(table) == 8 and table[0]["loss/ce"] == "1.5" and table[-1]["loss/ce"] == ""


def test_export_command_writes_a_tidy_csv_and_json(tmp_path, capsys):
    (tmp_path / "kdsnn-book.json").write_text(json.dumps(_record()))
    (tmp_path / "other-book.json").write_text(json.dumps({**_record(), "name": "other"}))
    assert main(["export", "kdsnn", "--results", str(tmp_path)]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(table) == 6 and tuple(table[0]) == COLUMNS and {r["reproduction"] for r in table} == {"kdsnn"}
    out = tmp_path / "kdsnn.json"
    assert main(["export", "kdsnn", "--results", str(tmp_path), "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == tidy_rows(_record())
    assert main(["export", "kdsnn", "--results", str(tmp_path), "--history"]) == 0
    assert "loss/kd" in capsys.readouterr().out.splitlines()[0]
    assert main(["export", "missing", "--results", str(tmp_path)]) == 2
    assert "records there: kdsnn, other" in capsys.readouterr().err


def test_load_records_is_a_tidy_frame(tmp_path):
    pytest.importorskip("pandas")
    (tmp_path / "kdsnn-book.json").write_text(json.dumps(_record()))
    frame = load_records("kdsnn", results_dir=tmp_path)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 6
    means = frame[frame.metric == METRIC].groupby("arm")["value"].mean()
    assert means["kd"] == pytest.approx(61.5) and means["snn"] == pytest.approx(60.25)
    assert len(load_records(results_dir=tmp_path, history=True)) == 8


def test_committed_records_export(capsys):
    """Every committed reproduction record turns into a tidy table (one row per arm, seed and metric)."""
    assert main(["export", "tet"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["arm"] for r in table} >= {"tet", "mean_ce"} and all(float(r["value"]) > 0 for r in table)


def test_an_arm_keeps_its_per_epoch_history():
    from snnlab.repro.common import arm_result

    history = [{"epoch": 1, "loss": 1.0, "loss/ce": 1.0, "train_acc": 50.0, "lr": 0.1, "time_s": 1.0, "test_acc": 55.0},
               {"epoch": 2, "loss": 0.5, "loss/ce": 0.5, "train_acc": 70.0, "lr": 0.0, "time_s": 1.0, "test_acc": 65.0}]
    arm = arm_result(history)
    assert arm["final"] == 65.0 and arm["curve"] == [55.0, 65.0] and arm["history"] == history
    history[0]["loss"] = 9.0
    assert arm["history"][0]["loss"] == 1.0                 # a copy: later changes to the trainer's history stay out
