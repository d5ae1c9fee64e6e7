"""The thread policy: free cores, decided once per process, overridable."""
from __future__ import annotations

import os

import pytest
import torch

import snnlab.threads as threads


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    original = torch.get_num_threads()
    monkeypatch.setattr(threads, "_auto_choice", None)
    monkeypatch.delenv(threads.ENV, raising=False)
    yield
    torch.set_num_threads(original)


def test_auto_leaves_the_cores_other_processes_use(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    for busy, expected in [(0, 4), (1, 3), (3, 1), (7, 1)]:
        monkeypatch.setattr(threads, "busy_processes", lambda busy=busy: busy)
        assert threads.auto_threads() == expected


def test_busy_processes_reads_the_running_count(monkeypatch, tmp_path):
    readings = iter(["0.50 0.40 0.30 3/120 999\n", "0.5 0.4 0.3 1/120 999\n", "0.5 0.4 0.3 3/120 999\n"])
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: _text(tmp_path, next(readings))
                        if path == "/proc/loadavg" else real_open(path, *a, **k))
    assert threads.busy_processes(samples=3, interval_s=0) == 2           # median running 3, less this thread


def _text(folder, content):
    path = folder / "loadavg"
    path.write_text(content)
    return open(path)


def test_auto_is_decided_once_per_process_and_the_environment_overrides(monkeypatch):
    busy = iter([0, 1, 1])
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "busy_processes", lambda: next(busy))
    assert threads.configure_threads() == 2 == torch.get_num_threads()
    assert threads.configure_threads() == 2                               # the load changed; the choice did not
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.configure_threads() == 1 == torch.get_num_threads()
    monkeypatch.setenv(threads.ENV, "torch")
    torch.set_num_threads(2)
    assert threads.configure_threads() == 2
    for bad in ("0", "many"):
        monkeypatch.setenv(threads.ENV, bad)
        with pytest.raises(ValueError, match="SNNLAB_THREADS"):
            threads.configure_threads()


def test_fixed_threads_holds_the_count_for_the_trainer_and_restores_everything(monkeypatch):
    torch.set_num_threads(2)
    monkeypatch.setattr(threads, "busy_processes", lambda: 1)            # auto would pick fewer
    with threads.fixed_threads(2):
        assert threads.configure_threads() == 2 == torch.get_num_threads()
    assert threads.ENV not in os.environ and torch.get_num_threads() == 2
    monkeypatch.setenv(threads.ENV, "torch")
    with threads.fixed_threads(1):
        assert torch.get_num_threads() == 1
    assert os.environ[threads.ENV] == "torch" and torch.get_num_threads() == 2
