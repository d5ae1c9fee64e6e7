"""Reproductions: one config per paper with presets (smoke | book | paper); ``run(name, preset)`` writes results/."""
from . import lc_ttfs as _lc_ttfs  # noqa: F401  (registers "lc-ttfs")
from . import mskd as _mskd  # noqa: F401  (registers "mskd")
from . import ssnn as _ssnn  # noqa: F401  (registers "ssnn")
from . import tet as _tet  # noqa: F401  (registers "tet")
from . import tssd as _tssd  # noqa: F401  (registers "tssd", "tssd-events")
from .registry import PRESETS, PaperVariant, Reproduction, get_reproduction, register, reproduction_names, run
from .results import load_results

__all__ = ["PRESETS", "PaperVariant", "Reproduction", "run", "register", "get_reproduction", "reproduction_names", "load_results"]
