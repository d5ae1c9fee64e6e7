"""The dataset registry: ``get_dataset(name, split, **options)``."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from torch.utils.data import Dataset

from ..names import did_you_mean

__all__ = ["DatasetInfo", "register_dataset", "get_dataset", "dataset_names", "SPLITS"]

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a data set.

    Attributes:
        name: registry name.
        classes: class names, in label order.
        sample_shape: shape of one input sample; event data is ``(T, C, H, W)``, static images ``(C, H, W)``.
        time_major: whether samples carry a time axis (event frames) rather than a static image to encode.
        description: one line on what the data is (and whether it is synthetic).
        extra: anything else (sensor size, frame slicing, lighting conditions, ...).
    """

    name: str
    classes: tuple[str, ...]
    sample_shape: tuple[int, ...]
    time_major: bool = False
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


_REGISTRY: dict[str, Callable[..., Dataset]] = {}


def register_dataset(name: str):
    """Decorator registering ``builder(split, **options) -> Dataset with an .info`` under ``name``."""

    def decorate(builder):
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is registered twice")
        _REGISTRY[name] = builder
        return builder

    return decorate


def dataset_names() -> list[str]:
    """Names accepted by :func:`get_dataset`."""
    return sorted(_REGISTRY)


def get_dataset(name: str, split: str = "train", **options) -> Dataset:
    """Build data set ``name``'s ``split`` (``"train"`` or ``"test"``); options are the builder's keyword arguments.

    The returned dataset yields ``(input, label)`` pairs and has an ``info`` attribute (:class:`DatasetInfo`).
    """
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(dataset_names())}"
                         f"{did_you_mean(name, dataset_names())}") from None
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    valid = [p for p in inspect.signature(builder).parameters if p != "split"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        hints = "".join(did_you_mean(option, valid) for option in unknown)
        raise ValueError(f"unknown option(s) {unknown} for dataset {name!r}; valid options: {valid}{hints}")
    return builder(split, **options)
