"""Reproductions: one config per paper with presets (smoke | book | paper); ``run(name, preset)`` writes results/.

This package is the framework: the registry and runner (:mod:`~snnlab.repro.registry`), the protocol and its
verdicts (:mod:`~snnlab.repro.protocol`, :mod:`~snnlab.repro.results`, :mod:`~snnlab.repro.report`), settings,
the seed store, the trained networks a record keeps, export, and the pieces every reproduction trains its arms
with (:mod:`~snnlab.repro.common`). Sweeps (:mod:`snnlab.repro.sweeps`) vary one quantity of a reproduction's
setting and write results/sweeps/. Comparisons (:mod:`snnlab.repro.comparisons`) train several methods under one
setting and write results/comparisons/. Demonstrations (:mod:`snnlab.repro.demos`) train a few networks with a
chapter's setting, measure what the chapter shows and write results/demos/.

The papers' reproductions, and the chapters' sweeps, comparisons and demonstrations, are the modules of
:mod:`snnlab.repro.papers`; importing this package imports that one, which registers them. The framework never
imports a paper's module.
"""
from .comparisons import (Comparison, comparison_names, get_comparison, recorded_comparison, register_comparison,
                          run_comparison)
from .demos import (Demonstration, demonstration_names, get_demonstration, recorded_demonstration,
                    register_demonstration, run_demonstration)
from .registry import (BOOK_SEEDS, PRESETS, VERDICTS, PaperVariant, Premise, Reproduction, assess, check_preset,
                       get_reproduction, recorded_run, register, reproduction_names, run, trained_network)
from .export import load_records
from .report import conclusion, effect_text, interval_text, paper_text
from .results import load_results
from .settings import stale_differences
from .sweeps import Sweep, get_sweep, recorded_sweep, register_sweep, run_sweep, sweep_names
from . import papers as _papers  # noqa: F401  (registers every paper's reproduction, sweep, comparison and demonstration)

__all__ = ["PRESETS", "BOOK_SEEDS", "VERDICTS", "PaperVariant", "Premise", "Reproduction", "run", "assess", "check_preset",
           "recorded_run", "trained_network", "stale_differences", "conclusion", "paper_text", "effect_text", "interval_text", "register",
           "get_reproduction", "reproduction_names", "load_results", "load_records", "Sweep", "register_sweep", "get_sweep", "sweep_names", "run_sweep",
           "recorded_sweep", "Comparison", "register_comparison", "get_comparison", "comparison_names",
           "run_comparison", "recorded_comparison", "Demonstration", "register_demonstration", "get_demonstration",
           "demonstration_names", "run_demonstration", "recorded_demonstration"]
