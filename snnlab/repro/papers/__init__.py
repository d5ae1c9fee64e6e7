"""The papers' reproductions, one module per paper, and the chapters' sweeps, comparisons and demonstrations built
on them: each module registers what it defines with the framework (:mod:`snnlab.repro`) when it is imported, and
importing this package (which :mod:`snnlab.repro` does) imports every module listed here. A new paper adds its
module and one line below.
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
from . import ssnn as _ssnn  # noqa: F401  (registers "ssnn", "ssnn-average-steps")
from . import tet as _tet  # noqa: F401  (registers "tet")
from . import tssd as _tssd  # noqa: F401  (registers "tssd", "tssd-events", "tssd-teacher-steps", "tssd-inference")
