"""Pieces shared by reproduction configs: build the data and model a setting names, train one arm."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..data import get_dataset
from ..energy import energy_report
from ..methods.base import ANNClassification, DistilledANN, Method
from ..models.registry import build_model
from ..reproducibility import seed_everything
from ..train import TrainConfig, Trainer, final_accuracy, test_curve
from .networks import with_network

__all__ = ["SGD_COSINE", "load_data", "data_info", "teacher_data", "fit_teacher", "ann_twin", "ann_student_arms", "seeded_model", "setting_model", "fit", "held_out_accuracy", "arm_result",
           "train_arm", "training_seconds", "energy_metrics"]

SGD_COSINE = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, scheduler="cosine")
"""The common CIFAR ResNet recipe (SGD 0.1, momentum 0.9, weight decay 5e-4, cosine annealing): the schedule of the
reproductions whose papers give none."""


def load_data(settings: dict):
    """The (train, test) datasets a setting names: ``settings["dataset"]`` with ``settings["data_options"]``."""
    options = settings.get("data_options", {})
    return (get_dataset(settings["dataset"], "train", **options), get_dataset(settings["dataset"], "test", **options))


def data_info(settings: dict):
    """The :class:`~snnlab.data.DatasetInfo` of a setting's test split (classes, sample shape, extras)."""
    return get_dataset(settings["dataset"], "test", **settings.get("data_options", {})).info


def teacher_data(settings: dict, data):
    """The (train, test) data of a setting's teacher: its own ``settings["teacher"]["data_options"]`` when it has
    them (e.g. a teacher that learns from more images than its students), else the students' ``data``."""
    teacher = settings["teacher"]
    return load_data({**settings, "data_options": teacher["data_options"]}) if "data_options" in teacher else data


def fit_teacher(settings: dict, seed: int, progress: bool, data,
                make_method: Callable[[object], Method] = ANNClassification) -> tuple[nn.Module, dict]:
    """The teacher of a distillation reproduction: the setting's ``settings["teacher"]`` (model, options, training
    and, optionally, its own data options, :func:`teacher_data`) trained with ``make_method`` (cross entropy, an ANN
    teacher, by default), in evaluation mode, and its :func:`arm_result`."""
    teacher_settings = {**settings["teacher"], "dataset": settings["dataset"]}
    method, history = fit(make_method, teacher_settings, seed, progress, teacher_data(settings, data))
    return method.model.eval(), arm_result(history)


def ann_twin(settings: dict) -> dict:
    """The setting with its network as an ANN (``model_options["neuron"] = None``): the student's architecture
    without spikes."""
    return {**settings, "model_options": {**settings.get("model_options", {}), "neuron": None}}


def ann_student_arms(settings: dict, seed: int, progress: bool, data, teacher: nn.Module,
                     **distillation) -> tuple[dict, dict]:
    """The control of an ANN-to-SNN distillation reproduction, as two :func:`train_arm` results: the student's
    architecture as an ANN (:func:`ann_twin`) trained alone, and distilled from ``teacher``
    (:class:`~snnlab.methods.DistilledANN` with ``distillation``: ``alpha`` and ``tau`` of response KD, or another
    paper's ``loss_terms``), with the students' data, initial weights and budget. Whether distillation helps at all
    in the setting is the distilled arm against the one trained alone."""
    twin = ann_twin(settings)
    return (train_arm(ANNClassification, twin, seed, progress, data),
            train_arm(lambda model: DistilledANN(model, teacher, **distillation), twin, seed, progress, data))


def seeded_model(settings: dict, seed: int, num_classes: int):
    """``settings["model"]`` built right after seeding with ``seed``: the initial weights every arm of a seed shares."""
    seed_everything(seed)
    return build_model(settings["model"], num_classes=num_classes, **settings.get("model_options", {}))


def setting_model(settings: dict, arm: str | None = None) -> nn.Module:
    """``settings["model"]`` built with its options for the setting's classes: the network a record keeps for an arm
    trained through :func:`fit` (``arm`` is unused; the signature of :attr:`~snnlab.repro.registry.Reproduction.network`)."""
    return build_model(settings["model"], num_classes=data_info(settings).num_classes,
                       **settings.get("model_options", {}))


def fit(make_method: Callable[[object], Method], settings: dict, seed: int, progress: bool,
        data=None) -> tuple[Method, list[dict]]:
    """Seed, build ``settings["model"]``, wrap it with ``make_method(model)``, train with ``settings["train"]``.

    Returns the trained method and the per-epoch history. Every arm of a reproduction goes through here, so arms
    share data, model initialisation (the seed is set just before the model is built), budget and seed.
    """
    train_set, test_set = data if data is not None else load_data(settings)
    model = seeded_model(settings, seed, train_set.info.num_classes)
    config = TrainConfig(seed=seed, progress=progress, **settings["train"])
    method = make_method(model)
    history = Trainer(method, train_set, test_set, config).fit()
    return method, history


def held_out_accuracy(method: Method, settings: dict, data, seed: int) -> float:
    """Test accuracy (%) of an already trained ``method`` on ``data``'s test split, batched as the setting trains."""
    config = TrainConfig(seed=seed, progress=False, **settings["train"])
    return Trainer(method, data[0], data[1], config).evaluate(data[1])


def arm_result(history: list[dict], metrics: dict | None = None) -> dict:
    """One arm's result from its training history: ``{"final": last test accuracy, "curve": test accuracy per
    tested epoch, "history": the per-epoch history (loss terms, accuracies, learning rate, seconds)}``, with
    ``"metrics"`` where further ones were measured."""
    arm = {"final": final_accuracy(history), "curve": test_curve(history), "history": [dict(e) for e in history]}
    return {**arm, "metrics": metrics} if metrics is not None else arm


def train_arm(make_method: Callable[[object], Method], settings: dict, seed: int, progress: bool, data=None) -> dict:
    """:func:`fit`, reduced to :func:`arm_result` with the trained network (:func:`~snnlab.repro.networks.with_network`)."""
    method, history = fit(make_method, settings, seed, progress, data)
    return with_network(arm_result(history), method.model)


def training_seconds(history: list[dict]) -> float:
    """Seconds spent in the training passes of a history (testing excluded): the sum of its epochs' ``time_s``."""
    return sum(epoch["time_s"] for epoch in history)


def energy_metrics(network, inputs: torch.Tensor, spiking: bool) -> dict:
    """Energy (pJ), MACs and SOPs per sample of one deployed network on ``inputs`` (``[T, N, ...]`` for an SNN,
    ``[N, ...]`` for an ANN; :func:`snnlab.energy.energy_report`), and the mean firing rate over its neuron layers
    (SNNs)."""
    report = energy_report(network, inputs, spiking=spiking)
    n = inputs.shape[1] if spiking else inputs.shape[0]
    metrics = {"energy_pj": report.energy_pj / n, "macs": report.macs / n, "sops": report.sops / n}
    if spiking:
        metrics["firing_rate"] = report.mean_firing_rate
    return metrics
