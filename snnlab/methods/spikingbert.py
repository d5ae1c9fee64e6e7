r"""SpikingBERT: ANN→SNN distillation at equilibrium, in two stages (Bal & Sengupta, AAAI 2024; TinyBERT style).

The student (:class:`~snnlab.models.transformer.SpikingBERTStudent`) is trained without backpropagation through
time: its average spiking rates at equilibrium are differentiated implicitly. A frozen ANN transformer teacher
(:class:`~snnlab.models.transformer.TransformerClassifier`) gives the targets:

1. **internal-layer KD** (the first ``ikd_epochs`` epochs): student layer :math:`l` learns from teacher layer
   :math:`m(l) = (l+1) L_t / L_s - 1` (:func:`layer_map`), and the student's embedding from the teacher's,

   .. math:: \mathcal L_{IKD} = \sum_l \mathrm{MSE}\big(Z_s^l, Z_t^{m(l)}\big)
                              + \mathrm{MSE}\big(W_h\,u^0, u_t^0\big)
                              + \sum_l \mathrm{MSE}\big(W_h\,a_{out}^{l}, a_t^{m(l)}\big),

   with :math:`Z` the attention scores before the softmax (:func:`~snnlab.models.transformer.attention_scores`,
   per head; the entries of padded keys set to 0 in both, as the official code does), :math:`u^0` the student's
   embedding current and :math:`u_t^0` the teacher's embedding-layer output, :math:`a_{out}^l` the simulated
   equilibrium rates of the student's layer output, :math:`a_t` the teacher's hidden states and :math:`W_h` a learned
   linear map (one, shared by the embedding and the layers, as TinyBERT's). The means run over the real tokens (for
   the scores, the real query tokens and every key), where the official code also averages over the padding;
2. **prediction-layer KD** (the remaining epochs): soft cross entropy against the teacher's logits at temperature
   :math:`\mathcal T = 1` (:func:`~snnlab.losses.kd.soft_cross_entropy`).

Energy (the paper's accounting): :func:`spikingbert_energy` gives Norm#OPS (:func:`snnlab.energy.norm_ops`) from the
student's measured firing rates and the ANN/SNN energy ratio :math:`\eta = (\mathrm{Norm\#OPS}/5.1)^{-1}`
(:func:`snnlab.energy.energy_ratio`), each per time step and per inference (over the :math:`T_{conv}` simulated steps).
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
    """Teacher layer learnt by each student layer: :math:`m(l) = (l+1) L_t / L_s - 1` (uniform, last to last)."""
    if not 1 <= student_layers <= teacher_layers:
        raise ValueError(f"need 1 <= student layers <= teacher layers, got {student_layers} and {teacher_layers}")
    return [(l + 1) * teacher_layers // student_layers - 1 for l in range(student_layers)]


def _masked_mse(student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries where ``weight`` (broadcast) is 1."""
    weight = weight.expand_as(student)
    return ((student - teacher) ** 2 * weight).sum() / weight.sum()


def internal_kd_losses(student_internals: dict, teacher_internals: dict, mask: torch.Tensor,
                       hidden_map: nn.Module, mapping: list[int]) -> dict[str, torch.Tensor]:
    r"""The internal-layer KD terms (see the module docstring), from the models' ``internals``:

    * ``"attention"``: :math:`\sum_l \mathrm{MSE}(Z_s^l, Z_t^{m(l)})` over the attention scores ``"scores"``
      ``[N, H, L, L]``, the entries of padded keys set to 0 in both, averaged over the real query rows;
    * ``"embedding"``: :math:`\mathrm{MSE}(W_h u^0, u_t^0)` over the real tokens of ``"embedding"`` ``[N, L, D]``;
    * ``"hidden"``: :math:`\sum_l \mathrm{MSE}(W_h a_{out}^l, a_t^{m(l)})` over the real tokens of ``"hidden"``.

    ``mask`` ``[N, L]`` is True at real tokens; ``mapping[l]`` = :math:`m(l)`; ``hidden_map`` is :math:`W_h`."""
    tokens = mask[..., None].to(student_internals["hidden"][0].dtype)   # [N, L, 1]
    padded_keys = ~mask[:, None, None, :]                               # [N, 1, 1, L]
    attention = hidden = 0.0
    for l, m in enumerate(mapping):
        s_s, s_t = student_internals["scores"][l], teacher_internals["scores"][m]
        if s_s.shape != s_t.shape:
            raise ValueError(f"attention scores of student layer {l} {tuple(s_s.shape)} and teacher layer {m} "
                             f"{tuple(s_t.shape)} differ: give both models the same number of heads")
        attention = attention + _masked_mse(s_s.masked_fill(padded_keys, 0.0), s_t.masked_fill(padded_keys, 0.0),
                                            tokens[:, None])
        hidden = hidden + _masked_mse(hidden_map(student_internals["hidden"][l]), teacher_internals["hidden"][m],
                                      tokens)
    embedding = _masked_mse(hidden_map(student_internals["embedding"]), teacher_internals["embedding"], tokens)
    return {"attention": attention, "embedding": embedding, "hidden": hidden}


class SpikingBERTKD(FrozenTeacher, Method):
    """Train a SpikingBERT ``student`` from a frozen ANN ``teacher``: internal-layer KD for the first ``ikd_epochs``
    epochs, then prediction-layer KD (soft cross entropy at ``temperature``); see the module docstring.

    Loss terms: ``attention``, ``embedding`` and ``hidden`` in stage 1, ``prediction`` in stage 2. The teacher is
    kept in eval mode with ``requires_grad=False`` and runs under ``torch.no_grad``. The trainer calls
    :meth:`on_epoch_start`, which switches the stage.
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
    r"""Firing rates, Norm#OPS and the ANN/SNN energy ratio of ``student`` on token ids ``[N, L]``, per time step and
    per inference.

    Norm#OPS :math:`= \sum_i \mathrm{IFR}_i\,\mathrm{Layer\#OPS}_{i+1} / \sum\mathrm{Layer\#OPS}` over
    :meth:`~snnlab.models.transformer.SpikingBERTStudent.weight_layers` and :math:`\eta = (\mathrm{Norm\#OPS}/5.1)^{-1}`
    (Bal & Sengupta, AAAI 2024), each for two definitions of a group's IFR:

    * **per time step** (``norm_ops_per_step``, ``energy_ratio_per_step``): the mean number of spikes per neuron and
      time step over the real tokens (the simulated ``gamma = 1`` rate :math:`r_i \in [0, 1]`; an analog input
      counts 1) — one SNN step against one ANN pass;
    * **per inference** (``norm_ops_per_inference``, ``energy_ratio_per_inference``): the mean number of spikes per
      neuron over the :math:`T_{conv}` simulated steps of one inference, :math:`T_{conv} r_i` (SpikingBERT's IFR;
      an analog input counts :math:`T_{conv}`, since its layer runs at every step) — the whole SNN inference
      against one ANN pass. So :math:`\mathrm{Norm\#OPS}_{inf} = T_{conv}\,\mathrm{Norm\#OPS}_{step}` and
      :math:`\eta_{inf} = \eta_{step}/T_{conv}`; :math:`\eta_{inf} > 1` means one SNN inference costs less than one
      ANN pass.
    """
    if student.gamma != 1.0:
        raise ValueError(f"spikingbert_energy counts spikes from the rates, which needs gamma = 1 (the plain mean); "
                         f"the student has gamma = {student.gamma}")
    was_training = student.training
    student.eval()
    try:
        student(ids)
    finally:
        student.train(was_training)
    real = padding_mask(ids)[..., None].to(next(iter(student.last_rates.values())).dtype)
    rates = {name: ((r * real).sum() / (real.sum() * r.shape[-1])).item() for name, r in student.last_rates.items()}
    layers = student.weight_layers(rates, ids.shape[1])
    per_step = norm_ops([rate for _, rate, _ in layers], [ops for _, _, ops in layers])
    per_inference = student.t_conv * per_step
    return {"rates": rates, "norm_ops_per_step": per_step, "norm_ops_per_inference": per_inference,
            "energy_ratio_per_step": energy_ratio(per_step), "energy_ratio_per_inference": energy_ratio(per_inference)}
