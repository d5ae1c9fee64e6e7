"""How many CPU threads PyTorch computes with: the cores that other processes leave free.

PyTorch's intra-op pool starts with one thread per core. When other CPU-bound processes share those cores, every
parallel operation waits for its slowest thread, which the scheduler keeps pausing, so a small model trains
several times slower than a fair share of the cores would explain (``bench/thread_load.py`` measures it: SmallCNN
training steps with 1 and 2 threads beside 0, 1 and 2 busy processes). :func:`configure_threads` therefore gives
PyTorch one thread per core that no other process is running on, and at least one, decided once per process.

``$SNNLAB_THREADS`` overrides the choice: an integer fixes the count, ``torch`` leaves PyTorch's own setting alone.
The :class:`~snnlab.train.Trainer` calls :func:`configure_threads` when it starts training.
"""
from __future__ import annotations

import os
import statistics
import time
from contextlib import contextmanager

import torch

__all__ = ["ENV", "usable_cores", "busy_processes", "auto_threads", "configure_threads", "fixed_threads"]

ENV = "SNNLAB_THREADS"
MAX_THREADS_PER_CORE = 4
"""The most threads per core a fixed count may ask for (more only oversubscribes; far more cannot be created)."""
_SAMPLES, _INTERVAL_S = 5, 0.01
_auto_choice: int | None = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def busy_processes(samples: int = _SAMPLES, interval_s: float = _INTERVAL_S) -> int:
    """Runnable threads of other processes right now: the median over ``samples`` readings of the running count
    in ``/proc/loadavg``, less this process's calling thread; 0 where the OS does not report it."""
    readings = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0
        readings.append(running - 1)
        if i + 1 < samples:
            time.sleep(interval_s)
    return max(0, int(statistics.median(readings)))


def auto_threads() -> int:
    """One thread per usable core that no other process is running on, and at least one."""
    cores = usable_cores()
    return max(1, cores - busy_processes())


def configure_threads(threads: "int | str | None" = None) -> int:
    """Set PyTorch's intra-op thread count and return it.

    ``threads``: an integer, ``"auto"`` or ``"torch"`` (leave PyTorch's setting); ``None`` reads ``$SNNLAB_THREADS``
    and falls back to ``"auto"``. ``"auto"`` is :func:`auto_threads`, decided at the first call in a process and kept
    after it: the thread count splits reductions differently, so the last digits of a training run depend on it, and
    runs within one process stay comparable.
    """
    global _auto_choice
    choice = os.environ.get(ENV, "auto") if threads is None else threads
    if choice == "torch":
        return torch.get_num_threads()
    if choice == "auto":
        if _auto_choice is None:
            _auto_choice = auto_threads()
        count = _auto_choice
    else:
        try:
            count = int(choice)
        except (TypeError, ValueError):
            count = 0
        limit = MAX_THREADS_PER_CORE * (os.cpu_count() or 1)
        if not 1 <= count <= limit:
            raise ValueError(f"threads must be an integer from 1 to {limit} ({MAX_THREADS_PER_CORE} per core), 'auto' "
                             f"or 'torch' (got {choice!r}; set ${ENV} to one of those, or unset it)")
    if count != torch.get_num_threads():
        torch.set_num_threads(count)
    return count


@contextmanager
def fixed_threads(count: int):
    """Within the block, PyTorch computes with ``count`` threads and :func:`configure_threads` keeps them (as
    ``$SNNLAB_THREADS`` would); the thread count and the variable are restored after it."""
    before, variable = torch.get_num_threads(), os.environ.get(ENV)
    os.environ[ENV] = str(configure_threads(count))
    try:
        yield count
    finally:
        if variable is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = variable
        torch.set_num_threads(before)
