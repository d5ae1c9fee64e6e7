"""Reproductions: one config per paper with presets (smoke | book | paper); ``run(name, preset)`` writes results/."""
from . import lc_ttfs as _lc_ttfs  # noqa: F401  (registers "lc-ttfs")
from . import mskd as _mskd  # noqa: F401  (registers "mskd")
from . import tet as _tet  # noqa: F401  (registers "tet")
from .registry import PRESETS, Reproduction, get_reproduction, register, reproduction_names, run
from .results import load_results

__all__ = ["PRESETS", "Reproduction", "run", "register", "get_reproduction", "reproduction_names", "load_results"]
