"""Every static-image method of the kit on common ground: one backbone, one time-step budget, one training budget.

Each paper reports its method with its own network, data pipeline, time steps and schedule, so their numbers do not
compare. Here, per seed, every method trains the same student backbone (its convolutions, widths and neuron) on the
same images with the same optimiser, schedule and number of passes over the data, and is deployed at the same number
of time steps ``T``:

* ``plain``: the SNN trained with cross entropy on its time-averaged output (:class:`~snnlab.methods.MeanOutputCE`),
  the baseline every arm is compared with;
* ``tet``: TET's per-step loss (:class:`~snnlab.methods.TET`);
* ``kdsnn``: response distillation from a frozen ANN teacher (:class:`~snnlab.methods.KDSNN`);
* ``lasnn``: the backbone's convolutions without batch norm or bias trained as an ANN, converted by threshold
  balancing and fine-tuned with LaSNN's layer-wise attention distillation from the teacher
  (:class:`~snnlab.methods.LaSNN`; Poisson input, as LaSNN runs); the ANN and the fine-tuning share the budget;
* ``joint-asnn``: Joint A-SNN's twins with factorised weights and branches (:class:`~snnlab.methods.JointASNN`),
  deployed as the SNN twin;
* ``tssd``: TSSD with the network run for ``T_t`` steps as its temporal teacher and a weak classifier after the
  middle stage (:class:`~snnlab.methods.TSSD`), deployed at ``T``;
* ``ssnn``: the backbone's stages run at shrinking steps whose average :math:`T_{avg}` is ``T``, with temporal
  transformers and early classifiers (:class:`~snnlab.methods.SSNN`);
* ``lc-ttfs``: the backbone's convolutions under LC-TTFS's constraints (weights summing to one, ReLU1, no bias or
  batch norm) trained as an ANN and converted to a TTFS SNN, one spike per neuron, simulated exactly
  (:func:`snnlab.conversion.convert`); its latency is one time window per layer;
* ``ann``: the backbone as an ANN (ReLU for the neurons), and ``teacher``: the wider ANN that KDSNN and LaSNN learn
  from — references, not SNNs.

Recorded per arm: test accuracy, ``latency`` (time steps; :math:`T_{avg}` for SSNN; windows for TTFS; 1 for an
ANN), energy per image on the deployed network (:func:`snnlab.energy.energy_report`, 45 nm figures; the TTFS SNN
as one accumulate per synapse, as :mod:`snnlab.repro.papers.lc_ttfs` counts it), MACs and SOPs per image, firing rate, and
``train_s``: the seconds of training passes needed to obtain the deployed network, a teacher's and a converted ANN's
included.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from ...conversion import constrained_cnn, convert
from ...conversion.threshold_balance import convert_by_threshold_balancing
from ...encoding import direct, poisson
from ...energy import NEURON_TYPES
from ...methods import SSNN, TET, TSSD, JointASNN, KDSNN, LaSNN, MeanOutputCE
from ...methods.base import ANNClassification
from ...methods.kdsnn import last_in_stage
from ...models import ShrinkingSNN
from ...models.factorised import JointNet
from ...models.plain import ConversionCNN
from ...neurons import neuron_spec
from ...reproducibility import seed_everything
from ...train import TrainConfig, Trainer, final_accuracy, test_curve
from ..common import arm_result, energy_metrics, fit, load_data, training_seconds
from ..comparisons import Comparison, register_comparison
from .lc_ttfs import convert_and_measure
from ..registry import BOOK_SEEDS
from .ssnn import average_steps

__all__ = ["PRESETS", "ARMS", "SNN_ARMS", "DIRECT_INPUT", "run_seed", "deployment"]

SNN_ARMS = ("plain", "tet", "kdsnn", "lasnn", "joint-asnn", "tssd", "ssnn", "lc-ttfs")
"""The spiking arms: the baseline first, then the methods in the order of the book's chapters."""
ARMS = (*SNN_ARMS, "ann", "teacher")
"""The spiking arms, then the two ANN references."""

DIRECT_INPUT = "direct coding: the image at every step"
"""The input coding of every SNN arm but the conversions, in words."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_FINE_TUNE = dict(optimizer="sgd", lr=1e-3, momentum=0.9, scheduler="cosine", batch_size=32)
_IF = dict(kind="if", v_reset=None, surrogate="triangle", alpha=1.0)
"""The converted arms' neuron: IF with the subtractive reset that threshold balancing assumes."""
_METHODS = dict(tet=dict(lam=1e-3, phi=1.0), kdsnn=dict(alpha=0.9, tau=4.0),
                lasnn=dict(alpha=1.0, tau=4.0, beta=1.0, beta_grad=1.0, gamma=0.5),
                joint_asnn=dict(alpha=0.1, tau=3.0, beta=1e-6), tssd=dict(alpha=1.0, beta=1.0))
"""Each method's own hyper-parameters, as its reproduction uses them."""

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=96),
                  model="small-cnn", model_options=dict(in_channels=1, width=4, neuron="lif"),
                  conversion_cfg=(4, 8, "P", 16, "P", "P", "P"), teacher_width=8, T=2, T_t=4, ssnn_steps=(3, 2, 1),
                  train=dict(_ADAM, epochs=2), fine_tune_epochs=1, fine_tune=_FINE_TUNE, methods=_METHODS,
                  energy_samples=16, seeds=1),
    # Fashion-MNIST at 16x16, 4,000 training images, the whole 6,000-image test split. SmallCNN-8 (convolutions of 8,
    # 16 and 32 channels, global average pooling) with the kit's default LIF neuron; the conversion arms have the same
    # convolutions and poolings, the last two halvings making the global average; T = 4 for every SNN (SSNN's stages at 6 | 4 | 2 steps:
    # T_avg = 4; TSSD's teacher at T_t = 8). Adam 3e-3, cosine, batch 32, 8 passes over the data for every network
    # (LaSNN: 6 for its ANN, 2 for the fine-tuning); the teacher is SmallCNN-16 as an ANN with the same budget.
    "book": dict(dataset="fashion", data_options=dict(size=16, train_limit=4000),
                 model="small-cnn", model_options=dict(in_channels=1, width=8, neuron="lif"),
                 conversion_cfg=(8, 16, "P", 32, "P", "P", "P"), teacher_width=16, T=4, T_t=8, ssnn_steps=(6, 4, 2),
                 train=dict(_ADAM, epochs=8, eval_every=4), fine_tune_epochs=2, fine_tune=_FINE_TUNE,
                 methods=_METHODS, energy_samples=256, seeds=BOOK_SEEDS),
    # For a GPU: CIFAR-10 (augmented, pixels in [0, 1] as the conversions need), SmallCNN-64, 100 epochs.
    "paper": dict(dataset="cifar10", data_options=dict(augment=True, normalize=False),
                  model="small-cnn", model_options=dict(in_channels=3, width=64, neuron="lif"),
                  conversion_cfg=(64, 128, "P", 256, "P", "P", "P", "P"), teacher_width=128, T=4, T_t=8, ssnn_steps=(6, 4, 2),
                  train=dict(_ADAM, lr=1e-3, batch_size=128, epochs=100, eval_every=10), fine_tune_epochs=20,
                  fine_tune=dict(_FINE_TUNE, batch_size=128), methods=_METHODS, energy_samples=256, seeds=1),
}


def deployment(settings: dict) -> dict[str, dict]:
    """What each arm deploys under ``settings``, as :func:`run_seed` builds it: ``network``, ``input`` (its coding)
    and ``steps``, the latency as the number of time steps that run one after the other before the output is
    complete. Every SNN runs ``T`` steps, except SSNN, whose stages run one after the other (a stage's temporal
    transformer needs the whole output of the stage before it, so their steps add up), and the TTFS network, which
    needs one time window per layer; an ANN is one pass."""
    width, neuron, T = settings["model_options"]["width"], settings["model_options"]["neuron"], settings["T"]
    backbone, stages = f"SmallCNN-{width}, {neuron} neurons", tuple(settings["ssnn_steps"])
    layers = "-".join(map(str, settings["conversion_cfg"]))
    arms = {arm: {"network": backbone, "input": DIRECT_INPUT, "steps": T} for arm in SNN_ARMS}
    arms["joint-asnn"]["network"] = f"{backbone}, weights factorised with an ANN twin"
    arms["ssnn"] = {"network": f"{backbone}, run in stages", "input": DIRECT_INPUT, "steps": sum(stages)}
    arms["lasnn"] = {"network": f"ConversionCNN {layers} (no batch norm or bias), {_IF['kind']} neurons",
                     "input": "Poisson spikes", "steps": T}
    arms["lc-ttfs"] = {"network": f"constrained CNN {layers}, one spike per neuron", "input": "first-spike times",
                       "steps": len(settings["conversion_cfg"]) + 1}
    arms["ann"] = {"network": f"SmallCNN-{width} as an ANN", "input": "the image, one pass", "steps": 1}
    arms["teacher"] = {"network": f"SmallCNN-{settings['teacher_width']} as an ANN", "input": "the image, one pass",
                       "steps": 1}
    return arms


def _with_model_options(settings: dict, **options) -> dict:
    return {**settings, "model_options": {**settings["model_options"], **options}}


def _train(method, train: dict, data, seed: int, progress: bool) -> list[dict]:
    """Train ``method`` on ``data`` with the ``train`` group; its history."""
    return Trainer(method, data[0], data[1], TrainConfig(seed=seed, progress=progress, **train)).fit()


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """Every arm for one seed (see the module docstring)."""
    data = load_data(settings)
    info, test_set = data[0].info, data[1]
    classes = info.num_classes
    T, options = settings["T"], settings["methods"]
    images = next(iter(DataLoader(test_set, batch_size=settings["energy_samples"], shuffle=False)))[0]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    images = images.to(device)
    results = {}

    def spiking_arm(make_method, deployed=lambda method: method.model, latency=float(T), inputs=None,
                    prerequisite_s=0.0):
        method, history = fit(make_method, settings, seed, progress, data)
        method.eval()
        network_input = direct(images, T) if inputs is None else inputs
        metrics = energy_metrics(deployed(method).to(device), network_input, spiking=True)
        return arm_result(history, {**metrics, "latency": latency,
                                    "train_s": prerequisite_s + training_seconds(history)})

    teacher_settings = _with_model_options(settings, width=settings["teacher_width"], neuron=None)
    teacher_method, teacher_history = fit(ANNClassification, teacher_settings, seed, progress, data)
    teacher, teacher_s = teacher_method.model.eval(), training_seconds(teacher_history)
    results["teacher"] = arm_result(teacher_history, {**energy_metrics(teacher, images, spiking=False),
                                                      "latency": 1.0, "train_s": teacher_s})
    ann_method, ann_history = fit(ANNClassification, _with_model_options(settings, neuron=None), seed, progress, data)
    results["ann"] = arm_result(ann_history, {**energy_metrics(ann_method.model.eval(), images, spiking=False),
                                              "latency": 1.0, "train_s": training_seconds(ann_history)})

    results["plain"] = spiking_arm(lambda model: MeanOutputCE(model, T))
    results["tet"] = spiking_arm(lambda model: TET(model, T, **options["tet"]))
    results["kdsnn"] = spiking_arm(lambda model: KDSNN(model, teacher, T, mode="response", **options["kdsnn"]),
                                   prerequisite_s=teacher_s)
    results["joint-asnn"] = spiking_arm(
        lambda model: JointASNN(JointNet(model, classes, info.sample_shape), T, **options["joint_asnn"]),
        deployed=lambda method: method.net.export("snn"))
    results["tssd"] = spiking_arm(lambda model: TSSD(model, T, settings["T_t"], classes, **options["tssd"]))
    steps = tuple(settings["ssnn_steps"])
    results["ssnn"] = spiking_arm(lambda model: SSNN(ShrinkingSNN(model, steps), classes),
                                  latency=average_steps({**settings, "steps": steps}, classes),
                                  inputs=direct(images, steps[0]))
    results["lasnn"] = _lasnn_arm(settings, data, teacher, teacher_s, images, seed, progress, device)
    results["lc-ttfs"] = _lc_ttfs_arm(settings, data, seed, progress)
    return results


def _conversion_cnn(settings: dict, info, neuron):
    return ConversionCNN(info.num_classes, info.sample_shape[0], info.sample_shape[-1],
                         cfg=tuple(settings["conversion_cfg"]), neuron=neuron)


def _same_resolution_levels(student, teacher) -> tuple[tuple[str, str], ...]:
    """LaSNN's attention levels between a conversion student, whose stages end at its poolings, and a SmallCNN
    teacher, whose first stage ends before its first pooling: the teacher's later stages, each with the student's
    stage of the same resolution."""
    return tuple((last_in_stage(student, s, NEURON_TYPES), last_in_stage(teacher, t, (nn.ReLU,)))
                 for s, t in zip(student.stage_names, teacher.stage_names[1:]))


def _lasnn_arm(settings, data, teacher, teacher_s, images, seed, progress, device) -> dict:
    """The small ANN trained for the budget less the fine-tuning epochs, converted, fine-tuned with LaSNN."""
    info, T = data[0].info, settings["T"]
    fine_tune_epochs = settings["fine_tune_epochs"]
    ann_train = {**settings["train"], "epochs": settings["train"]["epochs"] - fine_tune_epochs}
    seed_everything(seed)
    ann = _conversion_cnn(settings, info, None)
    ann_history = _train(ANNClassification(ann), ann_train, data, seed, progress)
    snn = _conversion_cnn(settings, info, neuron_spec(**_IF)).to(device)
    convert_by_threshold_balancing(ann.eval(), snn, DataLoader(data[0], batch_size=256), device)
    seed_everything(seed)
    method = LaSNN(snn, teacher, T, levels=_same_resolution_levels(snn, teacher), **settings["methods"]["lasnn"])
    history = _train(method, {**settings["fine_tune"], "epochs": fine_tune_epochs}, data, seed, progress)
    method.eval()
    metrics = energy_metrics(snn, poisson(images, T), spiking=True)
    train_s = teacher_s + training_seconds(ann_history) + training_seconds(history)
    return {"final": final_accuracy(history), "curve": test_curve(history),
            "metrics": {**metrics, "latency": float(T), "train_s": train_s}}


def _lc_ttfs_arm(settings, data, seed, progress) -> dict:
    """The backbone's convolutions under LC-TTFS's constraints, trained as an ANN, converted and simulated exactly."""
    info = data[0].info
    seed_everything(seed)
    model = constrained_cnn(tuple(settings["conversion_cfg"]), info.sample_shape[0], info.sample_shape[-1],
                            info.num_classes)
    history = _train(ANNClassification(model), settings["train"], data, seed, progress)
    model = model.eval().double()
    device = next(model.parameters()).device
    accuracy, _, ttfs = convert_and_measure(model, data[1], {"rate_T": (settings["T"],), "tolerance_pp": 0.0},
                                            device)["ttfs"]
    metrics = {"energy_pj": ttfs["energy_pj"], "macs": 0.0, "sops": ttfs["sops"],
               "latency": float(len(convert(model))), "train_s": training_seconds(history),
               "agreement": ttfs["agreement"], "ann_acc": ttfs["ann_acc"]}
    return {"final": accuracy, "curve": test_curve(history), "metrics": metrics}


register_comparison(Comparison(
    name="common-ground",
    question="How do the kit's static-image methods compare when every one trains the same backbone on the same "
             "images, with the same optimiser, schedule and number of passes, and runs at the same number of time "
             "steps?",
    metric="test accuracy (%)",
    arms=ARMS,
    baseline="plain",
    presets=PRESETS,
    run_seed=run_seed,
))
