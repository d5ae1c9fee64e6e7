"""Losses: TET, logit distillation (KD, soft CE), feature distillation (margin ReLU, partial L2), attention
distillation, MSKD's HCKD/TCKD, DKD's decoupled terms; each states its formula and cites its paper."""
from .attention import (activation_attention, attention_distance, attention_loss, gradient_attention,
                        normalized_attention, spike_activation_map)
from .dkd import decoupled_kd, dkd_parts
from .feature_kd import feature_adapter, margin_from_bn, margin_relu, partial_l2_loss
from .kd import kd_loss, response_kd_terms, soft_cross_entropy
from .mskd import curriculum_alpha, hit_signal, mskd_hckd_loss, mskd_tckd_loss
from .tet import mean_output_ce, tet_loss

__all__ = ["tet_loss", "mean_output_ce", "kd_loss", "response_kd_terms", "soft_cross_entropy", "mskd_hckd_loss",
           "mskd_tckd_loss", "hit_signal",
           "curriculum_alpha", "feature_adapter", "margin_from_bn", "margin_relu", "partial_l2_loss",
           "activation_attention", "gradient_attention", "normalized_attention", "spike_activation_map",
           "attention_distance", "attention_loss", "decoupled_kd", "dkd_parts"]
