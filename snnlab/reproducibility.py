"""Seeding and a record of the environment a result was obtained in."""
from __future__ import annotations

import os
import platform
import random
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

__all__ = ["seed_everything", "derived_seed", "environment_info", "git_sha", "git_clean"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices). Call it before building a model for a reproducible init."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derived_seed(*parts: int) -> int:
    """A seed derived deterministically from integers, e.g. ``derived_seed(seed, epoch, rank)``."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (int(p) + 0x9E3779B9 + (h << 6) + (h >> 2))) & 0xFFFFFFFFFFFFFFFF
    return h % 2**63


def git_sha(path: str | os.PathLike | None = None) -> str | None:
    """The commit of the repository containing ``path`` (default: the snnlab source), or None outside git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


RECORD_FOLDERS = ("results", "data", "_build")
"""Folders of a checkout that runs write into; their changes do not make the source tree modified."""


def git_clean(path: str | os.PathLike | None = None) -> bool | None:
    """Whether the repository containing ``path`` (default: the snnlab source) has no modified, staged or untracked
    file outside :data:`RECORD_FOLDERS`: the commit :func:`git_sha` names is then the code that ran. ``None``
    outside git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    excluded = [f":(top,exclude){folder}" for folder in RECORD_FOLDERS]
    try:
        out = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--", ":/", *excluded],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return None if out.returncode != 0 else out.stdout.strip() == ""


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info() -> dict:
    """Hardware and package versions, for results files and benchmark reports."""
    from . import __version__

    versions = {"snnlab": __version__}
    for pkg in ("torch", "spikingjelly", "triton", "numpy", "scikit-learn", "tonic"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    versions["cuda"] = torch.version.cuda
    hardware = {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return {"hardware": hardware, "versions": versions, "python": platform.python_version(), "git_sha": git_sha()}
