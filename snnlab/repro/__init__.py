"""Reproductions: one config per paper with presets (smoke | book | paper); ``run(name, preset)`` writes results/.

Sweeps (:mod:`snnlab.repro.sweeps`) vary one quantity of a reproduction's setting and write results/sweeps/.
Comparisons (:mod:`snnlab.repro.comparisons`) train several methods under one setting and write
results/comparisons/. Demonstrations (:mod:`snnlab.repro.demos`) train a few networks with a chapter's setting,
measure what the chapter shows and write results/demos/.
"""
from . import common_ground as _common_ground  # noqa: F401  (registers comparison "common-ground")
from . import dkd as _dkd  # noqa: F401  (registers "dkd")
from . import energy_twins as _energy_twins  # noqa: F401  (registers demonstration "energy-twins")
from . import joint_asnn as _joint_asnn  # noqa: F401  (registers "joint-asnn")
from . import kdsnn as _kdsnn  # noqa: F401  (registers "kdsnn")
from . import lasnn as _lasnn  # noqa: F401  (registers "lasnn")
from . import lc_ttfs as _lc_ttfs  # noqa: F401  (registers "lc-ttfs")
from . import mskd as _mskd  # noqa: F401  (registers "mskd")
from . import spikingbert as _spikingbert  # noqa: F401  (registers "spikingbert")
from . import ssnn as _ssnn  # noqa: F401  (registers "ssnn", "ssnn-average-steps", "ssnn-transformer")
from . import tet as _tet  # noqa: F401  (registers "tet")
from . import tssd as _tssd  # noqa: F401  (registers "tssd", "tssd-events", "tssd-teacher-steps", "tssd-inference")
from .comparisons import (Comparison, comparison_names, get_comparison, recorded_comparison, register_comparison,
                          run_comparison)
from .demos import (Demonstration, demonstration_names, get_demonstration, recorded_demonstration,
                    register_demonstration, run_demonstration)
from .registry import (BOOK_SEEDS, PRESETS, VERDICTS, PaperVariant, Premise, Reproduction, assess, check_preset,
                       get_reproduction, recorded_run, register, reproduction_names, run)
from .export import load_records
from .report import conclusion, effect_text, interval_text, paper_text
from .results import load_results
from .settings import stale_differences
from .sweeps import Sweep, get_sweep, recorded_sweep, register_sweep, run_sweep, sweep_names

__all__ = ["PRESETS", "BOOK_SEEDS", "VERDICTS", "PaperVariant", "Premise", "Reproduction", "run", "assess", "check_preset",
           "recorded_run", "stale_differences", "conclusion", "paper_text", "effect_text", "interval_text", "register",
           "get_reproduction", "reproduction_names", "load_results", "load_records", "Sweep", "register_sweep", "get_sweep", "sweep_names", "run_sweep",
           "recorded_sweep", "Comparison", "register_comparison", "get_comparison", "comparison_names",
           "run_comparison", "recorded_comparison", "Demonstration", "register_demonstration", "get_demonstration",
           "demonstration_names", "run_demonstration", "recorded_demonstration"]
