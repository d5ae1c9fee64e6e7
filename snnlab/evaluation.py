r"""Test protocols that go beyond one pass of top-1 accuracy.

:func:`clip_protocol` is SEEN/MSKD's protocol for clip data sets (``eye``, ``see``): every test sequence is cut into a
random temporal clip, the model classifies it, and this is repeated for ``passes`` passes (the papers use 20) with
a different, seeded clip per pass; WAR, UAR, accuracy per lighting condition and accuracy of the output at each time
step are averaged over the passes.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from .metrics import per_condition_accuracy, uar, war
from .train import to_device

__all__ = ["clip_protocol"]


@torch.no_grad()
def clip_protocol(sequence_fn, dataset, passes: int = 20, batch_size: int = 64,
                  device: "torch.device | str" = "cpu") -> dict[str, float]:
    r"""Mean test metrics over ``passes`` passes of seeded random temporal clips (SEEN/MSKD protocol).

    For pass :math:`p`, ``dataset.test_seed = p`` selects one clip per sequence; ``sequence_fn(inputs)`` returns
    per-step outputs ``[T, N, C]``, rate-decoded as :math:`\hat y = \arg\max_c \frac1T\sum_t O_{t,c}`. Reported,
    in %, averaged over passes: ``war`` (accuracy), ``uar`` (mean per-class recall), ``acc/<condition>`` for each
    lighting condition in ``dataset.conditions``, and ``step<t>`` — the accuracy of the output at step :math:`t`
    alone. ``dataset`` needs ``labels``, ``conditions``, ``test_seed`` and ``collate_fn`` (the ``eye`` and ``see``
    test sets); its ``test_seed`` is restored afterwards. Put the model in evaluation mode first (``model.eval()``):
    batch normalisation in training mode would use batch statistics and update its running ones. With fixed (non-random) test clips every pass is the
    same, so one pass is run.
    """
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    if getattr(dataset, "random_crop", True) is False:
        passes = 1
    targets = dataset.labels
    num_classes = len(dataset.info.classes) if getattr(dataset, "info", None) else int(targets.max()) + 1
    original_seed = dataset.test_seed
    runs = []
    try:
        for p in range(passes):
            dataset.test_seed = p
            loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=dataset.collate_fn)
            sequences = torch.cat([sequence_fn(to_device(x, device)).float().cpu() for x, _ in loader], dim=1)
            predictions = sequences.mean(0).argmax(-1)
            run = {"war": 100 * war(predictions, targets), "uar": 100 * uar(predictions, targets, num_classes)}
            run |= {f"acc/{c}": 100 * v
                    for c, v in per_condition_accuracy(predictions, targets, dataset.conditions).items()}
            run |= {f"step{t + 1}": 100 * war(step, targets) for t, step in enumerate(sequences)}
            runs.append(run)
    finally:
        dataset.test_seed = original_seed
    return {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
