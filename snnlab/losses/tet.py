r"""Temporal Efficient Training loss (Deng et al., ICLR 2022) and the mean-output baseline it replaces."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..layout import mean_over_time, require_time_major

__all__ = ["tet_loss", "per_step_ce", "output_regulariser", "mean_output_ce"]


def tet_loss(out_seq: torch.Tensor, target: torch.Tensor, lam: float = 1e-3, phi: float = 1.0) -> torch.Tensor:
    r"""TET loss: a cross entropy at *every* time step plus an MSE regulariser on the raw outputs, weighted as the
    official code weighs them (the paper writes the cross entropy unweighted):

    .. math::

        \mathcal L_{TET} = (1-\lambda_{TET})\,\frac1T\sum_{t=1}^{T} \mathrm{CE}\big(O[t], y\big)
                           + \lambda_{TET}\,\frac1T\sum_{t=1}^{T}\mathrm{MSE}\big(O[t], \phi\big), \qquad \lambda_{TET}\in[0, 1]

    where the MSE averages over samples and classes. The official code uses :math:`\phi = 1`,
    :math:`\lambda_{TET} = 10^{-3}`.
    Deng, Li, Zhang & Gu, *Temporal Efficient Training of Spiking Neural Network via Gradient Re-weighting*, ICLR 2022.

    Args:
        out_seq: per-step outputs ``[T, N, C]`` (the output layer's presynaptic input).
        target: class indices ``[N]``.
        lam: weight :math:`\lambda_{TET}` of the regulariser (0 disables it).
        phi: the constant :math:`\phi` the outputs are pulled towards.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1] (it weighs the regulariser against the CE by lam : 1 - lam), got {lam}")
    loss = per_step_ce(out_seq, target)
    return (1.0 - lam) * loss + lam * output_regulariser(out_seq, phi) if lam else loss


def per_step_ce(out_seq: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""The first TET term, :math:`\frac1T\sum_t \mathrm{CE}(O[t], y)` (each CE averaged over the batch)."""
    require_time_major(out_seq, 3, "out_seq", "[T, N, C]")
    return F.cross_entropy(out_seq.flatten(0, 1), target.repeat(out_seq.shape[0]))


def output_regulariser(out_seq: torch.Tensor, phi: float = 1.0) -> torch.Tensor:
    r"""The TET regulariser without its weight: :math:`\frac1T\sum_t \mathrm{MSE}(O[t], \phi)`."""
    require_time_major(out_seq, 3, "out_seq", "[T, N, C]")
    return F.mse_loss(out_seq, torch.full_like(out_seq, phi))


def mean_output_ce(out_seq: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Standard direct training (SDT): one cross entropy on the time-averaged output.

    .. math:: \mathcal L_{SDT} = \mathrm{CE}\Big(\frac1T\sum_{t=1}^{T} O[t],\ y\Big)
    """
    return F.cross_entropy(mean_over_time(out_seq), target)
