"""Pieces shared by reproduction configs: build the data and model a setting names, train one arm."""
from __future__ import annotations

from typing import Callable

from ..data import get_dataset
from ..methods.base import Method
from ..models.registry import build_model
from ..reproducibility import seed_everything
from ..train import TrainConfig, Trainer, final_accuracy

__all__ = ["load_data", "train_arm"]


def load_data(settings: dict):
    """The (train, test) datasets a setting names: ``settings["dataset"]`` with ``settings["data_options"]``."""
    options = settings.get("data_options", {})
    return (get_dataset(settings["dataset"], "train", **options), get_dataset(settings["dataset"], "test", **options))


def train_arm(make_method: Callable[[object], Method], settings: dict, seed: int, progress: bool, data=None) -> dict:
    """Seed, build ``settings["model"]``, wrap it with ``make_method(model)``, train with ``settings["train"]``.

    Returns ``{"final": last test accuracy, "curve": test accuracy per epoch, "history": full history}``.
    Every arm of a reproduction goes through here, so arms share data, model, budget and seed.
    """
    train_set, test_set = data if data is not None else load_data(settings)
    seed_everything(seed)
    info = train_set.info
    model = build_model(settings["model"], num_classes=info.num_classes, **settings.get("model_options", {}))
    config = TrainConfig(seed=seed, progress=progress, **settings["train"])
    history = Trainer(make_method(model), train_set, test_set, config).fit()
    return {"final": final_accuracy(history), "curve": [r["test_acc"] for r in history]}
