"""Losses: TET, logit distillation (KD, soft CE); each states its formula and cites its paper."""
from .kd import kd_loss, soft_cross_entropy
from .tet import mean_output_ce, tet_loss

__all__ = ["tet_loss", "mean_output_ce", "kd_loss", "soft_cross_entropy"]
