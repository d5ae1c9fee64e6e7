"""LaSNN: does layer-wise distillation from a large ANN give a converted-initialised SNN the converted SNN's
accuracy at a fraction of its time steps?

Hong, Shen, Qi & Wang, *LaSNN: Layer-wise ANN-to-SNN Distillation for Effective and Efficient Training in Deep
Spiking Neural Networks* (seed 001 §1). Per seed, the three stages: a teacher ANN (with BN) is trained; a small
bias-free, BN-free, average-pooling ANN is trained and converted by threshold balancing
(:func:`snnlab.conversion.threshold_balance.convert_by_threshold_balancing`); the converted SNN initialises two
students trained at ``T`` steps of Poisson input: LaSNN (CE + logit KD + activation and gradient attention at three
levels, :class:`snnlab.methods.lasnn.LaSNN`) and, as the ablation, the same fine-tuning with CE alone. Every SNN is
evaluated at every ``T`` of a sweep in one run (a causal network's first ``T`` steps of a longer Poisson train are
a ``T``-step run). Recorded: accuracy at ``T`` for each arm, the accuracy-vs-``T`` curves, the smallest ``T`` at
which the converted SNN reaches LaSNN's accuracy at ``T`` and the ratio of the two (the paper's latency claim),
energy per test sample and mean firing rate of every model.
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader

from ..conversion.threshold_balance import convert_by_threshold_balancing
from ..encoding import poisson
from ..methods.base import ANNClassification
from ..methods.lasnn import LaSNN
from ..models.plain import ConversionCNN
from ..models.registry import build_model
from ..neurons import neuron_spec
from ..reproducibility import derived_seed, seed_everything
from ..train import TrainConfig, Trainer
from .common import load_data
from .kdsnn import model_metrics
from .registry import BOOK_SEEDS, Premise, Reproduction, arm_gap, register

__all__ = ["PRESETS", "ARMS", "run_seed", "accuracy_by_steps", "steps_to_reach"]

ARMS = ("lasnn", "converted", "lasnn-ce", "small-ann", "teacher")
"""LaSNN first, the converted SNN at the same ``T`` second (the compared pair), then conversion + CE fine-tuning,
the small ANN that was converted and the teacher. The SNN arms' curves are accuracy vs ``T`` (their sweeps), the
ANNs' curves test accuracy per epoch."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_IF = dict(kind="if", v_reset=None, surrogate="triangle", alpha=1.0)   # subtractive reset, linear surrogate

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=100), T=4,
                  teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=8, neuron=None),
                               train=dict(_ADAM, epochs=1)),
                  student=dict(cfg=(4, "P", 8, "P", 8, "P"), neuron=_IF), ann_train=dict(_ADAM, epochs=2),
                  train=dict(_ADAM, lr=1e-3, epochs=1), alpha=1.0, tau=4.0, beta=1.0, beta_grad=1.0, gamma=0.5,
                  sweep=(1, 4, 8), student_sweep=(1, 4), seeds=1),
    "book": dict(dataset="digits", data_options=dict(size=16), T=8,
                 teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=32, neuron=None),
                              train=dict(_ADAM, epochs=6)),
                 student=dict(cfg=(8, "P", 16, "P", 32, "P"), neuron=_IF), ann_train=dict(_ADAM, epochs=6),
                 train=dict(_ADAM, lr=3e-4, epochs=3), alpha=1.0, tau=4.0, beta=1.0, beta_grad=1.0, gamma=0.5,
                 sweep=(1, 2, 4, 8, 16, 32, 64, 128), student_sweep=(1, 2, 4, 8, 16, 32), seeds=BOOK_SEEDS),
    # CIFAR-10 (the paper also reports CIFAR-100 and Tiny-ImageNet): a VGG-style conversion-friendly student at
    # T = 100 against the converted SNN swept to T = 2500; teacher ANN ResNet-18 (300 epochs), small ANN 200
    # epochs, distillation 100 epochs, batch 16 (the notes' schedule; the optimiser is not given: SGD assumed).
    "paper": dict(dataset="cifar10", data_options=dict(augment=True, normalize=False), T=100,
                  teacher=dict(model="resnet18", model_options=dict(in_channels=3, neuron=None),
                               train=dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
                                          scheduler="cosine", batch_size=128, epochs=300)),
                  student=dict(cfg=(64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, "P"), neuron=_IF,
                               dropout=0.2),
                  ann_train=dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, scheduler="cosine",
                                 batch_size=128, epochs=200),
                  train=dict(optimizer="sgd", lr=1e-3, momentum=0.9, scheduler="cosine", batch_size=16, epochs=100),
                  alpha=1.0, tau=4.0, beta=1.0, beta_grad=1.0, gamma=0.5,
                  sweep=(25, 50, 100, 200, 400, 800, 1600, 2500), student_sweep=(25, 50, 100), seeds=1),
}


@torch.no_grad()
def accuracy_by_steps(model, dataset, steps, seed: int = 0, batch_size: int = 64,
                      device: "torch.device | str" = "cpu") -> list[float]:
    """Test accuracy (%) of an SNN read out after each number of steps in ``steps``, from one run of
    ``max(steps)`` steps of Poisson input per batch (seeded): the readout at ``T`` is the mean output of the
    first ``T`` steps."""
    steps = sorted(int(t) for t in steps)
    correct = [0] * len(steps)
    total = 0
    model.eval()
    for index, (x, y) in enumerate(DataLoader(dataset, batch_size=batch_size, shuffle=False)):
        generator = torch.Generator().manual_seed(derived_seed(seed, index))
        spikes = poisson(x, steps[-1], generator=generator).to(device)
        cumulative = model(spikes).cumsum(0)                               # [T_max, N, C]
        for k, T in enumerate(steps):
            correct[k] += int(((cumulative[T - 1] / T).argmax(-1).cpu() == y).sum())
        total += len(y)
    return [100.0 * c / total for c in correct]


def steps_to_reach(steps, accuracies, target: float) -> float:
    """The smallest ``T`` of a sweep whose accuracy is at least ``target``; NaN if none reaches it."""
    reached = [T for T, acc in zip(steps, accuracies) if acc >= target]
    return float(min(reached)) if reached else math.nan


def _train_ann(model, settings_train, data, seed, progress):
    config = TrainConfig(seed=seed, progress=progress, **settings_train)
    history = Trainer(ANNClassification(model), data[0], data[1], config).fit()
    return model.eval(), [r["test_acc"] for r in history]


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """The three stages and the comparison for one seed; see the module docstring."""
    T = settings["T"]
    if T not in settings["sweep"] or T not in settings["student_sweep"]:
        raise ValueError(f"the sweeps must contain the student's T = {T}; got sweep {settings['sweep']} and "
                         f"student_sweep {settings['student_sweep']}")
    data = load_data(settings)
    info, test_set = data[0].info, data[1]
    images = next(iter(DataLoader(test_set, batch_size=64, shuffle=False)))[0]
    student_options = dict(settings["student"])
    spec = neuron_spec(**student_options.pop("neuron"))
    channels, size, classes = info.sample_shape[0], info.sample_shape[-1], info.num_classes

    def student(neuron):
        return ConversionCNN(classes, channels, size, neuron=neuron, **student_options)

    seed_everything(seed)
    teacher = build_model(settings["teacher"]["model"], num_classes=classes, **settings["teacher"]["model_options"])
    teacher, teacher_curve = _train_ann(teacher, settings["teacher"]["train"], data, seed, progress)
    seed_everything(seed)
    small_ann, ann_curve = _train_ann(student(None), settings["ann_train"], data, seed, progress)
    device = next(small_ann.parameters()).device

    def converted():
        snn = student(spec).to(device)
        convert_by_threshold_balancing(small_ann, snn, DataLoader(data[0], batch_size=256), device)
        return snn

    def snn_arm(snn, sweep, method):
        curve = accuracy_by_steps(snn, test_set, sweep, seed=seed, device=device)
        method.eval()
        metrics = model_metrics(method.predict, snn, poisson(images, T), test_set, {}, seed)
        return {"final": curve[list(sweep).index(T)], "curve": curve, "metrics": metrics}

    results = {"teacher": {"final": teacher_curve[-1], "curve": teacher_curve,
                           "metrics": model_metrics(teacher, teacher, images, test_set, {}, seed)},
               "small-ann": {"final": ann_curve[-1], "curve": ann_curve,
                             "metrics": model_metrics(small_ann, small_ann, images, test_set, {}, seed)}}
    conversion = converted()
    results["converted"] = snn_arm(conversion, settings["sweep"], LaSNN(conversion, None, T))
    for arm, teacher_or_none in (("lasnn", teacher), ("lasnn-ce", None)):
        seed_everything(seed)
        method = LaSNN(converted(), teacher_or_none, T, alpha=settings["alpha"], tau=settings["tau"],
                       beta=settings["beta"], beta_grad=settings["beta_grad"], gamma=settings["gamma"])
        Trainer(method, data[0], test_set, TrainConfig(seed=seed, progress=progress, **settings["train"])).fit()
        results[arm] = snn_arm(method.model, settings["student_sweep"], method)
    needed = steps_to_reach(settings["sweep"], results["converted"]["curve"], results["lasnn"]["final"])
    results["lasnn"]["metrics"].update(converted_steps_to_match=needed, latency_ratio=needed / T)
    return results


register(Reproduction(
    name="lasnn",
    paper="Hong, Shen, Qi & Wang. LaSNN: Layer-wise ANN-to-SNN Distillation for Effective and Efficient Training "
          "in Deep Spiking Neural Networks. arXiv:2304.09101, 2023",
    claim="A small SNN initialised by conversion and trained with layer-wise attention distillation from a large "
          "ANN reaches, at T steps, the accuracy the converted SNN needs many times more steps for (paper: T = 100 "
          "vs T = 2500, about 20x lower latency), at accuracy comparable to the ANN",
    metric="test accuracy (%) at the student's T (Poisson input)",
    arms=ARMS,
    premise=Premise("conversion leaves a gap to close: the converted SNN at the student's T is at least 3 points "
                    "below its ANN", arm_gap("small-ann", "converted"), 3.0),
    presets=PRESETS,
    run_seed=run_seed,
    paper_result={"dataset": "CIFAR-10", "T": "100 (distilled) vs 2500 (converted)", "latency_ratio": 20,
                  "note": "accuracies per architecture are in the paper's tables, not in the reading notes"},
))
