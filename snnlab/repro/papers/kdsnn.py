"""KDSNN: does distilling a frozen ANN into an SNN — through its outputs, its features or both — beat training the
SNN alone, and does it make the SNN more robust to noise?

Xu, Li, Shen, Liu, Tang & Pan, *Constructing Deep Spiking Neural Networks from Artificial Neural Networks with
Knowledge Distillation*, CVPR 2023. Per seed: an ANN teacher is trained (on its own data, ``teacher["data_options"]``
when given: the book preset's teacher sees the whole training set, the students a tenth of it); then, with identical
data, initial weights, budget and seed, the IF students: plain cross entropy (the baseline), response KD (the
paper's first method), feature KD and both (:class:`snnlab.methods.kdsnn.KDSNN`), and response KD at each further
temperature of ``tau_sweep`` (the paper does not give its temperature). The control: the student's architecture as
an ANN, trained alone and with the same response KD (:func:`~snnlab.repro.common.ann_student_arms`) — whether
distillation helps at all in the setting. The teacher and the four main students are tested clean and under Gaussian noise,
salt-and-pepper noise and blur at several levels (:func:`snnlab.robustness.noise_robustness`, the same noisy images
for all), with their energy per test sample and mean firing rate (:func:`snnlab.energy.energy_report`).
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from ...encoding import encode
from ...energy import energy_report
from ...methods.kdsnn import KDSNN
from ...robustness import noise_robustness
from ..common import SGD_COSINE, ann_student_arms, arm_result, fit, fit_teacher, load_data, train_arm
from ..networks import with_network
from ..registry import BOOK_SEEDS, Contrast, Measure, PaperVariant, Premise, Reproduction, register

__all__ = ["PRESETS", "ARMS", "STUDENT_MODES", "run_seed", "model_metrics"]

ARMS = ("kd-response", "snn", "kd-feature", "kd-both", "teacher", "ann-student", "ann-student-kd")
"""Response-based KDSNN first, the plain SNN second (the compared pair), then feature KD, both, the teacher and the
control (the student's architecture as an ANN, alone and distilled). A record also holds ``kd-response-tau<τ>`` for
each temperature of the setting's ``tau_sweep``."""
STUDENT_MODES = {"kd-response": "response", "snn": "none", "kd-feature": "feature", "kd-both": "both"}
"""Student arm → :class:`~snnlab.methods.kdsnn.KDSNN` mode."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_NOISE = {"gaussian": (0.2, 0.4), "salt-pepper": (0.1, 0.2), "blur": (1.0, 1.5)}
# The paper gives no schedule for CIFAR: the common CIFAR ResNet recipe, 200 epochs at batch 128 in the paper preset.
_CIFAR_SGD = dict(SGD_COSINE, batch_size=128, epochs=200)

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=100), T=2,
                  teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=8, neuron=None),
                               train=dict(_ADAM, epochs=1)),
                  model="small-cnn", model_options=dict(in_channels=1, width=4, neuron="if"),
                  train=dict(_ADAM, epochs=1), alpha=0.9, tau=4.0, tau_sweep=(1.0,), beta=1e-4,
                  noise=dict(gaussian=(0.3,)), seeds=1),
    # Fashion-MNIST at 16x16, few labels (Hinton et al. 2015): the teacher (a 16-wide ANN) learns from all 18,000
    # training images, the 8-wide IF students at T = 4 from 1,800 of them (180 per class). SGD with cosine
    # annealing (the paper preset's recipe) for 10 (teacher) and 30 (students) epochs.
    "book": dict(dataset="fashion", data_options=dict(size=16, train_limit=1800), T=4,
                 teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=16, neuron=None),
                              data_options=dict(size=16), train=dict(SGD_COSINE, batch_size=128, epochs=10)),
                 model="small-cnn", model_options=dict(in_channels=1, width=8, neuron="if"),
                 train=dict(SGD_COSINE, batch_size=64, epochs=30, eval_every=5), alpha=0.9, tau=4.0,
                 tau_sweep=(1.0, 2.0), beta=1e-4, noise=_NOISE, seeds=BOOK_SEEDS),
    # CIFAR-10, ResNet-18 IF student at T = 4 (KDSNN's CIFAR-10 setting; 93.41 % as re-reported).
    "paper": dict(dataset="cifar10", data_options=dict(augment=True, normalize=False), T=4,
                  teacher=dict(model="resnet18", model_options=dict(in_channels=3, neuron=None),
                               train=_CIFAR_SGD),
                  model="resnet18", model_options=dict(in_channels=3, neuron="if"), train=_CIFAR_SGD,
                  alpha=0.9, tau=4.0, tau_sweep=(1.0, 2.0), beta=1e-4, noise=_NOISE, seeds=1),
}

VARIANTS = {
    "cifar100": PaperVariant(
        settings={**PRESETS["paper"], "dataset": "cifar100"},
        paper_result={"dataset": "CIFAR-100", "model": "ResNet-18", "T": 4, "kd-response": None,
                      "note": "no CIFAR-100 number is used here"}),
}
"""CIFAR-100 with the CIFAR-10 setting. Tiny-ImageNet has no loader in snnlab (see the chapter)."""


def _first_test_batch(test_set, size: int = 64) -> torch.Tensor:
    return next(iter(DataLoader(test_set, batch_size=size, shuffle=False)))[0]


def model_metrics(predict, model, model_input: torch.Tensor, test_set, noise: dict, seed: int) -> dict:
    """Accuracy under each noise (``"<noise>@<level>"``), energy per sample (pJ) and mean firing rate (the mean
    over neuron layers; 0 for an ANN) of one trained model."""
    device = next(model.parameters()).device
    robustness = noise_robustness(predict, test_set, noise, seed=seed, device=device)
    metrics = {f"{name}@{level:g}": acc for name, by_level in robustness.items() for level, acc in by_level.items()}
    report = energy_report(model, model_input.to(device))
    samples = model_input.shape[1] if report.firing_rates else model_input.shape[0]
    metrics["energy_pj"] = report.energy_pj / samples
    metrics["firing_rate"] = report.mean_firing_rate or 0.0
    return metrics


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """Teacher, students and control for one seed; see the module docstring."""
    data = load_data(settings)
    test_set, T, alpha, tau = data[1], settings["T"], settings["alpha"], settings["tau"]
    images = _first_test_batch(test_set)
    teacher, teacher_result = fit_teacher(settings, seed, progress, data)
    teacher_metrics = model_metrics(teacher, teacher, images, test_set, settings["noise"], seed)
    results = {"teacher": {**teacher_result, "metrics": teacher_metrics}}

    def student(mode: str, temperature: float = tau):
        return lambda model: KDSNN(model, None if mode == "none" else teacher, T, mode=mode, alpha=alpha,
                                   tau=temperature, beta=settings["beta"])

    for arm, mode in STUDENT_MODES.items():
        method, history = fit(student(mode), settings, seed, progress, data)
        method.eval()
        metrics = model_metrics(method.predict, method.model, encode("direct", images, T), test_set,
                                settings["noise"], seed)
        results[arm] = with_network(arm_result(history, metrics), method.model)
    for temperature in settings["tau_sweep"]:
        results[f"kd-response-tau{temperature:g}"] = train_arm(student("response", temperature), settings, seed,
                                                               progress, data)
    results["ann-student"], results["ann-student-kd"] = ann_student_arms(settings, seed, progress, data, teacher,
                                                                         alpha=alpha, tau=tau)
    return results


register(Reproduction(
    name="kdsnn",
    paper="Xu, Li, Shen, Liu, Tang & Pan. Constructing Deep Spiking Neural Networks from Artificial Neural Networks "
          "with Knowledge Distillation. CVPR 2023",
    claim="An SNN distilled from a frozen ANN (response-based or feature-based KD) is more accurate than the same "
          "SNN trained alone, and keeps more of its accuracy under artificial noise",
    metric="test accuracy (%)",
    arms=ARMS,
    against="the same SNN trained alone with cross entropy (the paper's tables set each KD student beside it)",
    premise=Premise("the teacher knows more: the ANN teacher beats the SNN student trained alone by at least 3 "
                    "points", Contrast("teacher", "snn"), 3.0),
    further_claims=(
        Measure("feature-kd", "feature-based KD: the SNN distilled from the teacher's features beats the SNN "
                "trained alone", Contrast("kd-feature", "snn")),
        Measure("noise", "robustness: under Gaussian noise of standard deviation 0.2 the response-distilled SNN is "
                "more accurate than the SNN trained alone", Contrast("kd-response:gaussian@0.2", "snn:gaussian@0.2")),
    ),
    diagnostics=(
        Measure("kd-in-an-ann", "the same response KD into an ANN of the student's architecture, against that ANN "
                "trained alone: the mechanism's size without spikes", Contrast("ann-student-kd", "ann-student")),
    ),
    presets=PRESETS,
    run_seed=run_seed,
    paper_result={"dataset": "CIFAR-10", "model": "ResNet-18 (IF)", "T": 4, "kd-response": 93.41,
                  "source": "as re-reported in later work"},
    variants=VARIANTS,
))
