"""Trainer callbacks: the CSV history and TensorBoard scalars a run writes."""
import csv

import torch
from torch.utils.data import TensorDataset

from snnlab.callbacks import CSVLogger, TensorBoardLogger
from snnlab.methods import ANNClassification
from snnlab.train import TrainConfig, Trainer


def _fit(callbacks):
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(64, 6), torch.randint(0, 3, (64,)))
    method = ANNClassification(torch.nn.Linear(6, 3))
    config = TrainConfig(epochs=3, batch_size=16, lr=0.1, optimizer="sgd", scheduler="cosine", progress=False,
                         device="cpu", amp=False)
    return Trainer(method, data, data, config, callbacks=callbacks).fit()


def test_csv_logger_writes_the_history_after_every_epoch(tmp_path):
    path = tmp_path / "run" / "history.csv"
    history = _fit([CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"loss", "loss/ce", "train_acc", "test_acc", "lr", "time_s"} <= set(rows[0])
    assert [float(r["lr"]) for r in rows] == [e["lr"] for e in history]          # the cosine schedule, per epoch
    assert float(rows[-1]["test_acc"]) == history[-1]["test_acc"]


def test_tensorboard_logger_writes_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with TensorBoardLogger(tmp_path / "tb") as logger:
        history = _fit([logger])
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"loss", "loss/ce", "train_acc", "test_acc", "lr", "time_s"} <= set(events.Tags()["scalars"])
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [
        (e["epoch"], torch.tensor(e["loss"]).float().item()) for e in history]
