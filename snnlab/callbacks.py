"""Trainer callbacks that log a run the way researchers' tools read it: a CSV file of the per-epoch history and
TensorBoard scalars.

A callback is any callable ``callback(trainer, record)``; :class:`~snnlab.train.Trainer` calls each one after every
epoch with the epoch's ``record`` (``epoch``, ``loss``, one ``loss/<term>`` per loss term, ``train_acc``,
``test_acc`` on tested epochs, ``lr``, ``time_s``), after the checkpoint is written. ``trainer.history`` holds
every record so far. Under DistributedDataParallel every process calls it; these write on the main process only.

>>> Trainer(method, train, test, config, callbacks=[CSVLogger("runs/tet.csv"), TensorBoardLogger("runs/tet")]).fit()
"""
from __future__ import annotations

import os
from pathlib import Path

from .io import atomic_write_csv

__all__ = ["CSVLogger", "TensorBoardLogger"]


class CSVLogger:
    """Rewrites ``path`` after every epoch with the whole history so far, one row per epoch (a resumed run keeps
    its earlier epochs: they are in the history its checkpoint restored)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __call__(self, trainer, record: dict) -> None:
        if trainer.is_main:
            atomic_write_csv(trainer.history, self.path)


class TensorBoardLogger:
    """Writes every numeric entry of each epoch's record as a TensorBoard scalar at step ``epoch`` under
    ``log_dir`` (``tensorboard --logdir log_dir`` shows them; the loss terms group under ``loss/``). TensorBoard
    comes with SpikingJelly. Call :meth:`close` when training is done (or use the logger as a context manager)."""

    def __init__(self, log_dir: str | os.PathLike):
        self.log_dir = Path(log_dir)
        self._writer = None

    def __call__(self, trainer, record: dict) -> None:
        if not trainer.is_main:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter   # imports tensorboard: only when a run logs to it

            self._writer = SummaryWriter(log_dir=str(self.log_dir))
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)):
                self._writer.add_scalar(key, value, global_step=record["epoch"])
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "TensorBoardLogger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
