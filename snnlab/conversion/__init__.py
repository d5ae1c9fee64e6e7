"""ANN→SNN conversion: LC-TTFS, lossless conversion with time-to-first-spike coding, and the rate-coded
conversion of the same network for comparison; rate-coded conversion by threshold balancing (LaSNN's initialisation)."""
from .lc_ttfs import (ReLU1, SumToOneConv2d, SumToOneLinear, TTFSLayer, TTFSResult, ann_activations,
                      check_constraints, constrained_cnn, constrained_mlp, convert, max_time_error, simulate_exact,
                      simulate_stepped)
from .threshold_balance import balanced_thresholds, convert_by_threshold_balancing, max_activations, readout_layer
from .rate import RateResult, dense_ops, simulate_rate, synaptic_ops, ttfs_ops

__all__ = ["ReLU1", "SumToOneLinear", "SumToOneConv2d", "constrained_mlp", "constrained_cnn", "check_constraints",
           "ann_activations", "TTFSLayer", "convert", "simulate_exact", "simulate_stepped", "TTFSResult",
           "max_time_error", "simulate_rate", "RateResult", "synaptic_ops", "dense_ops", "ttfs_ops", "max_activations",
           "balanced_thresholds", "readout_layer", "convert_by_threshold_balancing"]
