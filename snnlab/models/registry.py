"""Build models by name, for configs and the command line."""
from __future__ import annotations

from importlib import import_module

from torch import nn

from ..names import did_you_mean

__all__ = ["MODELS", "build_model"]

MODELS = {
    "small-cnn": "snnlab.models.small:SmallCNN",
    "conversion-cnn": "snnlab.models.plain:ConversionCNN",
    "mlp": "snnlab.models.small:MLP",
    "vgg9": "snnlab.models.vgg:VGG9",
    "vggsnn": "snnlab.models.vgg:VGGSNN",
    "resnet18": "snnlab.models.resnet:ResNet18",
    "resnet19": "snnlab.models.resnet:ResNet19",
    "seen-teacher": "snnlab.models.seen:SEENTeacher",
    "intensity-student": "snnlab.models.seen:IntensityStudent",
}
"""Model names accepted by :func:`build_model`, mapped to ``module:class``."""


def build_model(name: str, **kwargs) -> nn.Module:
    """Instantiate model ``name`` (a key of :data:`MODELS`) with the class's keyword arguments."""
    try:
        module, cls = MODELS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}{did_you_mean(name, MODELS)}") from None
    return getattr(import_module(module), cls)(**kwargs)
