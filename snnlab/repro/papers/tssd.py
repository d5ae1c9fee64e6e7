"""TSSD: does self-distillation from the same network run longer (plus a weak early classifier) make a low-T SNN
more accurate than training it plainly at that T?

The paper leaves open whether the distillation targets pass gradient and whether the teacher output gets a cross
entropy of its own; each reading is an arm with its own verdict (:data:`READINGS`): ``tssd-one-way`` (targets
detached, no teacher cross entropy: the paper's loss L = L_task + α·L_TSD + β·L_SSD with its one-way guidance),
``tssd-detached`` (detached, plus the teacher's cross entropy) and ``tssd`` (minimised through both sides, plus the
teacher's cross entropy). Per seed and with identical data, initial weights and budget:
the three readings; the ablations TSD only and SSD only (of the first reading); the control "CE at both lengths"
(the cross entropies of student and teacher without either distillation term, the control of the readings with a
teacher cross entropy); the network trained plainly (mean-output cross entropy) at ``T_s``; and the network trained
plainly at ``T_t``, tested at ``T_t`` (the premise: more steps help) and at ``T_s`` (the TSSD paper's Table 2 point: a
network trained long does not simply run shorter). Two reproductions share this code: ``tssd`` on a static set (the
setting's ``encoding``, direct or Poisson: a causal network's first ``T_s`` steps of the ``T_t``-step input are the
``T_s``-step run, so one pass gives student and teacher) and ``tssd-events`` on event frames (the teacher sees ``T_t``
frames, the student their first ``T_s``). The demonstration ``tssd-inference`` trains one network each way on the
``tssd`` setting and measures them at every number of inference steps (:func:`inference_steps_demo`).
"""
from __future__ import annotations

from itertools import islice

import numpy as np
import torch
from torch.utils.data import DataLoader

from ...methods import TSSD, MeanOutputCE
from ...reproducibility import seed_everything
from ...train import final_accuracy, test_curve
from ..common import arm_result, fit, held_out_accuracy, load_data, train_arm
from ..networks import with_network
from ..demos import Demonstration, register_demonstration
from ..registry import BOOK_SEEDS, Contrast, Measure, PaperVariant, Premise, Reading, Reproduction, register
from ..sweeps import Sweep, register_sweep

__all__ = ["STATIC_PRESETS", "EVENT_PRESETS", "STATIC_VARIANTS", "EVENT_VARIANTS", "READINGS", "ARMS", "EXIT_THRESHOLDS",
           "run_seed", "inference_steps_demo"]

READINGS = {"tssd-one-way": dict(detach=True, teacher_ce=False), "tssd-detached": dict(detach=True, teacher_ce=True),
            "tssd": dict(detach=False, teacher_ce=True)}
"""Each reading's arm → its :class:`~snnlab.methods.tssd.TSSD` options (``detach_targets``, ``teacher_ce``)."""
ARMS = ("tssd-one-way", "plain", "tssd-detached", "tssd", "tsd-only", "ssd-only", "ce-both", "plain-Tt-at-Ts")
"""TSSD as the paper's text reads (the favoured reading) first, the plain network at ``T_s`` second (the compared
pair), then the other two readings, the ablations, the control without distillation and the Table 2 arm (trained at
``T_t``, tested at ``T_s``; its ``acc_at_Tt`` metric is the network trained and tested at ``T_t``)."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
# SGD 0.1, /10 every 30 epochs, 100 epochs, momentum 0.9, batch 64.
_SGD = dict(optimizer="sgd", lr=0.1, momentum=0.9, scheduler="step", step_size=30, gamma=0.1, batch_size=64,
            epochs=100)

STATIC_PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=200), model="small-cnn",
                  model_options=dict(in_channels=1, width=4, neuron="tssd"), encoding="direct", T_s=1, T_t=4,
                  alpha=1.0, beta=1.0, detach_targets=False, seeds=1, train=dict(_ADAM, epochs=1)),
    # Fashion-MNIST at 16x16 with the paper's recipe (SGD 0.1, momentum 0.9, weight decay 1e-4, batch 64, /10 at
    # 30 %, 60 % and 90 % of training; alpha = beta = 1; LIF tau = 2, soft reset; T_s = 1, T_t = 4), scaled down in
    # data (6,000 training images), width (SmallCNN-8) and epochs (10 instead of 100). Poisson input instead of the
    # paper's direct encoding: directly encoded, this small network is as accurate at T = 1 as at T = 4, so the
    # temporal teacher would know nothing more (the premise).
    "book": dict(dataset="fashion", data_options=dict(size=16, train_limit=6000), model="small-cnn",
                 model_options=dict(in_channels=1, width=8, neuron="tssd"), encoding="poisson", T_s=1, T_t=4,
                 alpha=1.0, beta=1.0, detach_targets=False, seeds=BOOK_SEEDS,
                 train=dict(_SGD, epochs=10, step_size=3, weight_decay=1e-4)),
    "paper": dict(dataset="cifar10", data_options=dict(augment=True, normalize=True), model="vgg9",
                  model_options=dict(in_channels=3, input_size=32, neuron="tssd"), encoding="direct", T_s=1, T_t=6,
                  alpha=1.0, beta=1.0, detach_targets=False, seeds=1, train=dict(_SGD, weight_decay=1e-4)),
}
EVENT_PRESETS = {
    "smoke": dict(dataset="event-gestures", data_options=dict(frames=4, size=16, train_per_class=8,
                                                              test_per_class=4),
                  model="small-cnn", model_options=dict(in_channels=2, width=4, neuron="tssd"), T_s=2, T_t=4,
                  alpha=1.0, beta=1.0, detach_targets=False, seeds=1, train=dict(_ADAM, epochs=1)),
    "book": dict(dataset="event-gestures", data_options=dict(frames=8, size=16), model="small-cnn",
                 model_options=dict(in_channels=2, width=8, neuron="tssd"), T_s=4, T_t=8, alpha=1.0, beta=1.0,
                 detach_targets=False, seeds=BOOK_SEEDS, train=dict(_ADAM, epochs=10)),
    # CIFAR10-DVS, 10 ms slices at 42x42 (16 kept), T_s = 8, T_t = 2 T_s; weight decay 1e-3 for event data.
    "paper": dict(dataset="cifar10-dvs", data_options=dict(preset="tssd"), model="vgg9",
                  model_options=dict(in_channels=2, input_size=42, neuron="tssd"), T_s=8, T_t=16, alpha=1.0,
                  beta=1.0, detach_targets=False, seeds=1, train=dict(_SGD, weight_decay=1e-3)),
}


STATIC_VARIANTS = {
    "cifar100": PaperVariant({**STATIC_PRESETS["paper"], "dataset": "cifar100", "T_t": 4},
                             {"dataset": "CIFAR-100", "model": "VGG-9", "T": "1 (T_t = 4)", "tssd": 73.33}),
    # The paper's second architecture; no ResNet-18 number for CIFAR-10 is used here.
    "resnet18": PaperVariant({**STATIC_PRESETS["paper"], "model": "resnet18",
                              "model_options": dict(in_channels=3, neuron="tssd")}, None),
}
EVENT_VARIANTS = {
    # DVS-Gesture: 30 ms slices at 32x32 (16 kept); no number for it is used here.
    "dvs-gesture": PaperVariant({**EVENT_PRESETS["paper"], "dataset": "dvs-gesture",
                                 "model_options": dict(in_channels=2, input_size=32, neuron="tssd")}, None),
}


def _encoding(settings: dict) -> str:
    """How static inputs become steps: the setting's ``encoding`` (event frames already carry their steps)."""
    return settings.get("encoding", "direct")


def _tssd(settings: dict, classes: int, alpha: float, beta: float, T_t: int | None = None,
          detach: bool | None = None, teacher_ce: bool = True):
    """A method factory: TSSD at the setting's ``T_s`` and ``T_t`` (or the given ``T_t``) with weights α, β (both 0:
    the cross entropies at both lengths alone), its distillation targets detached as the setting's
    ``detach_targets`` says (or as ``detach``), with the teacher's cross entropy unless ``teacher_ce`` is False."""
    return lambda model: TSSD(model, settings["T_s"], T_t or settings["T_t"], classes, alpha=alpha, beta=beta,
                              weak_stage="middle" if beta else None, encoding=_encoding(settings),
                              detach_targets=settings["detach_targets"] if detach is None else detach,
                              teacher_ce=teacher_ce)


def _accuracy_at(model, T: int, settings: dict, data, seed: int) -> float:
    """Test accuracy (%) of a trained ``model`` run for ``T`` steps (its mean output over the steps)."""
    return held_out_accuracy(MeanOutputCE(model, T, _encoding(settings)), settings, data, seed)


def _test_loader(settings: dict, data) -> DataLoader:
    """``data``'s test split in order, in batches of the setting's size."""
    return DataLoader(data[1], batch_size=settings["train"]["batch_size"], shuffle=False,
                      collate_fn=getattr(data[1], "collate_fn", None))


@torch.no_grad()
def _output_scale(model, T: int, settings: dict, data, batches: int = 8) -> float:
    """The mean absolute class score :math:`|f(x;\theta,T)|` of a trained ``model`` over the first ``batches``
    test batches: how large the logits that the L2 distillation terms compare have grown."""
    method = MeanOutputCE(model, T, _encoding(settings)).eval()
    device = next(model.parameters()).device
    scales = [method.predict(inputs.to(device)).abs().mean().item()
              for inputs, _ in islice(_test_loader(settings, data), batches)]
    return sum(scales) / len(scales)


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """The seven arms for one seed (see the module docstring); every arm's ``acc_at_Tt`` metric is its network run
    for ``T_t`` steps, its ``output_scale`` the mean absolute class score at ``T_s`` (:func:`_output_scale`)."""
    data = load_data(settings)
    T_s, T_t, classes = settings["T_s"], settings["T_t"], data[0].info.num_classes
    alpha, beta, encoding = settings["alpha"], settings["beta"], _encoding(settings)
    favoured = READINGS["tssd-one-way"]
    methods = {**{arm: _tssd(settings, classes, alpha, beta, **options) for arm, options in READINGS.items()},
               "tsd-only": _tssd(settings, classes, alpha, 0.0, **favoured),
               "ssd-only": _tssd(settings, classes, 0.0, beta, **favoured),
               "ce-both": _tssd(settings, classes, 0.0, 0.0),
               "plain": lambda model: MeanOutputCE(model, T_s, encoding)}
    results = {}
    for arm, make_method in methods.items():
        method, history = fit(make_method, settings, seed, progress, data)
        results[arm] = with_network(
            arm_result(history, {"acc_at_Tt": _accuracy_at(method.model, T_t, settings, data, seed),
                                 "output_scale": _output_scale(method.model, T_s, settings, data)}), method.model)
    long_run, history = fit(lambda model: MeanOutputCE(model, T_t, encoding), settings, seed, progress, data)
    results["plain-Tt-at-Ts"] = {"final": _accuracy_at(long_run.model, T_s, settings, data, seed),
                                 "curve": test_curve(history),
                                 "metrics": {"acc_at_Tt": final_accuracy(history),
                                             "output_scale": _output_scale(long_run.model, T_s, settings, data)}}
    return results


_PAPER = ("Zuo, Ding, Jing, Yang & Yu. Self-Distillation Learning Based on Temporal-Spatial Consistency for Spiking "
          "Neural Networks. arXiv:2406.07862, 2024")
_PREMISE = Premise("the temporal teacher knows more: trained and tested at T_t, the network is at least 1 point more "
                   "accurate than trained and tested at T_s", Contrast("plain-Tt-at-Ts:acc_at_Tt", "plain"), 1.0)
_PROTOCOL = dict(
    against="the same network trained plainly at T_s (the paper's baseline of direct training at the same T)",
    open_point="whether the distillation targets pass gradient, and whether the teacher output is trained by a cross "
               "entropy of its own",
    readings=(
        Reading("one-way", "tssd-one-way", "targets detached, no teacher cross entropy: L = L_task + alpha L_TSD + beta L_SSD",
                "the paper's loss has exactly these three terms, and its text describes one-way guidance: the "
                "student imitates the teacher, the full network's stable output guides the weak classifier",
                favoured=True),
        Reading("teacher-ce", "tssd-detached", "targets detached, plus the teacher's cross entropy",
                "one-way guidance as the text describes, with a term the paper's loss does not have (it keeps the "
                "teacher's extra steps trained)"),
        Reading("both-sides", "tssd", "distances minimised through both sides, plus the teacher's cross "
                "entropy", "the loss as printed, without a stop-gradient; the text's one-way guidance speaks "
                "against it, and the teacher cross entropy is not in the paper's loss"),
    ),
    diagnostics=(
        Measure("distillation-share", "the distillation terms' own share: the both-sides reading against the control "
                "with both cross entropies and no distillation", Contrast("tssd", "ce-both")),
        Measure("teacher-ce-share", "the teacher-ce reading against the control with both cross entropies and no "
                "distillation", Contrast("tssd-detached", "ce-both")),
        Measure("tsd-only", "TSD alone (first reading) against plain training", Contrast("tsd-only", "plain")),
        Measure("ssd-only", "SSD alone (first reading) against plain training", Contrast("ssd-only", "plain")),
    ),
)
_CLAIM = ("Training with the same network run for T_t > T_s steps as a temporal teacher and a weak classifier after "
          "the middle stage as a spatial signal gives higher accuracy at T_s than training plainly at T_s")

register(Reproduction(name="tssd", paper=_PAPER, claim=_CLAIM + " (static data)",
                      metric="test accuracy (%) at T_s", arms=ARMS, presets=STATIC_PRESETS, run_seed=run_seed,
                      paper_result={"dataset": "CIFAR-10", "model": "not stated", "T": "1 (T_t = 6)",
                                    "tssd": 93.80},
                      variants=STATIC_VARIANTS, premise=_PREMISE, **_PROTOCOL))
register(Reproduction(name="tssd-events", paper=_PAPER, claim=_CLAIM + " (event frames)",
                      metric="test accuracy (%) at T_s", arms=ARMS, presets=EVENT_PRESETS, run_seed=run_seed,
                      paper_result={"dataset": "CIFAR10-DVS", "model": "VGG-9", "T": 8, "tssd": 78.70},
                      variants=EVENT_VARIANTS, premise=_PREMISE, **_PROTOCOL))


def teacher_steps_point(settings: dict, T_t: int, seed: int, progress: bool) -> dict:
    """One point of the ``T_t`` sweep: TSSD with teacher length ``T_t`` (student at the setting's ``T_s``)."""
    data = load_data(settings)
    method = _tssd(settings, data[0].info.num_classes, settings["alpha"], settings["beta"], T_t=T_t)
    return {"tssd": train_arm(method, settings, seed, progress, data)["final"]}


register_sweep(Sweep(name="tssd-teacher-steps", reproduction="tssd", parameter="T_t", run_point=teacher_steps_point,
                     values={"smoke": (2, 4), "book": (2, 4, 6, 8), "paper": (2, 4, 6, 8)},
                     description="TSSD's accuracy at T_s as the temporal teacher runs longer"))


EXIT_THRESHOLDS = tuple(float(value) for value in np.linspace(0.3, 0.99, 15))
"""Confidence thresholds of the weak classifier's early exit in the demonstration (0.3 to 0.99)."""


@torch.no_grad()
def _early_exit(method: TSSD, settings: dict, data) -> dict:
    """Test accuracy (%) with the weak classifier's early exit and the share (%) of test samples it answers alone,
    at every threshold of :data:`EXIT_THRESHOLDS` (:meth:`~snnlab.methods.TSSD.early_exit`)."""
    method.eval()
    device = next(method.parameters()).device
    batches = [(inputs.to(device), targets.to(device)) for inputs, targets in _test_loader(settings, data)]
    total = sum(len(targets) for _, targets in batches)
    curve = {"thresholds": list(EXIT_THRESHOLDS), "accuracy": [], "exited": []}
    for threshold in EXIT_THRESHOLDS:
        outcomes = [(method.early_exit(inputs, threshold), targets) for inputs, targets in batches]
        curve["accuracy"].append(100 * sum((p == t).sum().item() for (p, _), t in outcomes) / total)
        curve["exited"].append(100 * sum(exited.sum().item() for (_, exited), _ in outcomes) / total)
    return curve


def inference_steps_demo(settings: dict, progress: bool) -> dict:
    """One network trained with TSSD and one trained plainly at ``T_s`` (seed 0, the same initial weights and
    training): each one's test accuracy at every number of inference steps ``T = 1 .. 2 T_t`` (trained weights do not
    depend on the steps they are later run for), and TSSD's weak classifier as an early exit (:func:`_early_exit`)."""
    data = load_data(settings)
    T_s, classes = settings["T_s"], data[0].info.num_classes
    tssd, _ = fit(_tssd(settings, classes, settings["alpha"], settings["beta"]), settings, 0, progress, data)
    plain, _ = fit(lambda model: MeanOutputCE(model, T_s, _encoding(settings)), settings, 0, progress, data)
    steps = list(range(1, 2 * settings["T_t"] + 1))
    accuracy = {arm: [_accuracy_at(method.model, T, settings, data, 0) for T in steps]
                for arm, method in (("tssd", tssd), ("plain", plain))}
    seed_everything(0)                                  # the Poisson code of the early-exit passes
    return {"steps": steps, "accuracy": accuracy, "early_exit": _early_exit(tssd, settings, data)}


register_demonstration(Demonstration(
    name="tssd-inference", presets=STATIC_PRESETS, run=inference_steps_demo,
    description="One network trained with TSSD and one plainly at T_s (seed 0): test accuracy at every number of "
                "inference steps, and the weak classifier as an early exit"))
