"""Training throughput (samples/s) of the TET book preset, through the full Trainer (data loading included)."""
from __future__ import annotations

import time

from snnlab.methods import TET
from snnlab.repro.common import load_data
from snnlab.repro.papers.tet import PRESETS
from snnlab.models.registry import build_model
from snnlab.reproducibility import seed_everything
from snnlab.train import TrainConfig, Trainer


def measure(epochs: int) -> dict:
    settings = PRESETS["book"]
    train_set, _ = load_data(settings)
    seed_everything(0)
    model = build_model(settings["model"], num_classes=train_set.info.num_classes, **settings["model_options"])
    config = TrainConfig(**{**settings["train"], "epochs": epochs}, progress=False)
    trainer = Trainer(TET(model, settings["T"]), train_set, None, config)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    return {"preset": "tet/book", "T": settings["T"], "samples": len(train_set) * epochs, "seconds": seconds,
            "samples_per_s": len(train_set) * epochs / seconds}
