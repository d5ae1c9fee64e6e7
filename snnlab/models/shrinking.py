r"""SSNN: a staged spiking network whose later stages run at fewer time steps (Shrinking SNN, AAAI 2024).

The network is cut at its stage boundaries into stages run at :math:`T_1 > T_2 > \dots > T_n` steps. Between stage
:math:`i` and :math:`i+1` a *temporal transformer* turns the :math:`T_i`-step output :math:`F[t']` (``[C, H, W]``
per sample and step) into a :math:`T_{i+1}`-step input :math:`X[t]`:

.. math::

    F^{avg}[t'] = \operatorname{mean}_{c,h,w} F[t'], \qquad
    \pi = \operatorname{softmax}\big(W F^{avg}\big) \in \mathbb R^{T_{i+1}}, \quad W \in \mathbb R^{T_{i+1}\times T_i},
    \qquad
    X[t] = \pi[t] \sum_{t'=1}^{T_i} F[t'],

so the summed output is redistributed over the fewer steps with learned, input-dependent weights (one linear layer
of overhead). The average time step of the network is :math:`T_{avg} = \sum_i n_i T_i / \sum_i n_i` with
:math:`n_i` the number of computing units (a convolution and its spiking neurons) of stage :math:`i`, as the paper
defines it; the classifier is not counted, so a spiking classifier layer, which runs at :math:`T_n`, makes the true
average slightly lower. VGG-9 at stage steps (8, 6, 3) has units 2 | 2 | 3, so :math:`T_{avg} = 37/7`.
"""
from __future__ import annotations

import torch
from spikingjelly.activation_based import functional
from torch import nn


__all__ = ["TemporalTransformer", "ShrinkingSNN", "REDISTRIBUTIONS"]

REDISTRIBUTIONS = ("transformer", "mean", "truncate")
"""How a stage's output reaches the next, shorter stage: the learned temporal transformer; the summed output spread
evenly, :math:`X[t] = \\frac{1}{T_{i+1}}\\sum_{t'} F[t']` (no learning); or the first :math:`T_{i+1}` steps kept."""


class TemporalTransformer(nn.Module):
    """SSNN's temporal transformer from ``steps_in`` to ``steps_out`` time steps (see the module docstring).

    Input ``[T_in, N, ...]``, output ``[T_out, N, ...]``; ``weights`` is :math:`W` (``[T_out, T_in]``, no bias).
    """

    def __init__(self, steps_in: int, steps_out: int):
        super().__init__()
        if not 1 <= steps_out <= steps_in:
            raise ValueError(f"a temporal transformer shrinks time: need 1 <= steps_out <= steps_in, got "
                             f"{steps_in} -> {steps_out}")
        self.steps_in, self.steps_out = steps_in, steps_out
        self.weights = nn.Parameter(torch.zeros(steps_out, steps_in))      # uniform distribution at start

    def distribution(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\pi = \\mathrm{softmax}(W F^{avg})` per sample: ``[N, T_out]``."""
        per_step = x.flatten(2).mean(-1).transpose(0, 1)                 # [N, T_in]
        return torch.softmax(per_step @ self.weights.t(), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != self.steps_in:
            raise ValueError(f"expected {self.steps_in} time steps, got {x.shape[0]}")
        d = self.distribution(x).transpose(0, 1)                        # [T_out, N]
        return d.view(*d.shape, *([1] * (x.dim() - 2))) * x.sum(0, keepdim=True)

    def extra_repr(self) -> str:
        return f"{self.steps_in} -> {self.steps_out}"


def _redistribute(kind: str, steps_in: int, steps_out: int) -> nn.Module:
    if kind == "transformer":
        return TemporalTransformer(steps_in, steps_out)
    if kind == "mean":
        return _Spread(steps_out)
    return _Truncate(steps_out)


class _Spread(nn.Module):
    def __init__(self, steps_out: int):
        super().__init__()
        self.steps_out = steps_out

    def forward(self, x):
        return (x.sum(0, keepdim=True) / self.steps_out).expand(self.steps_out, *x.shape[1:])


class _Truncate(nn.Module):
    def __init__(self, steps_out: int):
        super().__init__()
        self.steps_out = steps_out

    def forward(self, x):
        return x[:self.steps_out]


def _position_in_features(model: nn.Module, stage_name: str) -> int:
    """Index in ``model.features`` of the child that ends stage ``stage_name`` (``"features.<child>"``)."""
    prefix, _, child = stage_name.partition(".")
    children = list(model.features._modules)
    if prefix != "features" or child not in children:
        raise ValueError(f"stage boundary {stage_name!r} is not a direct child of `features` "
                         f"(children: {', '.join(children)})")
    return children.index(child)


class ShrinkingSNN(nn.Module):
    """Run an snnlab model (``features`` an ``nn.Sequential``, then ``classifier``) in stages at shrinking steps.

    Args:
        model: e.g. :class:`~snnlab.models.VGG9`, :class:`~snnlab.models.ResNet18` or
            :class:`~snnlab.models.SmallCNN`; its ``stage_names`` (direct children of ``features``) are the cut
            points.
        steps: time steps per stage, non-increasing, one per stage: ``len(steps) - 1`` cut points are used, the
            first ones of ``model.stage_names``; the last stage also runs the classifier.
        redistribution: ``"transformer"`` (SSNN), ``"mean"`` or ``"truncate"`` (ablations; see
            :data:`REDISTRIBUTIONS`).

    ``forward(x)`` takes ``[T_1, N, ...]`` and returns the per-step output of the last stage ``[T_n, N, classes]``;
    :meth:`stage_outputs` also returns each stage's output (for early classifiers).
    """

    def __init__(self, model: nn.Module, steps: tuple[int, ...], redistribution: str = "transformer"):
        super().__init__()
        if redistribution not in REDISTRIBUTIONS:
            raise ValueError(f"redistribution must be one of {REDISTRIBUTIONS}, got {redistribution!r}")
        steps = tuple(int(t) for t in steps)
        if not steps or min(steps) < 1 or any(a < b for a, b in zip(steps, steps[1:])):
            raise ValueError(f"steps must be positive and non-increasing, got {steps}")
        names = tuple(getattr(model, "stage_names", ()))
        if not isinstance(getattr(model, "features", None), nn.Sequential) or len(names) < len(steps) - 1:
            raise ValueError(f"{type(model).__name__} needs a Sequential `features` and at least {len(steps) - 1} "
                             f"stage_names for {len(steps)} stages")
        cuts = [_position_in_features(model, name) + 1 for name in names[:len(steps) - 1]]
        bounds = [0, *cuts, len(model.features)]
        self.model, self.steps, self.redistribution = model, steps, redistribution
        self.stages = nn.ModuleList(model.features[a:b] for a, b in zip(bounds, bounds[1:]))
        self.transitions = nn.ModuleList(_redistribute(redistribution, a, b) for a, b in zip(steps, steps[1:]))
        self.cut_names = names[:len(steps) - 1]

    @property
    def spiking_layers(self) -> list[int]:
        """Spiking neuron layers per stage, the classifier's excluded: the :math:`n_i` of :attr:`t_avg`."""
        return [sum(1 for m in stage.modules() if hasattr(m, "v_threshold")) for stage in self.stages]

    @property
    def t_avg(self) -> float:
        r""":math:`T_{avg} = \sum_i n_i T_i / \sum_i n_i`."""
        counts = self.spiking_layers
        return sum(n * t for n, t in zip(counts, self.steps)) / sum(counts)

    @property
    def input_ndim(self) -> int:
        return self.model.input_ndim

    def stage_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(final per-step output [T_n, N, classes], [output of stage i at T_i for every stage but the last])``."""
        if x.shape[0] != self.steps[0]:
            raise ValueError(f"expected {self.steps[0]} input steps (T_1), got {x.shape[0]}")
        try:
            hidden, outputs = x, []
            for i, stage in enumerate(self.stages):
                hidden = stage(hidden)
                if i < len(self.transitions):
                    outputs.append(hidden)
                    hidden = self.transitions[i](hidden)
            return self.model.classifier(hidden), outputs
        finally:
            functional.reset_net(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage_outputs(x)[0]

    def extra_repr(self) -> str:
        return f"steps={self.steps}, redistribution={self.redistribution!r}, T_avg={self.t_avg:.3g}"

