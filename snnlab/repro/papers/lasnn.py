"""LaSNN: does layer-wise distillation from a large ANN give a converted-initialised SNN the converted SNN's
accuracy at a fraction of its time steps?

Hong, Shen, Qi & Wang, *LaSNN: Layer-wise ANN-to-SNN Distillation for Effective and Efficient Training in Deep
Spiking Neural Networks*. Per seed, the three stages: a teacher ANN (with BN) is trained; a small
bias-free, BN-free, average-pooling ANN is trained and converted by threshold balancing
(:func:`snnlab.conversion.threshold_balance.convert_by_threshold_balancing`); the converted SNN initialises two
students trained at ``T`` steps of Poisson input: LaSNN (CE + logit KD + activation and gradient attention at three
levels, :class:`snnlab.methods.lasnn.LaSNN`) and, as the control, the same fine-tuning with CE alone; LaSNN is also
fine-tuned at each learning rate of ``lr_sweep`` (the paper does not give its optimiser). A second control trains
the small ANN from scratch with the same logit distillation (:class:`snnlab.methods.DistilledANN`, CE and KD
weighted 1 : alpha as in LaSNN, as the convex combination (CE + alpha KD) / (1 + alpha): at the same SGD rate its
cross-entropy steps are 1 / (1 + alpha) of the small ANN's): does distillation help at all in the setting? Every SNN is
evaluated at every ``T`` of a sweep in one run (a causal network's first ``T`` steps of a longer Poisson train are
a ``T``-step run). Recorded: accuracy at ``T`` for each arm, the accuracy-vs-``T`` curves, the smallest ``T`` at
which the converted SNN reaches LaSNN's accuracy at ``T`` and the ratio of the two (the paper's latency claim),
energy per test sample and mean firing rate of every model.
"""
from __future__ import annotations


import math

import torch
from torch import nn
from torch.utils.data import DataLoader

from ...conversion.threshold_balance import convert_by_threshold_balancing
from ...encoding import poisson
from ...energy import NEURON_TYPES
from ...methods.base import ANNClassification, DistilledANN
from ...methods.lasnn import LaSNN
from ...models.plain import ConversionCNN
from ...neurons import neuron_spec
from ...reproducibility import derived_seed, seed_everything
from ...train import TrainConfig, Trainer, test_curve
from ..common import SGD_COSINE, data_info, fit_teacher, load_data, setting_model
from .kdsnn import model_metrics
from ..networks import with_network
from ..registry import BOOK_SEEDS, Contrast, Measure, Premise, Reproduction, register

__all__ = ["PRESETS", "ARMS", "run_seed", "accuracy_by_steps", "steps_to_reach"]

ARMS = ("lasnn", "lasnn-ce", "converted", "small-ann", "teacher", "small-ann-kd")
"""LaSNN first, the converted SNN fine-tuned with cross entropy alone at the same ``T`` second (the compared pair),
then the converted SNN without fine-tuning, the small ANN that was converted, the teacher and the small ANN
distilled from the teacher. The SNN arms' curves are accuracy vs ``T`` (their sweeps), the ANNs' curves test
accuracy per epoch. A record also holds ``lasnn-lr<rate>``
for each learning rate of the setting's ``lr_sweep``."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_IF = dict(kind="if", v_reset=None, surrogate="triangle", alpha=1.0)   # subtractive reset, linear surrogate
_FINE_TUNE = dict(optimizer="sgd", lr=1e-3, momentum=0.9, scheduler="cosine", batch_size=16)

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=100), T=4,
                  teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=8, neuron=None),
                               train=dict(_ADAM, epochs=1)),
                  student=dict(cfg=(4, "P", 8, "P", 8, "P"), neuron=_IF), ann_train=dict(_ADAM, epochs=2),
                  train=dict(_ADAM, lr=1e-3, epochs=1), lr_sweep=(1e-2,), alpha=1.0, tau=4.0, beta=1.0,
                  beta_grad=1.0, gamma=0.5, sweep=(1, 4, 8), student_sweep=(1, 4), seeds=1),
    # Fashion-MNIST at 16x16: the teacher (a 16-wide ANN) learns from all 18,000 training images; the small ANN,
    # its conversion and the fine-tuning use 6,000. The paper preset's recipe (SGD; fine-tuning at 1e-3 with
    # momentum 0.9, batch 16), scaled down in data, width and epochs (10 / 10 / 2); T = 8 against conversion swept
    # to 64 steps.
    "book": dict(dataset="fashion", data_options=dict(size=16, train_limit=6000), T=8,
                 teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=16, neuron=None),
                              data_options=dict(size=16), train=dict(SGD_COSINE, batch_size=128, epochs=10)),
                 student=dict(cfg=(8, "P", 16, "P", 32, "P"), neuron=_IF),
                 ann_train=dict(SGD_COSINE, lr=0.05, batch_size=128, epochs=10),
                 train=dict(_FINE_TUNE, epochs=2), lr_sweep=(1e-4, 1e-2), alpha=1.0, tau=4.0, beta=1.0, beta_grad=1.0,
                 gamma=0.5, sweep=(1, 2, 4, 8, 16, 32, 64), student_sweep=(1, 2, 4, 8, 16), seeds=BOOK_SEEDS),
    # CIFAR-10 (the paper also reports CIFAR-100 and Tiny-ImageNet): a VGG-style conversion-friendly student at
    # T = 100 against the converted SNN swept to T = 2500; teacher ANN ResNet-18 (300 epochs), small ANN 200
    # epochs, distillation 100 epochs, batch 16 (the paper's schedule; the optimiser is not given: SGD assumed).
    "paper": dict(dataset="cifar10", data_options=dict(augment=True, normalize=False), T=100,
                  teacher=dict(model="resnet18", model_options=dict(in_channels=3, neuron=None),
                               train=dict(SGD_COSINE, batch_size=128, epochs=300)),
                  student=dict(cfg=(64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, "P"), neuron=_IF,
                               dropout=0.2),
                  ann_train=dict(SGD_COSINE, lr=0.05, batch_size=128, epochs=200),
                  train=dict(_FINE_TUNE, epochs=100), lr_sweep=(1e-2,), alpha=1.0, tau=4.0, beta=1.0, beta_grad=1.0,
                  gamma=0.5, sweep=(25, 50, 100, 200, 400, 800, 1600, 2500), student_sweep=(25, 50, 100), seeds=1),
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


def steps_to_reach(steps, accuracies, target: float) -> tuple[float, bool]:
    """The smallest ``T`` of a sweep whose accuracy is at least ``target`` and ``True``; when none reaches it, the
    sweep's largest ``T`` (a lower bound on the steps needed) and ``False``."""
    reached = [T for T, acc in zip(steps, accuracies) if acc >= target]
    return (float(min(reached)), True) if reached else (float(max(steps)), False)


def _train_ann(method, settings_train, data, seed, progress):
    """Train an ANN ``method``; its model (in evaluation mode) and test accuracy per tested epoch."""
    config = TrainConfig(seed=seed, progress=progress, **settings_train)
    history = Trainer(method, data[0], data[1], config).fit()
    return method.model.eval(), test_curve(history)


def _student(settings: dict, info, spiking: bool) -> ConversionCNN:
    """The setting's small network for data of ``info``: the SNN (its neuron from the setting) or its ANN twin."""
    options = dict(settings["student"])
    spec = neuron_spec(**options.pop("neuron"))
    return ConversionCNN(info.num_classes, info.sample_shape[0], info.sample_shape[-1], neuron=spec if spiking else None,
                         **options)


def network(settings: dict, arm: str) -> nn.Module:
    """The network a record keeps for ``arm``: for ``lasnn`` and ``lasnn-ce`` the student SNN, its thresholds not a
    number until the file's balanced thresholds are loaded; for ``teacher`` the teacher ANN."""
    if arm == "teacher":
        return setting_model({**settings, **settings["teacher"]})
    snn = _student(settings, data_info(settings), spiking=True)
    for module in snn.modules():
        if isinstance(module, NEURON_TYPES):
            module.v_threshold = math.nan
    return snn


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """The three stages and the comparison for one seed; see the module docstring."""
    T = settings["T"]
    if T not in settings["sweep"] or T not in settings["student_sweep"]:
        raise ValueError(f"the sweeps must contain the student's T = {T}; got sweep {settings['sweep']} and "
                         f"student_sweep {settings['student_sweep']}")
    data = load_data(settings)
    info, test_set = data[0].info, data[1]
    images = next(iter(DataLoader(test_set, batch_size=64, shuffle=False)))[0]

    def student(spiking):
        return _student(settings, info, spiking)

    teacher, teacher_arm = fit_teacher(settings, seed, progress, data)
    seed_everything(seed)
    small_ann, ann_curve = _train_ann(ANNClassification(student(False)), settings["ann_train"], data, seed, progress)
    seed_everything(seed)
    kd_weight = settings["alpha"] / (1.0 + settings["alpha"])          # CE : KD = 1 : alpha, as in LaSNN's loss
    distilled_ann, distilled_curve = _train_ann(DistilledANN(student(False), teacher, alpha=kd_weight,
                                                             tau=settings["tau"]), settings["ann_train"], data, seed,
                                                progress)
    device = next(small_ann.parameters()).device

    def converted():
        snn = student(True).to(device)
        convert_by_threshold_balancing(small_ann, snn, DataLoader(data[0], batch_size=256), device)
        return snn

    def snn_arm(snn, sweep, method):
        curve = accuracy_by_steps(snn, test_set, sweep, seed=seed, device=device)
        method.eval()
        metrics = model_metrics(method.predict, snn, poisson(images, T), test_set, {}, seed)
        return {"final": curve[list(sweep).index(T)], "curve": curve, "metrics": metrics}

    def ann_arm(model, curve):
        return {"final": curve[-1], "curve": curve, "metrics": model_metrics(model, model, images, test_set, {}, seed)}

    def fine_tuned(teacher_or_none, train):
        seed_everything(seed)
        method = LaSNN(converted(), teacher_or_none, T, alpha=settings["alpha"], tau=settings["tau"],
                       beta=settings["beta"], beta_grad=settings["beta_grad"], gamma=settings["gamma"])
        Trainer(method, data[0], test_set, TrainConfig(seed=seed, progress=progress, **train)).fit()
        return with_network(snn_arm(method.model, settings["student_sweep"], method), method.model)

    results = {"teacher": with_network(ann_arm(teacher, teacher_arm["curve"]), teacher),
               "small-ann": ann_arm(small_ann, ann_curve),
               "small-ann-kd": ann_arm(distilled_ann, distilled_curve)}
    conversion = converted()
    results["converted"] = snn_arm(conversion, settings["sweep"], LaSNN(conversion, None, T))
    results["lasnn"] = fine_tuned(teacher, settings["train"])
    results["lasnn-ce"] = fine_tuned(None, settings["train"])
    needed, reached = steps_to_reach(settings["sweep"], results["converted"]["curve"], results["lasnn"]["final"])
    results["lasnn"]["metrics"].update(converted_steps_to_match=needed, latency_ratio=needed / T,
                                       latency_censored=float(not reached))
    for rate in settings["lr_sweep"]:
        results[f"lasnn-lr{rate:g}"] = fine_tuned(teacher, {**settings["train"], "lr": rate})
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
                    "below its ANN", Contrast("small-ann", "converted"), 3.0),
    against="the converted SNN fine-tuned with cross entropy alone at the same T (the paper sets LaSNN against "
            "conversion followed by fine-tuning, not against conversion alone)",
    further_claims=(
        Measure("latency", "lower latency: the converted SNN without fine-tuning needs more time steps than the "
                "student's T to reach the student's accuracy (ratio of steps, minus 1; a seed whose converted SNN "
                "never reaches it within the sweep counts the sweep's largest T, a lower bound)",
                Contrast("lasnn:latency_ratio", 1.0)),
    ),
    diagnostics=(
        Measure("over-conversion", "the distilled student against the converted SNN without fine-tuning",
                Contrast("lasnn", "converted")),
        Measure("ce-fine-tuning", "what fine-tuning with cross entropy alone adds to the converted SNN",
                Contrast("lasnn-ce", "converted")),
    ),
    presets=PRESETS,
    run_seed=run_seed,
    network=network,
    explored=("teacher",),
    paper_result={"claim": "accuracy comparable to the ANN at about 20x lower latency than the converted SNN",
                  "dataset": "CIFAR-10", "T": "100 (distilled) vs 2500 (converted)", "latency_ratio": 20,
                  "note": "accuracies per architecture are in the paper's tables"},
))
