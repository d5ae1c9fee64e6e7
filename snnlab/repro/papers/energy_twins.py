"""The Energy chapter's twins: an ANN and its SNN twin trained at several numbers of time steps ``T``, then measured.

The same ``SmallCNN`` is built with ReLUs (the ANN twin, trained with cross entropy) and with LIF neurons (the SNN
twin, trained with TET at each ``T``), with the same data, seed (0) and budget; each trained network's test accuracy
and :func:`~snnlab.energy.energy_report` on the first ``eval_batch`` test images (directly encoded for the SNNs) are
the demonstration ``energy-twins``. At the largest ``T`` the SNN is also trained with each average pooling moved
before the neuron it follows (:func:`pooling_before_neurons`): the same weights, pooling currents instead of spikes.
"""
from __future__ import annotations

import torch
from torch import nn

from ...encoding import direct
from ...energy import NEURON_TYPES, energy_report
from ...methods import TET, ANNClassification
from ...train import final_accuracy
from ..common import fit, load_data
from ..demos import Demonstration, register_demonstration

__all__ = ["PRESETS", "twins_demo", "pooling_before_neurons"]

_ADAM = dict(lr=3e-3, batch_size=32)

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=200), model="small-cnn",
                  model_options=dict(in_channels=1, width=4), steps=(1, 2), eval_batch=32,
                  train=dict(_ADAM, epochs=1)),
    "book": dict(dataset="digits", data_options=dict(size=16), model="small-cnn",
                 model_options=dict(in_channels=1, width=8), steps=(1, 2, 4), eval_batch=128,
                 train=dict(_ADAM, epochs=8)),
    "paper": dict(dataset="digits", data_options=dict(size=32), model="small-cnn",
                  model_options=dict(in_channels=1, width=32), steps=(1, 2, 4, 8), eval_batch=256,
                  train=dict(_ADAM, epochs=40)),
}
"""The ANN and SNN twins' setting per preset: the ``digits`` images, the SmallCNN's width, the time steps of the SNN
twins, the test images measured, and the training (Adam at 3e-3)."""


def _twin(settings: dict, T: int | None) -> dict:
    """The setting of the ANN twin (``T`` None: ReLUs) or of the SNN twin at ``T`` steps (TET's LIF neurons)."""
    return {**settings, "model_options": {**settings["model_options"], "neuron": None if T is None else "tet"}}


def pooling_before_neurons(model: nn.Module) -> nn.Module:
    """``model`` with every average pooling of its ``features`` moved before the spiking neuron it follows
    (``conv-BN-neuron-pool`` becomes ``conv-BN-pool-neuron``), in place: the pooling then averages currents, and the
    next weight layer reads the neurons' spikes."""
    layers = list(model.features)
    for i in range(1, len(layers)):
        if isinstance(layers[i], nn.AvgPool2d) and isinstance(layers[i - 1], NEURON_TYPES):
            layers[i - 1], layers[i] = layers[i], layers[i - 1]
    model.features = nn.Sequential(*layers)
    return model


def _measure(settings: dict, T: int | None, data, inputs: torch.Tensor, progress: bool,
             arrange=lambda model: model) -> dict:
    """Train one twin (seed 0), its model arranged by ``arrange``, and measure it: its test accuracy and its energy
    report on ``inputs``."""
    make_method = ANNClassification if T is None else (lambda model: TET(arrange(model), T))
    method, history = fit(make_method, _twin(settings, T), 0, progress, data)
    network = method.model.cpu()
    report = energy_report(network, inputs if T is None else direct(inputs, T))
    return {"T": T, "accuracy": final_accuracy(history), "report": report.to_dict()}


def twins_demo(settings: dict, progress: bool) -> dict:
    """``{"eval_images": n, "models": {"ANN": ..., "SNN T=1": ..., ...}, "pooling_before_neurons": ...}``: each
    twin's ``T`` (None for the ANN), test accuracy (%) and energy report
    (:meth:`~snnlab.energy.EnergyReport.to_dict`) on the first ``n`` test images, and the same for the SNN at the
    largest ``T`` with its poolings before the neurons."""
    data = load_data(settings)
    inputs = torch.stack([data[1][i][0] for i in range(settings["eval_batch"])])
    models = {"ANN" if T is None else f"SNN T={T}": _measure(settings, T, data, inputs, progress)
              for T in (None, *settings["steps"])}
    before = _measure(settings, settings["steps"][-1], data, inputs, progress, arrange=pooling_before_neurons)
    return {"eval_images": len(inputs), "models": models, "pooling_before_neurons": before}


register_demonstration(Demonstration(
    name="energy-twins", presets=PRESETS, run=twins_demo,
    description="An ANN and its SNN twin at several T, trained alike (seed 0), and the SNN with its poolings before "
                "the neurons: test accuracy and compute energy"))
