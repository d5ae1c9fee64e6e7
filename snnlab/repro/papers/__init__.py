"""The papers' reproductions, one module per paper, and the chapters' sweeps, comparisons and demonstrations built
on them: each module registers what it defines with the framework (:mod:`snnlab.repro`) when it is imported, and
importing this package (which :mod:`snnlab.repro` does) imports every module in it, in name order. A new paper's
module is found by being here; a skeleton that ``snnlab new-chapter`` wrote and whose ``TODO`` texts are not all
written yet is skipped with a warning that names it.
"""
import importlib
import pkgutil
import warnings
from pathlib import Path

from ...scaffold import PLACEHOLDER
from ..registry import UnfilledProtocol

__all__ = ["import_papers"]


def import_papers() -> None:
    """Import (and so register) every module of this package. A module that fails because its protocol still
    reads the template's placeholder, or that holds the placeholder and cannot be imported yet (its loss or method
    not exported), is skipped with a warning; any other failure is raised."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        try:
            importlib.import_module(f"{__name__}.{info.name}")
        except (UnfilledProtocol, ImportError) as error:
            path = Path(info.module_finder.path) / f"{info.name}.py"
            if not isinstance(error, UnfilledProtocol) and PLACEHOLDER not in path.read_text():
                raise
            warnings.warn(f"{path.name} is not registered yet, its skeleton is not filled in: {error}", stacklevel=2)


import_papers()
