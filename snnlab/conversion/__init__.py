"""ANN→SNN conversion: LC-TTFS, lossless conversion with time-to-first-spike coding."""
from .lc_ttfs import (ReLU1, SumToOneConv2d, SumToOneLinear, TTFSLayer, TTFSResult, check_constraints, convert,
                      simulate_exact, simulate_stepped)

__all__ = ["ReLU1", "SumToOneLinear", "SumToOneConv2d", "check_constraints", "TTFSLayer", "convert",
           "simulate_exact", "simulate_stepped", "TTFSResult"]
