r"""Rate-coded ANN→SNN conversion by threshold balancing, as LaSNN initialises its student (Hong et al.; the
data-based normalisation of Diehl et al., IJCNN 2015).

A ReLU ANN without biases (and without batch norm) is run on calibration data; :math:`a_l^{\max}` is the largest
activation of its :math:`l`-th ReLU. The SNN with the same weights and integrate-and-fire neurons with subtractive
reset, driven by a rate code of the input in :math:`[0, 1]` (:math:`a_0^{\max} = 1`), fires at rates
:math:`r_l \approx a_l / a_l^{\max}` when the :math:`l`-th neuron layer has the threshold

.. math:: V_{th}^l = a_l^{\max} / a_{l-1}^{\max},

because a bias-free layer fed spike rates :math:`r_{l-1} = a_{l-1}/a_{l-1}^{\max}` receives the current
:math:`z_l / a_{l-1}^{\max}`, and an IF neuron with threshold :math:`V_{th}` fires at rate
:math:`\min(\max(X/V_{th}, 0), 1)` for a constant current :math:`X`. Average pooling is linear and passes rates
through. The hidden layers' weights are kept; the thresholds carry the normalisation (equivalently, Diehl et al.
rescale :math:`W_l` by :math:`a_{l-1}^{\max}/a_l^{\max}` with thresholds 1). The readout layer (the weight layer after
the last neuron layer, no neuron of its own) receives rates :math:`r_{L-1} = a_{L-1}/a_{L-1}^{\max}`, so with its
weights kept its mean output over the :math:`T` steps would be :math:`z_L / a_{L-1}^{\max}`: the ANN's prediction,
but logits :math:`a_{L-1}^{\max}` times flatter. Its weights are multiplied by :math:`a_{L-1}^{\max}`, so that the SNN's
mean output estimates the ANN's logits themselves. The prediction is the same either way; what the scale changes is
every loss that reads the logits when the converted SNN is fine-tuned: with logits several times flatter than the
ANN's, cross entropy starts near :math:`\ln C` and a temperature-scaled KD term asks the network for a spread it
can only reach by relearning its readout.

:math:`a_l^{\max}` is the quantity SpikingJelly's ``ann2snn.RateCodingRecipe(mode="Max")`` records for each ReLU
(its ``VoltageScaler`` scale; it averages the per-batch maxima with momentum, where this takes the maximum over
all the calibration data).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..energy import NEURON_TYPES
from ..hooks import FeatureCapture

__all__ = ["relu_paths", "neuron_paths", "max_activations", "balanced_thresholds", "readout_layer",
           "convert_by_threshold_balancing"]


def relu_paths(model: nn.Module) -> list[str]:
    """Module paths of every ``nn.ReLU`` of ``model``, in registration order."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.ReLU)]


def neuron_paths(model: nn.Module) -> list[str]:
    """Module paths of every spiking neuron of ``model``, in registration order."""
    return [name for name, module in model.named_modules() if isinstance(module, NEURON_TYPES)]


def readout_layer(snn: nn.Module) -> nn.Module:
    """The readout of ``snn``: its only weight layer (convolution or linear) registered after its last neuron."""
    last_neuron, after, found = neuron_paths(snn)[-1], [], False
    for name, module in snn.named_modules():
        if found and isinstance(module, (nn.Conv2d, nn.Linear)):
            after.append(module)
        found = found or name == last_neuron
    if len(after) != 1:
        raise ValueError(f"threshold balancing needs one weight layer after the last neuron layer (the readout); "
                         f"{type(snn).__name__} has {len(after)}")
    return after[0]


@torch.no_grad()
def max_activations(ann: nn.Module, loader: DataLoader, device: "torch.device | str" = "cpu") -> list[float]:
    r""":math:`a_l^{\max}`: the largest output of each ReLU of ``ann`` over every batch of ``loader``."""
    paths = relu_paths(ann)
    if not paths:
        raise ValueError(f"{type(ann).__name__} has no nn.ReLU module to balance")
    ann.eval().to(device)
    maxima = [0.0] * len(paths)
    with FeatureCapture(ann, paths, detach=True) as cap:
        for x, _ in loader:
            ann(x.to(device))
            features = cap.features
            maxima = [max(m, float(features[p].max())) for m, p in zip(maxima, paths)]
    return maxima


def balanced_thresholds(maxima: list[float], input_scale: float = 1.0) -> list[float]:
    r""":math:`V_{th}^l = a_l^{\max} / a_{l-1}^{\max}` with :math:`a_0^{\max}` = ``input_scale`` (1 for a rate code
    of inputs in [0, 1]). A layer that never activates (:math:`a_l^{\max} = 0`) cannot be balanced."""
    if any(m <= 0 for m in maxima):
        raise ValueError(f"every ReLU must be active on the calibration data to be balanced; maxima: {maxima}")
    scales = [input_scale, *maxima]
    return [scales[i + 1] / scales[i] for i in range(len(maxima))]


def convert_by_threshold_balancing(ann: nn.Module, snn: nn.Module, loader: DataLoader,
                                   device: "torch.device | str" = "cpu") -> list[float]:
    r"""Initialise ``snn`` as the threshold-balanced conversion of ``ann`` (module docstring), in place.

    ``snn`` must be the spiking twin of ``ann`` (same parameters at the same paths, one spiking neuron per ReLU in
    the same order; IF neurons with ``v_reset=None`` give the subtractive reset the derivation assumes). The
    weights are copied, the :math:`l`-th neuron layer gets the threshold :math:`V_{th}^l` and the readout's weights
    are multiplied by :math:`a_{L-1}^{\max}` (the SNN's mean output then estimates the ANN's logits).

    Returns the thresholds.
    """
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in ann.modules()):
        raise ValueError("threshold balancing here needs an ANN without batch norm (e.g. snnlab ConversionCNN)")
    if any(getattr(m, "bias", None) is not None for m in ann.modules() if isinstance(m, (nn.Conv2d, nn.Linear))):
        raise ValueError("threshold balancing needs a bias-free ANN (build it with bias=False)")
    neurons = neuron_paths(snn)
    if len(neurons) != len(relu_paths(ann)):
        raise ValueError(f"the SNN has {len(neurons)} neuron layers but the ANN {len(relu_paths(ann))} ReLUs")
    snn.load_state_dict(ann.state_dict())
    maxima = max_activations(ann, loader, device)
    thresholds = balanced_thresholds(maxima)
    modules = dict(snn.named_modules())
    for path, theta in zip(neurons, thresholds):
        modules[path].v_threshold = float(theta)
    with torch.no_grad():
        readout_layer(snn).weight.mul_(maxima[-1])
    return thresholds
