r"""Classification metrics of the emotion-recognition papers (SEEN, MSKD): WAR, UAR and per-condition accuracy.

With predictions :math:`\hat y_i` and targets :math:`y_i` for :math:`N` samples:

* WAR, weighted average recall (= accuracy): :math:`\mathrm{WAR} = \frac{1}{N}\sum_i [\hat y_i = y_i]`;
  every class weighs by its number of samples.
* UAR, unweighted average recall: :math:`\mathrm{UAR} = \frac{1}{|K|}\sum_{c \in K} \frac{|\{i: y_i = c,\
  \hat y_i = c\}|}{|\{i: y_i = c\}|}` over the classes :math:`K` present among the targets; every class weighs the
  same, so a model cannot score well by favouring frequent classes.

Predictions may be class indices ``[N]`` or scores ``[N, C]`` (logits or probabilities; the arg-max is taken).
All functions accept tensors, NumPy arrays or sequences and return Python floats.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["war", "uar", "per_class_recall", "per_condition_accuracy"]


def _labels(values) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim == 2:
        array = array.argmax(axis=1)
    if array.ndim != 1:
        raise ValueError(f"expected class indices [N] or scores [N, C], got shape {array.shape}")
    return array.astype(np.int64)


def _pair(predictions, targets) -> tuple[np.ndarray, np.ndarray]:
    pred, true = _labels(predictions), _labels(targets)
    if pred.shape != true.shape:
        raise ValueError(f"{len(pred)} predictions but {len(true)} targets")
    if pred.size == 0:
        raise ValueError("no samples to score")
    return pred, true


def war(predictions, targets) -> float:
    r"""Weighted average recall, i.e. accuracy: :math:`\frac{1}{N}\sum_i [\hat y_i = y_i]`."""
    pred, true = _pair(predictions, targets)
    return float((pred == true).mean())


def per_class_recall(predictions, targets, num_classes: int) -> np.ndarray:
    r"""Recall of each class, :math:`r_c = |\{i: y_i = c, \hat y_i = c\}| / |\{i: y_i = c\}|`; NaN for classes
    absent from the targets. Returns ``float64 [num_classes]``."""
    pred, true = _pair(predictions, targets)
    if true.min() < 0 or true.max() >= num_classes:
        raise ValueError(f"targets must lie in 0..{num_classes - 1}, got {true.min()}..{true.max()}")
    support = np.bincount(true, minlength=num_classes).astype(np.float64)
    hits = np.bincount(true[pred == true], minlength=num_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, hits / support, np.nan)


def uar(predictions, targets, num_classes: int) -> float:
    r"""Unweighted average recall: the mean of :func:`per_class_recall` over the classes present in the targets,
    :math:`\frac{1}{|K|}\sum_{c \in K} r_c`."""
    return float(np.nanmean(per_class_recall(predictions, targets, num_classes)))


def per_condition_accuracy(predictions, targets, conditions: Sequence) -> dict:
    r"""Accuracy within each condition (e.g. SEE's lighting, ``dataset.conditions``; any per-sample group works):
    :math:`\mathrm{acc}_g = \frac{1}{|G_g|}\sum_{i \in G_g} [\hat y_i = y_i]` over the samples :math:`G_g` of
    condition :math:`g`, keyed by condition in first-seen order."""
    pred, true = _pair(predictions, targets)
    if len(conditions) != len(true):
        raise ValueError(f"{len(conditions)} condition labels for {len(true)} samples")
    correct = pred == true
    keys = list(dict.fromkeys(conditions))
    members = np.asarray([keys.index(c) for c in conditions])
    return {key: float(correct[members == k].mean()) for k, key in enumerate(keys)}
