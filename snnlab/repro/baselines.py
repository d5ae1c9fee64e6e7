"""Reference accuracies of a small SNN on each embedded data set at the book preset (how much headroom is left).

Each baseline is a plain directly-trained SNN (SmallCNN, VGG-9 or MLP with the TET LIF neuron, mean-output cross entropy)
with the same optimiser settings the book chapters use; where a baseline sets ``ann=True`` its ANN twin (the same
network with every spiking neuron replaced by a ReLU, trained with cross entropy) is trained beside it, with the same
seeds and budget. ``snnlab data NAME --baseline`` runs it and writes ``results/baselines/<name>.json``.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from ..data.text import build_vocab
from ..io import atomic_write_json
from ..methods import ANNClassification, MeanOutputCE
from ..reproducibility import environment_info
from .common import load_data, train_arm
from .registry import BOOK_SEEDS
from .results import summarise

__all__ = ["BASELINES", "run_baseline"]

_TEXT_VOCAB_SIZE = len(build_vocab())
_TRAIN = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)

BASELINES: dict[str, dict] = {
    "fashion": dict(dataset="fashion", data_options=dict(size=16), model="small-cnn",
                    model_options=dict(in_channels=1, width=8, neuron="tet"), T=2, train=dict(_TRAIN, epochs=10),
                    ann=True),
    "digits": dict(dataset="digits", data_options=dict(size=16), model="small-cnn",
                   model_options=dict(in_channels=1, width=8, neuron="tet"), T=2, train=dict(_TRAIN, epochs=10)),
    "event-digits": dict(dataset="event-digits", data_options=dict(frames=4, size=17), model="small-cnn",
                         model_options=dict(in_channels=2, width=8, neuron="tet"), T=4,
                         train=dict(_TRAIN, epochs=10)),
    "event-gestures": dict(dataset="event-gestures", data_options=dict(frames=8, size=16), model="small-cnn",
                           model_options=dict(in_channels=2, width=8, neuron="tet"), T=8,
                           train=dict(_TRAIN, epochs=10)),
    "eye": dict(dataset="eye", data_options=dict(modality="events"), model="vgg9",
                model_options=dict(in_channels=2, input_size=32, width_mult=0.25, neuron="tet"), T=4,
                train=dict(_TRAIN, epochs=10)),
    "text": dict(dataset="text", data_options=dict(bag_of_words=True), model="mlp",
                 model_options=dict(in_features=_TEXT_VOCAB_SIZE, hidden=(128,), neuron="tet"), T=4,
                 train=dict(_TRAIN, epochs=10)),
}
"""The eye baseline sees the event frames only (a VGG-9 at a quarter width); the text baseline is an order-blind
spiking MLP on bag-of-words counts, so it cannot resolve negation scope (the spiking transformer chapter can)."""


def _train_seeds(make_method, settings: dict, seeds: int, progress: bool, data) -> tuple[list[dict], float]:
    """``train_arm`` for seeds ``0..seeds-1`` and the seconds it took."""
    start = time.perf_counter()
    runs = [train_arm(make_method, settings, seed, progress, data=data) for seed in range(seeds)]
    return runs, time.perf_counter() - start


def run_baseline(name: str, seeds: int = BOOK_SEEDS, progress: bool = True,
                 out: str | Path | None = "results") -> dict:
    """Train the baseline of data set ``name`` (and its ANN twin, where it has one) for ``seeds`` seeds; returns (and
    writes) the record: ``accuracy`` and ``curves`` of the SNN, and under ``ann`` those of the ANN twin."""
    if name not in BASELINES:
        raise ValueError(f"no baseline for dataset {name!r}; available: {', '.join(sorted(BASELINES))}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    settings = BASELINES[name]
    start = time.perf_counter()
    data = load_data(settings)
    load_s = time.perf_counter() - start
    runs, snn_s = _train_seeds(lambda model: MeanOutputCE(model, T=settings["T"]), settings, seeds, progress, data)
    record = {
        "name": f"baseline-{name}", "dataset": name, "settings": settings, "metric": "test accuracy (%)",
        "accuracy": summarise([r["final"] for r in runs]), "curves": [r["curve"] for r in runs],
        "snn_wall_clock_s": round(snn_s, 2),
    }
    if settings.get("ann"):
        twin = {**settings, "model_options": {**settings["model_options"], "neuron": None}}
        ann_runs, ann_s = _train_seeds(ANNClassification, twin, seeds, progress, data)
        record["ann"] = {"accuracy": summarise([r["final"] for r in ann_runs]),
                         "curves": [r["curve"] for r in ann_runs], "wall_clock_s": round(ann_s, 2)}
    record.update({
        "train_size": len(data[0]), "test_size": len(data[1]), "data_load_s": round(load_s, 2),
        "wall_clock_s": round(time.perf_counter() - start, 2),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "environment": environment_info(),
    })
    if out is not None:
        path = Path(out) / "baselines" / f"{name}.json"
        atomic_write_json(record, path)
        record["path"] = str(path)
    return record
