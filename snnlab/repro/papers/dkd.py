"""DKD: does decoupled knowledge distillation make a spiking student more accurate than training it alone, and than
classical KD?

Zhao, Cui, Song, Qiu & Liang, *Decoupled Knowledge Distillation*, CVPR 2022. Per seed: an ANN teacher is trained (on
its own data, ``teacher["data_options"]``: the book preset's teacher sees the whole training set, the students a
tenth of it); then, with identical data, initial weights, budget and seed, the spiking students: cross entropy alone
(the baseline), classical KD (the paper's KD baseline: 0.1 CE + 0.9 KD at τ = 4, :class:`~snnlab.methods.KDSNN` in
response mode) and DKD (:class:`~snnlab.methods.DKD`, α = 1, β = 8, τ = 4, the distillation weight warmed up over
the first 20/240 of training). The recipe is the official CIFAR-100 one (SGD 0.05, momentum 0.9, weight decay 5e-4,
batch 64, ×0.1 at 150, 180 and 210 of 240 epochs), scaled in epochs with its milestones and warm-up.
"""
from __future__ import annotations

import math

from ...methods import DKD, KDSNN
from ..common import fit_teacher, load_data, train_arm
from ..registry import BOOK_SEEDS, Contrast, Measure, Premise, Reproduction, register

__all__ = ["PRESETS", "ARMS", "official_schedule", "run_seed"]

ARMS = ("dkd", "student", "kd", "teacher")
"""DKD first, the student trained alone second (the compared pair), then classical KD and the teacher."""

_PAPER_EPOCHS, _PAPER_MILESTONES, _PAPER_WARMUP = 240, (150, 180, 210), 20


def official_schedule(epochs: int) -> tuple[dict, float]:
    """The official CIFAR-100 optimiser for ``epochs`` epochs, its ×0.1 milestones at the same fractions of
    training (150, 180 and 210 of 240, rounded up), and the warm-up length in epochs (20 of 240)."""
    milestones = tuple(math.ceil(epochs * m / _PAPER_EPOCHS) for m in _PAPER_MILESTONES)
    train = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, batch_size=64, epochs=epochs,
                 scheduler="multistep", milestones=milestones, gamma=0.1)
    return train, epochs * _PAPER_WARMUP / _PAPER_EPOCHS


_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_BOOK_TRAIN, _BOOK_WARMUP = official_schedule(30)
_PAPER_TRAIN, _PAPER_WARMUP_EPOCHS = official_schedule(_PAPER_EPOCHS)
_LOSS = dict(alpha=1.0, beta=8.0, tau=4.0, kd_alpha=0.9)

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=100), T=2,
                  teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=8, neuron=None),
                               train=dict(_ADAM, epochs=1)),
                  model="small-cnn", model_options=dict(in_channels=1, width=4, neuron="if"),
                  train=dict(_ADAM, epochs=1), **_LOSS, warmup_epochs=1.0, seeds=1),
    # KDSNN's book setting (Fashion-MNIST 16x16; a 16-wide ANN teacher on all 18,000 training images, 8-wide IF
    # students at T = 4 on 1,800) with DKD's official recipe and loss weights, scaled to 30 epochs.
    "book": dict(dataset="fashion", data_options=dict(size=16, train_limit=1800), T=4,
                 teacher=dict(model="small-cnn", model_options=dict(in_channels=1, width=16, neuron=None),
                              data_options=dict(size=16), train=official_schedule(10)[0]),
                 model="small-cnn", model_options=dict(in_channels=1, width=8, neuron="if"),
                 train=dict(_BOOK_TRAIN, eval_every=5), **_LOSS, warmup_epochs=_BOOK_WARMUP, seeds=BOOK_SEEDS),
    # CIFAR-100 with the official recipe: a ResNet-18 ANN teacher, a ResNet-18 IF student at T = 4.
    "paper": dict(dataset="cifar100", data_options=dict(augment=True, normalize=True), T=4,
                  teacher=dict(model="resnet18", model_options=dict(in_channels=3, neuron=None), train=_PAPER_TRAIN),
                  model="resnet18", model_options=dict(in_channels=3, neuron="if"), train=_PAPER_TRAIN, **_LOSS,
                  warmup_epochs=_PAPER_WARMUP_EPOCHS, seeds=1),
}


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """The teacher and the three students for one seed; see the module docstring."""
    data = load_data(settings)
    teacher, teacher_result = fit_teacher(settings, seed, progress, data)
    T, tau = settings["T"], settings["tau"]
    students = {
        "dkd": lambda model: DKD(model, teacher, T, alpha=settings["alpha"], beta=settings["beta"], tau=tau,
                                 warmup_epochs=settings["warmup_epochs"]),
        "student": lambda model: KDSNN(model, None, T, mode="none"),
        "kd": lambda model: KDSNN(model, teacher, T, mode="response", alpha=settings["kd_alpha"], tau=tau),
    }
    return {"teacher": teacher_result,
            **{arm: train_arm(make, settings, seed, progress, data) for arm, make in students.items()}}


register(Reproduction(
    name="dkd",
    paper="Zhao, Cui, Song, Qiu & Liang. Decoupled Knowledge Distillation. CVPR 2022",
    claim="A student distilled with decoupled KD (target-class and non-target-class terms weighted apart) is more "
          "accurate than the same student trained alone, and than the student distilled with classical KD",
    metric="test accuracy (%)",
    arms=ARMS,
    presets=PRESETS,
    run_seed=run_seed,
    against="the same student trained alone with cross entropy (the paper's tables list the student's own "
            "accuracy beside every distillation method)",
    premise=Premise("the teacher knows more: it beats the student trained alone by at least 3 points",
                    Contrast("teacher", "student"), 3.0),
    further_claims=(Measure("over-kd", "DKD beats classical KD (0.1 CE + 0.9 KD at the same temperature)",
                            Contrast("dkd", "kd")),),
    diagnostics=(Measure("kd", "classical KD against the student trained alone", Contrast("kd", "student")),),
    paper_result={"dataset": "CIFAR-100", "model": "ResNet32x4 → ResNet8x4 (ANN student)", "kd": 73.33,
                  "dkd": 76.32},
))
