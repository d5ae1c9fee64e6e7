"""MSKD: does a multimodal teacher make an intensity-only student SNN better, most under bad lighting?

Wang et al., *Apprenticeship-Inspired Elegance: Synergistic Knowledge Distillation Empowers Spiking Neural Networks
for Efficient Single-Eye Emotion Recognition*, IJCAI 2024. Per seed: a SEEN-style teacher (intensity + event
frames) is trained with TET; then four students with identical data, initial weights, budget and seed are trained
on intensity frames only: CE only (the baseline), +TCKD, +HCKD, +both (MSKD); and, for the premise, the student's
network at the teacher's size (``intensity_teacher`` widths) trained with CE alone, which measures how much of the
teacher's margin intensity frames carry without the events. Every arm is tested with the clip
protocol (:func:`snnlab.evaluation.clip_protocol`): WAR, UAR, accuracy per lighting condition and per time step,
averaged over seeded random temporal crops; its parameter count and its energy per test clip
(:func:`snnlab.energy.energy_report`) are recorded too, and for each student how hard each loss term pulls on its
outputs (:func:`snnlab.methods.mskd.output_gradient_norms` on one training batch, at initialisation and after
training): the measurement behind the setting's ``kd_weight``.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from ...energy import energy_report
from ...evaluation import clip_protocol
from ...losses import curriculum_alpha
from ...methods import MSKD, TET
from ...methods.mskd import ABLATIONS, output_gradient_norms
from ...train import test_curve
from ..common import fit, fit_teacher, load_data, seeded_model
from ..networks import with_network
from ..registry import BOOK_SEEDS, Contrast, Measure, Premise, Reproduction, register

__all__ = ["PRESETS", "ARMS", "run_seed"]

ARMS = ("student+both", "student", "student+tckd", "student+hckd", "teacher", "intensity-teacher")
"""MSKD first, the baseline student second (the compared pair), then the ablations, the teacher and the
intensity-only network of the teacher's size."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_EYE = dict(timesteps=4, stride=4, size=32, random_crop=True)      # SEEN's clips; seeded random crops at test
_TEACHER_EYE = dict(model="seen-teacher", model_options=dict(event_channels=2, input_size=32, widths=(16, 32, 64),
                                                            hidden=128, neuron="tet"))
_STUDENT_EYE = dict(model="intensity-student",
                    model_options=dict(in_channels=1, input_size=32, widths=(8, 16, 32), hidden=64, neuron="tet"),
                    intensity_teacher=dict(widths=(16, 32, 64), hidden=128))   # the teacher's widths

PRESETS = {
    "smoke": dict(dataset="eye", data_options=dict(_EYE, train_per_class=8, test_per_class=4), T=4,
                  teacher=dict(_TEACHER_EYE, train=dict(_ADAM, epochs=1)), **_STUDENT_EYE,
                  train=dict(_ADAM, epochs=2), alpha=dict(start=0.5, step=0.1, period=1, cap=0.9), space="probs",
                  kd_weight=1.0, passes=2, seeds=1),
    # kd_weight = 40: with the paper's weight 1, TCKD pulls on the untrained student's outputs 40 times more weakly
    # than the cross entropy (gradient norms 0.00104 vs 0.0414 at alpha = 0.5, seed 0; HCKD's is 0 until the student
    # gets a step right), so the teacher would barely act. At 40 the two pull equally at the start.
    "book": dict(dataset="eye", data_options=dict(_EYE), T=4,
                 teacher=dict(_TEACHER_EYE, train=dict(_ADAM, epochs=15)), **_STUDENT_EYE,
                 train=dict(_ADAM, epochs=20), alpha=dict(start=0.5, step=0.1, period=4, cap=0.9), space="probs",
                 kd_weight=40.0, passes=5, seeds=BOOK_SEEDS),
    # SEE with SEEN's settings (its code): 90x90 clips of 4 frames every 4, RGB event JPGs, SEEN's normalisation;
    # SGD 0.015, momentum 0.9, weight decay 1e-3, lr x0.94 per epoch, 180 epochs, batch 32; 20 test passes.
    "paper": dict(dataset="see", data_options=dict(timesteps=4, stride=4, size=90, event_channels=3, normalize=True),
                  T=4,
                  teacher=dict(model="seen-teacher",
                               model_options=dict(event_channels=3, input_size=90, widths=(32, 64, 128), hidden=256,
                                                  neuron="seen"),
                               train=dict(optimizer="sgd", lr=0.015, momentum=0.9, weight_decay=1e-3,
                                          scheduler="step", step_size=1, gamma=0.94, batch_size=32, epochs=180)),
                  model="intensity-student",
                  model_options=dict(in_channels=1, input_size=90, widths=(16, 32, 64), hidden=128, neuron="seen"),
                  intensity_teacher=dict(widths=(32, 64, 128), hidden=256),
                  train=dict(optimizer="sgd", lr=0.015, momentum=0.9, weight_decay=1e-3, scheduler="step",
                             step_size=1, gamma=0.94, batch_size=32, epochs=180),
                  alpha=dict(start=0.5, step=0.1, period=30, cap=0.9), space="probs", kd_weight=1.0, passes=20,
                  seeds=1),
}


def _arm_result(method, history, sequence_fn, model, model_input, test_set, settings) -> dict:
    """The clip-protocol metrics of one trained arm, its parameter count and its energy per test clip (pJ)."""
    device = next(method.parameters()).device
    method.eval()
    metrics = clip_protocol(sequence_fn, test_set, passes=settings["passes"], device=device)
    metrics["params"] = float(sum(p.numel() for p in model.parameters()))
    x = model_input(device)
    clips = (x["frames"] if isinstance(x, dict) else x).shape[1]
    metrics["energy_pj"] = energy_report(model, x).energy_pj / clips
    return with_network({"final": metrics["war"], "curve": test_curve(history), "metrics": metrics}, model)


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """The teacher, the intensity-only network of the teacher's size, then the four students, for one seed; see the
    module docstring."""
    data = load_data(settings)
    T = settings["T"]
    clips, _ = next(iter(DataLoader(data[1], batch_size=32, shuffle=False, collate_fn=data[1].collate_fn)))

    def inputs(device):
        return {k: v.to(device) for k, v in clips.items()}

    teacher, teacher_arm = fit_teacher(settings, seed, progress, data, make_method=lambda model: TET(model, T))
    results = {"teacher": _arm_result(teacher, teacher_arm["history"], teacher, teacher, inputs, data[1], settings)}

    def schedule(epoch: int) -> float:
        return curriculum_alpha(epoch, **settings["alpha"])

    def method_factory(use_hckd: bool, use_tckd: bool):
        return lambda model: MSKD(model, teacher if use_hckd or use_tckd else None, T, hckd=use_hckd, tckd=use_tckd,
                                  space=settings["space"], alpha_schedule=schedule, kd_weight=settings["kd_weight"])

    def student_result(method, history) -> dict:
        return _arm_result(method, history, method.student_sequence, method.model,
                           lambda device: inputs(device)["frames"], data[1], settings)

    at_teacher_size = {**settings, "model_options": {**settings["model_options"], **settings["intensity_teacher"]}}
    results["intensity-teacher"] = student_result(*fit(method_factory(*ABLATIONS["ce"]), at_teacher_size, seed,
                                                       progress, data))

    torch.manual_seed(seed)  # the training batch of the gradient measurement (random crops)
    batch, labels = next(iter(DataLoader(data[0], batch_size=32, shuffle=False, collate_fn=data[0].collate_fn)))
    device = next(teacher.parameters()).device
    batch, labels = {k: v.to(device) for k, v in batch.items()}, labels.to(device)
    students = {"student": "ce", "student+tckd": "tckd", "student+hckd": "hckd", "student+both": "both"}
    for arm, ablation in students.items():
        make_method = method_factory(*ABLATIONS[ablation])
        untrained = make_method(seeded_model(settings, seed, data[0].info.num_classes)).to(device)
        at_start = output_gradient_norms(untrained.train(), batch, labels)
        method, history = fit(make_method, settings, seed, progress, data)
        results[arm] = student_result(method, history)
        at_end = output_gradient_norms(method.eval(), batch, labels)  # eval: the batch-norm statistics stay
        results[arm]["metrics"] |= {f"grad_{term}_start": value for term, value in at_start.items()}
        results[arm]["metrics"] |= {f"grad_{term}_end": value for term, value in at_end.items()}
    return results


register(Reproduction(
    name="mskd",
    paper="Wang, Mei, Bao et al. Apprenticeship-Inspired Elegance: Synergistic Knowledge Distillation Empowers "
          "Spiking Neural Networks for Efficient Single-Eye Emotion Recognition. IJCAI 2024",
    claim="An intensity-only student SNN distilled from a multimodal (intensity + events) teacher with HCKD + TCKD "
          "has higher WAR than the same student trained with CE alone, closing part of the gap to the teacher, "
          "most under degraded lighting",
    metric="WAR (%), mean over seeded random test clips",
    arms=ARMS,
    against="the same intensity student trained with cross entropy alone (the paper's ablation without KD)",
    premise=Premise("the multimodal teacher knows more: it beats the intensity student trained alone by at least 3 "
                    "points of WAR", Contrast("teacher", "student"), 3.0),
    further_claims=(
        Measure("low-light", "most under degraded lighting: in low light the distilled student beats the student "
                "trained alone", Contrast("student+both:acc/low-light", "student:acc/low-light")),
    ),
    diagnostics=(
        Measure("intensity-carries", "what intensity frames alone can carry: the student's network at the teacher's "
                "size trained on intensity frames, against the student trained alone",
                Contrast("intensity-teacher", "student")),
        Measure("tckd-only", "TCKD alone against the student trained alone", Contrast("student+tckd", "student")),
        Measure("hckd-only", "HCKD alone against the student trained alone", Contrast("student+hckd", "student")),
    ),
    presets=PRESETS,
    run_seed=run_seed,
    paper_result={"claim": "the distilled student beats the student trained alone in WAR and UAR, most under "
                           "degraded lighting", "dataset": "SEE (DAVIS346 single-eye emotions, 7 classes)",
                  "note": "the paper's per-arm numbers are not available to this kit"},
))
