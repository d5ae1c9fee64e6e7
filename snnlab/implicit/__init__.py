"""Implicit models: fixed-point solvers, implicit differentiation at equilibrium, spiking networks at equilibrium."""
from .function import ImplicitStats, fixed_point, implicit_gradient
from .solvers import SOLVERS, SolverStats, anderson, broyden, fixed_point_iteration, relative_residual, solve
from .spiking import asr_map, simulate_if, spiking_equilibrium, weighted_average_rate

__all__ = ["SolverStats", "SOLVERS", "fixed_point_iteration", "anderson", "broyden", "solve", "relative_residual",
           "ImplicitStats", "implicit_gradient", "fixed_point", "weighted_average_rate", "asr_map", "simulate_if",
           "spiking_equilibrium"]
