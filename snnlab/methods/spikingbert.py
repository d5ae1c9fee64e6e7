r"""SpikingBERT: ANN→SNN distillation at equilibrium, in two stages (Bal & Sengupta, AAAI 2024; TinyBERT style).

The student (:class:`~snnlab.models.transformer.SpikingBERTStudent`) is trained without backpropagation through
time: its average spiking rates at equilibrium are differentiated implicitly. A frozen ANN transformer teacher
(:class:`~snnlab.models.transformer.TransformerClassifier`) gives the targets:

1. **internal-layer KD** (the first ``ikd_epochs`` epochs): student layer :math:`l` learns from teacher layer
   :math:`m(l) = (l+1) L_T / L_S - 1` (:func:`layer_map`),

   .. math:: \mathcal L_{IKD} = \sum_l \mathrm{MSE}\big(A_S^l, A_T^{m(l)}\big)
                              + \sum_l \mathrm{MSE}\big(W_h\,a_S^{l\star}, H_T^{m(l)}\big),

   with :math:`A` the attention probabilities (per head, over real query tokens), :math:`a^{l\star}` the
   equilibrium rates of the student's layer output, :math:`H` the teacher's hidden states and :math:`W_h` a learned
   linear map (one, shared by the layers, as TinyBERT's);
2. **prediction-layer KD** (the remaining epochs): soft cross entropy against the teacher's logits at temperature
   :math:`t' = 1` (:func:`~snnlab.losses.kd.soft_cross_entropy`).

Energy (the paper's accounting): :func:`spikingbert_energy` gives Norm#OPS
(:func:`snnlab.energy.norm_ops`) from the student's measured firing rates and the ANN/SNN energy ratio
:math:`e = (\mathrm{Norm\#OPS}/5.1)^{-1}` (:func:`snnlab.energy.energy_ratio`).
"""
from __future__ import annotations

import torch
from torch import nn

from ..energy import energy_ratio, norm_ops
from ..losses.kd import soft_cross_entropy
from ..models.transformer import SpikingBERTStudent, TransformerClassifier, padding_mask
from .base import FrozenTeacher, Method

__all__ = ["SpikingBERTKD", "layer_map", "internal_kd_losses", "spikingbert_energy"]


def layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher layer learnt by each student layer: :math:`m(l) = (l+1) L_T / L_S - 1` (uniform, last to last)."""
    if not 1 <= student_layers <= teacher_layers:
        raise ValueError(f"need 1 <= student layers <= teacher layers, got {student_layers} and {teacher_layers}")
    return [(l + 1) * teacher_layers // student_layers - 1 for l in range(student_layers)]


def _masked_mse(student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries where ``weight`` (broadcast) is 1."""
    weight = weight.expand_as(student)
    return ((student - teacher) ** 2 * weight).sum() / weight.sum()


def internal_kd_losses(student_internals: dict, teacher_internals: dict, mask: torch.Tensor,
                       hidden_map: nn.Module, mapping: list[int]) -> dict[str, torch.Tensor]:
    r"""``{"attention": Σ_l MSE(A_S^l, A_T^{m(l)}), "hidden": Σ_l MSE(W_h a_S^l, H_T^{m(l)})}`` over real tokens
    (``mask`` ``[N, L]``, True at real tokens; for attention the real query rows)."""
    tokens = mask[..., None].to(student_internals["hidden"][0].dtype)   # [N, L, 1]
    attention = hidden = 0.0
    for l, m in enumerate(mapping):
        a_s, a_t = student_internals["attention"][l], teacher_internals["attention"][m]
        if a_s.shape != a_t.shape:
            raise ValueError(f"attention of student layer {l} {tuple(a_s.shape)} and teacher layer {m} "
                             f"{tuple(a_t.shape)} differ: give both models the same number of heads")
        attention = attention + _masked_mse(a_s, a_t, tokens[:, None])
        hidden = hidden + _masked_mse(hidden_map(student_internals["hidden"][l]), teacher_internals["hidden"][m],
                                      tokens)
    return {"attention": attention, "hidden": hidden}


class SpikingBERTKD(FrozenTeacher, Method):
    """Train a SpikingBERT ``student`` from a frozen ANN ``teacher``: internal-layer KD for the first ``ikd_epochs``
    epochs, then prediction-layer KD (soft cross entropy at ``temperature``); see the module docstring.

    Loss terms: ``attention`` and ``hidden`` in stage 1, ``prediction`` in stage 2. The teacher is kept in eval mode
    with ``requires_grad=False`` and runs under ``torch.no_grad``. The trainer calls :meth:`on_epoch_start`, which
    switches the stage.
    """

    def __init__(self, student: SpikingBERTStudent, teacher: TransformerClassifier, ikd_epochs: int,
                 temperature: float = 1.0):
        super().__init__()
        if ikd_epochs < 0:
            raise ValueError(f"ikd_epochs must be >= 0, got {ikd_epochs}")
        self.model = student
        self.set_teacher(teacher)
        self.hidden_map = nn.Linear(student.dim, teacher.dim)
        self.mapping = layer_map(student.n_layers, len(teacher.layers))
        self.ikd_epochs, self.temperature = ikd_epochs, temperature
        self.stage = "internal" if ikd_epochs > 0 else "prediction"

    def on_epoch_start(self, epoch: int) -> None:
        self.stage = "internal" if epoch <= self.ikd_epochs else "prediction"

    def forward(self, inputs, targets):
        with torch.no_grad():
            teacher_logits, teacher_internals = self.teacher(inputs, internals=True)
        if self.stage == "internal":
            logits, internals = self.model(inputs, internals=True)
            losses = internal_kd_losses(internals, teacher_internals, padding_mask(inputs), self.hidden_map,
                                        self.mapping)
            return logits, losses
        logits = self.model(inputs)
        return logits, {"prediction": soft_cross_entropy(logits, teacher_logits, self.temperature)}

    @torch.no_grad()
    def predict(self, inputs):
        return self.model(inputs)


@torch.no_grad()
def spikingbert_energy(student: SpikingBERTStudent, ids: torch.Tensor) -> dict:
    r"""Firing rates, Norm#OPS and the ANN/SNN energy ratio of ``student`` on token ids ``[N, L]``.

    Each group's IFR is its mean spike count per neuron and time step over the real tokens (simulated,
    ``gamma = 1`` rates); Norm#OPS :math:`= \sum_i \mathrm{IFR}_i\,\mathrm{Layer\#OPS}_{i+1} / \sum\mathrm{Layer\#OPS}`
    over :meth:`~snnlab.models.transformer.SpikingBERTStudent.weight_layers` (analog inputs count 1), and
    :math:`e = (\mathrm{Norm\#OPS}/5.1)^{-1}`. Like the paper's, this ratio compares one SNN time step with one
    ANN pass; over the :math:`T_{conv}` simulated steps the SNN performs :math:`T_{conv}` times the operations,
    reported as ``energy_ratio_per_inference``.
    """
    was_training = student.training
    student.eval()
    try:
        student(ids)
    finally:
        student.train(was_training)
    real = padding_mask(ids)[..., None].to(next(iter(student.last_rates.values())).dtype)
    rates = {name: ((r * real).sum() / (real.sum() * r.shape[-1])).item() for name, r in student.last_rates.items()}
    layers = student.weight_layers(rates, ids.shape[1])
    value = norm_ops([rate for _, rate, _ in layers], [ops for _, _, ops in layers])
    return {"rates": rates, "norm_ops": value, "energy_ratio": energy_ratio(value),
            "energy_ratio_per_inference": energy_ratio(value) / student.t_conv}
