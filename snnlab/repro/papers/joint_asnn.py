"""Joint A-SNN: does training an SNN jointly with an ANN twin (shared singular vectors, self-distillation branches)
make it more accurate than the same SNN trained alone?

Guo, Peng, Chen et al., Pattern Recognition 2023. Per seed and with identical data, backbone
initialisation, budget and seed: Joint A-SNN (:class:`~snnlab.methods.joint_asnn.JointASNN`, tested on the SNN's
final exit); the SNN trained alone (cross entropy of its output summed over time); the ANN twin trained alone; the
ANN of the Joint A-SNN run (the same run tested on the ANN's final exit); and three ablations of the joint run: the
twins sharing one weight per convolution, the twins with independent weights (no factorisation: coupled only by the
loss), and no branches (final exits only). Each arm's energy per test sample (:func:`snnlab.energy.energy_report`
on the deployed network: branches dropped, factorised weights multiplied out) and, for SNNs, its mean firing rate
over the neuron layers are recorded as well.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from ...encoding import encode
from ...methods.base import ANNClassification
from ...methods.joint_asnn import JointASNN, SummedOutputCE
from ...models.factorised import JointNet
from ..common import ann_twin, arm_result, data_info, energy_metrics, fit, held_out_accuracy, load_data, setting_model
from ..networks import with_network
from ..registry import BOOK_SEEDS, Contrast, Measure, PaperVariant, Premise, Reproduction, register

__all__ = ["PRESETS", "VARIANTS", "ARMS", "JOINT_ARMS", "run_seed"]

ARMS = ("joint-snn", "snn-alone", "ann-alone", "joint-ann", "shared-weights", "no-factorisation", "no-branches")
"""Joint A-SNN's SNN first, the SNN trained alone second (the compared pair), then the ANN trained alone, the joint
run's ANN and the three ablations of the joint run."""
JOINT_ARMS = {"joint-snn": dict(sharing="factorised", branches=True),
              "shared-weights": dict(sharing="shared", branches=True),
              "no-factorisation": dict(sharing="separate", branches=True),
              "no-branches": dict(sharing="factorised", branches=False)}
"""The :class:`~snnlab.models.factorised.JointNet` options of each jointly trained arm."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
_LOSS = dict(alpha=0.1, tau=3.0, beta=1e-6)  # the official values
# The official schedule (main.py of yfguo91/Joint-A-SNN): Adam at 1e-3 x batch / 256 (5e-4 at its default batch of
# 128), weight decay 5e-4, cosine annealing over 300 epochs.
_PAPER_TRAIN = dict(optimizer="adam", lr=1e-3 * 128 / 256, weight_decay=5e-4, scheduler="cosine", epochs=300,
                    batch_size=128)
_CIFAR = dict(normalize=True, augment=True)

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=128), model="small-cnn",
                  model_options=dict(in_channels=1, width=4, neuron="joint-asnn"), T=2, **_LOSS,
                  train=dict(_ADAM, epochs=1), energy_samples=32, seeds=1),
    # Fashion-MNIST at 16x16 with the official loss weights, neuron, weight decay (5e-4), Adam and cosine schedule
    # at T = 4, scaled down in data (5,000 training images), width (SmallCNN-8) and epochs (8 instead of 300). A
    # schedule this much shorter takes a larger step and a smaller batch (Adam 3e-3 at batch 32): at the official
    # 5e-4 and batch 128, 400 steps leave the ANN below the SNN, so the ANN would have nothing to teach (the
    # premise); at 3e-3 and batch 32 an ANN of this backbone is about 6 points above its SNN.
    "book": dict(dataset="fashion", data_options=dict(size=16, train_limit=5000), model="small-cnn",
                 model_options=dict(in_channels=1, width=8, neuron="joint-asnn"), T=4, **_LOSS,
                 train=dict(_PAPER_TRAIN, lr=3e-3, batch_size=32, epochs=8, eval_every=4), energy_samples=256,
                 seeds=BOOK_SEEDS),
    "paper": dict(dataset="cifar100", data_options=_CIFAR, model="resnet18",
                  model_options=dict(in_channels=3, neuron="joint-asnn"), T=4, **_LOSS, train=_PAPER_TRAIN,
                  energy_samples=256, seeds=1),
}
VARIANTS = {
    "cifar10": PaperVariant({**PRESETS["paper"], "dataset": "cifar10"},
                            {"dataset": "CIFAR-10", "model": "ResNet-18", "T": 4,
                             "note": "the paper's CIFAR-10 number is not used here; the headline is CIFAR-100"}),
}


def network(settings: dict, arm: str):
    """The network a record keeps for ``arm``: the twins of a jointly trained arm (deploy the SNN with
    ``export("snn")``), the setting's SNN for ``snn-alone``."""
    if arm not in JOINT_ARMS:
        return setting_model(settings)
    info = data_info(settings)
    return JointNet(setting_model(settings), info.num_classes, info.sample_shape, **JOINT_ARMS[arm])


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """The seven arms for one seed (see the module docstring)."""
    data = load_data(settings)
    info = data[0].info
    T = settings["T"]
    images, _ = next(iter(DataLoader(data[1], batch_size=settings["energy_samples"], shuffle=False)))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    images = images.to(device)

    def joint(options):
        return lambda model: JointASNN(JointNet(model, info.num_classes, info.sample_shape, **options), T,
                                       alpha=settings["alpha"], tau=settings["tau"], beta=settings["beta"])

    results = {}
    for arm, options in JOINT_ARMS.items():
        method, history = fit(joint(options), settings, seed, progress, data)
        snn = method.net.export("snn").to(device)
        results[arm] = with_network(arm_result(history, energy_metrics(snn, encode("direct", images, T), spiking=True)),
                                    method.net)
        if arm == "joint-snn":
            method.test_network = "ann"
            ann_acc = held_out_accuracy(method, settings, data, seed)
            results["joint-ann"] = {"final": ann_acc, "curve": [ann_acc],
                                    "metrics": energy_metrics(method.net.export("ann").to(device), images, False)}

    method, history = fit(lambda model: SummedOutputCE(model, T), settings, seed, progress, data)
    results["snn-alone"] = with_network(
        arm_result(history, energy_metrics(method.model, encode("direct", images, T), spiking=True)), method.model)

    method, history = fit(ANNClassification, ann_twin(settings), seed, progress, data)
    results["ann-alone"] = arm_result(history, energy_metrics(method.model, images, spiking=False))
    return results


register(Reproduction(
    name="joint-asnn",
    paper="Guo, Peng, Chen, Zhang, Liu, Huang & Ma. Joint A-SNN: Joint training of artificial and spiking neural "
          "networks via self-distillation and weight factorization. Pattern Recognition 142, 2023",
    claim="An SNN trained jointly with an ANN twin (shared singular vectors, own singular values, self-distillation "
          "branches) is more accurate than the same SNN trained alone",
    metric="SNN test accuracy (%) (ANN arms: ANN test accuracy)",
    arms=ARMS,
    against="the same SNN trained alone (the paper's tables set Joint A-SNN beside directly trained SNNs of the "
            "same backbone)",
    premise=Premise("the ANN has something to teach: the ANN twin trained alone beats the SNN trained alone by at "
                    "least 1 point", Contrast("ann-alone", "snn-alone"), 1.0),
    diagnostics=(
        Measure("joint-ann", "the joint run's own ANN against the SNN trained alone",
                Contrast("joint-ann", "snn-alone")),
        Measure("shared-weights", "one weight per convolution shared by both twins, against Joint A-SNN",
                Contrast("shared-weights", "joint-snn")),
        Measure("no-factorisation", "twins with independent weights, against Joint A-SNN",
                Contrast("no-factorisation", "joint-snn")),
        Measure("no-branches", "final exits only, against Joint A-SNN", Contrast("no-branches", "joint-snn")),
    ),
    presets=PRESETS,
    run_seed=run_seed,
    network=network,
    paper_result={"dataset": "CIFAR-100", "model": "ResNet-18", "T": 4, "joint-snn": 77.39},
    variants=VARIANTS,
))
