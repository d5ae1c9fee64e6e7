"""Side-by-side timing: candidates are run interleaved, so machine noise hits all of them alike."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved_median(candidates: dict[str, Callable[[], None]], repeats: int, warmup: int = 1,
                       synchronize: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Median wall-clock seconds of each candidate, running them round-robin ``repeats`` times after ``warmup``.

    ``synchronize`` runs before each clock reading (``torch.cuda.synchronize`` for GPU work, which is asynchronous)."""
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            synchronize()
            start = time.perf_counter()
            fn()
            synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}
