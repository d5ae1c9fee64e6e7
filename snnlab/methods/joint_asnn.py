r"""Joint A-SNN: train an ANN and an SNN together, the SNN guided by the ANN through every exit (Guo et al.,
Pattern Recognition 2023).

The twins come from :class:`~snnlab.models.factorised.JointNet` (shared singular vectors, own singular values, own
batch norms and linear layers, ReLU vs spiking neuron, self-distillation branches). With exits :math:`k = 1..K`
(branches, then the final classifier :math:`K`), ANN logits :math:`z_k^{ANN}`, SNN logits :math:`z_k^{SNN}` and
features :math:`F^{ANN}_k, F^{SNN}_k` (SNN quantities **summed** over the :math:`T` steps, as in the official code),
the loss is (as in the official code)

.. math::

    \mathcal L = (1-\lambda_{KD})\sum_{k=1}^{K}\big[\mathrm{CE}(z_k^{ANN}, y) + \mathrm{CE}(z_k^{SNN}, y)\big]
      + \lambda_{KD}\Big[\sum_{k<K}\mathcal L_{KD}(z_k^{ANN} \leftarrow \mathrm{sg}(z_K^{ANN}))
      + \sum_{k=1}^{K}\mathcal L_{KD}(z_k^{SNN} \leftarrow \mathrm{sg}(z_k^{ANN}))\Big]
      + \lambda_{feat}\sum_{k=1}^{K}\sum_{n,i}\big(F^{SNN}_{k,ni} - \mathrm{sg}(F^{ANN}_{k,ni})\big)^2\,
        \mathbb 1\big[F^{SNN}_{k,ni} > 0 \,\vee\, \mathrm{sg}(F^{ANN}_{k,ni}) > 0\big],

where :math:`\mathcal L_{KD}(z_s \leftarrow z_t) = \mathcal T^2\,\mathrm{KL}(\mathrm{softmax}(z_t/\mathcal T)\,\|\,
\mathrm{softmax}(z_s/\mathcal
T))` (:func:`snnlab.losses.kd.kd_loss`), :math:`\mathrm{sg}` marks a detached (teacher) tensor, and
the official values are :math:`\lambda_{KD} = 0.1` (``alpha``), :math:`\mathcal T = 3` (``tau``),
:math:`\lambda_{feat} = 10^{-6}` (``beta``). The feature term is a sum, not a mean, over the batch and the features
(the official ``feature_loss_function``), hence the small :math:`\lambda_{feat}`. The official code
writes the KD terms as a soft cross entropy against the teacher's softened distribution; it differs from the KL
divergence by the teacher's entropy, a constant for the student, so the gradients are the same. At test time only
the SNN's final exit is used.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..encoding import encode
from ..losses.kd import kd_loss
from ..models.factorised import NETWORKS, JointNet, JointOutput
from .base import Method, SpikingMethod

__all__ = ["JointASNN", "SummedOutputCE", "masked_feature_l2", "joint_asnn_losses"]


def masked_feature_l2(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    r"""Joint A-SNN's feature loss: :math:`\sum_{n,i} (f^S_{ni} - f^T_{ni})^2\,\mathbb 1[f^S_{ni} > 0 \vee f^T_{ni} > 0]`,
    a squared error summed over the batch and the features where either network is active (the teacher is not
    detached here)."""
    if student.shape != teacher.shape:
        raise ValueError(f"student and teacher features must have the same shape, got {tuple(student.shape)} and "
                         f"{tuple(teacher.shape)}")
    active = (student > 0) | (teacher > 0)
    return ((student - teacher) ** 2 * active).sum()


def joint_asnn_losses(ann: JointOutput, snn: JointOutput, targets: torch.Tensor, alpha: float = 0.1,
                      tau: float = 3.0, beta: float = 1e-6) -> dict[str, torch.Tensor]:
    """The terms of the Joint A-SNN loss (module docstring) for one batch, each already weighted:

    ``ce_ann``, ``ce_snn``: :math:`(1-\\lambda_{KD})\\sum_k` CE of every ANN / SNN exit; ``kd_branches``:
    :math:`\\lambda_{KD}\\sum_{k<K}` KD from the ANN's final exit into its branches (absent with a single exit);
    ``kd_ann_snn``: :math:`\\lambda_{KD}\\sum_k` KD from ANN exit :math:`k` into SNN exit :math:`k`; ``feature``:
    :math:`\\lambda_{feat}\\sum_k` :func:`masked_feature_l2` of the exits' features. Teachers are detached
    (``alpha`` is :math:`\\lambda_{KD}`, ``tau`` is :math:`\\mathcal T`, ``beta`` is :math:`\\lambda_{feat}`).
    """
    if len(ann.logits) != len(snn.logits):
        raise ValueError(f"the ANN has {len(ann.logits)} exits and the SNN {len(snn.logits)}; they must match")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    final = ann.logits[-1].detach()
    losses = {
        "ce_ann": (1 - alpha) * sum(F.cross_entropy(a, targets) for a in ann.logits),
        "ce_snn": (1 - alpha) * sum(F.cross_entropy(s, targets) for s in snn.logits),
    }
    if len(ann.logits) > 1:
        losses["kd_branches"] = alpha * sum(kd_loss(a, final, tau) for a in ann.logits[:-1])
    losses["kd_ann_snn"] = alpha * sum(kd_loss(s, a.detach(), tau) for s, a in zip(snn.logits, ann.logits))
    losses["feature"] = beta * sum(masked_feature_l2(s, a.detach()) for s, a in zip(snn.features, ann.features))
    return losses


class JointASNN(Method):
    """Train the ANN and SNN twins of a :class:`~snnlab.models.factorised.JointNet` jointly (module docstring).

    Training outputs and predictions are the SNN's final exit (logits summed over ``T``); set
    ``test_network = "ann"`` to predict with the ANN twin instead.

    Args:
        net: the twins.
        T: SNN time steps; static inputs ``[N, ...]`` are encoded with ``encoding`` (the ANN sees them as they are).
        alpha, tau, beta: loss weights and KD temperature (official: 0.1, 3, 1e-6).
        encoding: how the SNN's input is made (the paper: ``"direct"``).
    """

    def __init__(self, net: JointNet, T: int, alpha: float = 0.1, tau: float = 3.0, beta: float = 1e-6,
                 encoding: str = "direct"):
        super().__init__()
        if T < 1:
            raise ValueError(f"T must be >= 1, got {T}")
        self.net, self.T, self.encoding = net, T, encoding
        self.alpha, self.tau, self.beta = alpha, tau, beta
        self.test_network = "snn"

    def run(self, inputs: torch.Tensor, network: str) -> JointOutput:
        """Every exit of one twin on a static batch ``[N, ...]``."""
        return self.net(encode(self.encoding, inputs, self.T) if network == "snn" else inputs, network)

    def forward(self, inputs, targets):
        ann, snn = self.run(inputs, "ann"), self.run(inputs, "snn")
        return snn.logits[-1], joint_asnn_losses(ann, snn, targets, self.alpha, self.tau, self.beta)

    @torch.no_grad()
    def predict(self, inputs):
        if self.test_network not in NETWORKS:
            raise ValueError(f"test_network must be one of {NETWORKS}, got {self.test_network!r}")
        return self.run(inputs, self.test_network).logits[-1]


class SummedOutputCE(SpikingMethod):
    r"""The SNN trained alone as Joint A-SNN trains its SNN's final exit: cross entropy of the output summed over
    time, :math:`\mathrm{CE}(\sum_t O[t], y)` (the baseline of the Joint A-SNN reproduction)."""

    def forward(self, inputs, targets):
        logits = self.output_sequence(inputs).sum(0)
        return logits, {"ce": F.cross_entropy(logits, targets)}
