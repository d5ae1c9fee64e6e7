"""Losses: TET, logit distillation (KD, soft CE), MSKD's HCKD/TCKD; each states its formula and cites its paper."""
from .kd import kd_loss, soft_cross_entropy
from .mskd import curriculum_alpha, hckd_loss, hit_signal, tckd_loss
from .tet import mean_output_ce, tet_loss

__all__ = ["tet_loss", "mean_output_ce", "kd_loss", "soft_cross_entropy", "hckd_loss", "tckd_loss", "hit_signal",
           "curriculum_alpha"]
