"""Thread count under load: a SmallCNN training step with 1 thread and with one per core, beside 0 … N busy processes.

For each load the busy processes (pure-Python loops, one per core they occupy) are started, the thread count
snnlab's policy picks is read (:func:`snnlab.threads.auto_threads`), and one training step (as in
``neuron_overhead.py``) is timed with every thread count from 1 to the core count, the counts taken in turn, each
timed step after an untimed one at the same count. ``policy_vs_all``
is the step time at the policy's count ÷ at one thread per core (below 1: the policy is faster).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

import torch

from snnlab.encoding import direct
from snnlab.threads import auto_threads, usable_cores

from neuron_overhead import CASES, stepper
from peers import build_variant

MODEL, T = "small-cnn", 4


def _with_threads(count: int, step):
    """Set the thread count, run one untimed step (PyTorch resizes its thread pool on the first step after a
    change), then the timed one."""
    def run():
        torch.set_num_threads(count)
        step()
        start = time.perf_counter()
        step()
        return time.perf_counter() - start
    return run


def _median_times(runs: dict, repeats: int) -> dict:
    """Median seconds of each candidate's timed step, the candidates taken round-robin ``repeats`` times."""
    samples = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            samples[key].append(run())
    return {key: statistics.median(values) for key, values in samples.items()}


def _busy(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def measure(repeats: int, loads=None) -> list[dict]:
    """Step times at every thread count beside each number of busy processes (see the module docstring)."""
    cores = usable_cores()
    case = CASES[MODEL]
    x = direct(torch.rand(case["batch"], *case["input"]), T)
    step = stepper(build_variant(MODEL, "snnlab", **case["model"]), x, torch.randint(0, 10, (case["batch"],)),
                   lambda out: out.mean(0))
    original = torch.get_num_threads()
    rows = []
    for load in (range(cores + 1) if loads is None else loads):
        hogs = _busy(load)
        try:
            time.sleep(0.5)                                           # let the scheduler place them
            policy = auto_threads()
            times = _median_times({count: _with_threads(count, step) for count in range(1, cores + 1)}, repeats)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        rows.append({"busy_processes": load, "policy_threads": policy,
                     "step_s": {str(count): seconds for count, seconds in times.items()},
                     "policy_vs_all": times[policy] / times[cores]})
    torch.set_num_threads(original)
    return rows
