"""Records as tidy tables: one row per measured value, ready for pandas, R or a spreadsheet.

A reproduction record (``results/<name>-<preset>[-<variant>].json``, schema in the book's "Running the code" page)
keeps each arm's raw per-seed values under ``record["arms"][arm]["per_seed"]`` (the record's ``metric``, e.g. test
accuracy in %) and ``record["arms"][arm]["metrics"][m]["per_seed"]`` (further measurements: energy, firing rate,
...). :func:`tidy_rows` turns them into the long table::

    reproduction, preset, variant, reading, arm, seed, metric, value

where ``reading`` names the reading of the paper whose method arm ``arm`` is (empty for baselines and controls, and
for records without readings). :func:`history_rows` gives the per-epoch training history (loss terms, accuracies,
learning rate, seconds) of every arm and seed, one row per epoch. ``snnlab export NAME`` writes either table.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..io import atomic_write_csv, csv_text
from ..train import tested_epochs

__all__ = ["COLUMNS", "HISTORY_KEYS", "tidy_rows", "history_rows", "history_path", "write_history_csv",
           "records_named", "table_text", "load_records"]

COLUMNS = ("reproduction", "preset", "variant", "reading", "arm", "seed", "metric", "value")
"""The columns of :func:`tidy_rows`, in order."""

HISTORY_KEYS = ("reproduction", "preset", "variant", "arm", "seed", "epoch")
"""The leading columns of :func:`history_rows`; the history's own keys (``loss``, ``loss/<term>``, ``train_acc``,
``test_acc``, ``lr``, ``time_s``) follow."""


def _seeds(record: dict, n: int) -> list:
    """The seeds of a record's ``n`` per-seed values: its ``seeds`` list, or its setting's, else 0 to n-1."""
    for seeds in (record.get("seeds"), record.get("setting", {}).get("seeds")):
        if isinstance(seeds, list) and len(seeds) == n:
            return seeds
    return list(range(n))


def _readings_by_arm(record: dict) -> dict[str, str]:
    """``{method arm: reading name}`` of a record with readings; empty otherwise."""
    return {verdict["arm"]: name for name, verdict in (record.get("readings") or {}).items() if "arm" in verdict}


def _identity(record: dict) -> dict:
    return {"reproduction": record["name"], "preset": record["preset"], "variant": record.get("variant") or ""}


def tidy_rows(record: dict) -> list[dict]:
    """Every raw per-seed value of a reproduction record as rows of :data:`COLUMNS`: the record's metric (named by
    ``record["metric"]``) and each further metric of each arm."""
    identity, readings, rows = _identity(record), _readings_by_arm(record), []
    for arm, result in record["arms"].items():
        series = {record["metric"]: result["per_seed"]}
        series.update({name: metric["per_seed"] for name, metric in result.get("metrics", {}).items()})
        for metric, values in series.items():
            for seed, value in zip(_seeds(record, len(values)), values):
                rows.append({**identity, "reading": readings.get(arm, ""), "arm": arm, "seed": seed,
                             "metric": metric, "value": value})
    return rows


def _curve_history(curve: list[float], schedule: list[int]) -> list[dict]:
    """A test-accuracy curve as history entries; epochs from ``schedule`` when it has the curve's length."""
    epochs = schedule if len(curve) == len(schedule) else [None] * len(curve)
    return [{"epoch": epoch, "test_acc": value} for epoch, value in zip(epochs, curve)]


def history_rows(record: dict) -> list[dict]:
    """The per-epoch training history of every arm and seed of a record, one row per epoch (:data:`HISTORY_KEYS`,
    then the history's keys). A record written before histories were kept has only its test-accuracy curves: those
    give ``test_acc`` rows (epoch numbers from the setting's schedule where the curve's length matches it)."""
    identity, rows = _identity(record), []
    train = record.get("setting", {}).get("train", {})
    schedule = tested_epochs(train["epochs"], train.get("eval_every", 1)) if "epochs" in train else []
    for arm, result in record["arms"].items():
        histories = result.get("histories")
        if histories is None:
            histories = [_curve_history(curve, schedule) for curve in result.get("curves", [])]
        for seed, history in zip(_seeds(record, len(histories)), histories):
            rows.extend({**identity, "arm": arm, "seed": seed, **epoch} for epoch in history)
    return rows


def history_path(record_path: str | os.PathLike) -> Path:
    """Where a record's history CSV lives: beside it, ``<name>-<preset>[-<variant>].history.csv``."""
    path = Path(record_path)
    return path.with_name(path.stem + ".history.csv")


def write_history_csv(record: dict, record_path: str | os.PathLike) -> Path:
    """Write :func:`history_rows` of ``record`` beside its file (:func:`history_path`); returns the CSV's path."""
    path = history_path(record_path)
    atomic_write_csv(history_rows(record), path)
    return path


def _records(results_dir: str | os.PathLike) -> list[dict]:
    """The reproduction records among the JSON files of ``results_dir`` (objects with a ``name`` and ``arms``)."""
    records = (json.loads(path.read_text()) for path in sorted(Path(results_dir).glob("*.json")))
    return [r for r in records if isinstance(r, dict) and "name" in r and "arms" in r]


def records_named(name: str, results_dir: str | os.PathLike = "results") -> list[dict]:
    """The records of reproduction ``name`` in ``results_dir`` (every preset and variant); ``ValueError`` listing
    the names there when there is none."""
    every = _records(results_dir)
    records = [record for record in every if record["name"] == name]
    if not records:
        present = sorted({record["name"] for record in every})
        raise ValueError(f"no record of {name!r} in {results_dir}/; records there: {', '.join(present) or 'none'} "
                         f"(write one with: snnlab reproduce {name} --preset book)")
    return records


def table_text(rows: list[dict], fmt: str = "csv", columns: list[str] | None = None) -> str:
    """``rows`` as CSV (with a header) or as a JSON list of row objects (``pandas.read_json(text)`` reads it)."""
    if fmt == "csv":
        return csv_text(rows, columns)
    if fmt == "json":
        return json.dumps(rows, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}: use csv or json")


def load_records(names: str | list[str] | None = None, results_dir: str | os.PathLike = "results",
                 history: bool = False):
    """A ``pandas.DataFrame`` of the tidy rows (:func:`tidy_rows`; the per-epoch :func:`history_rows` with
    ``history=True``) of the reproduction records in ``results_dir``: every record, or those of ``names``.

    >>> frame = load_records("tet")
    >>> frame.groupby(["arm", "metric"])["value"].agg(["mean", "std"])

    Needs pandas (``pip install "snnlab-kd[analysis]"``).
    """
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError('load_records needs pandas: python -m pip install "snnlab-kd[analysis]" (or pandas)') from err
    if names is None:
        records = _records(results_dir)
    else:
        records = [r for name in ([names] if isinstance(names, str) else names) for r in records_named(name, results_dir)]
    rows = [row for record in records for row in (history_rows(record) if history else tidy_rows(record))]
    return pd.DataFrame(rows, columns=None if history else list(COLUMNS))
