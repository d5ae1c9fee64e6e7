"""Each finished seed of a reproduction saved as it finishes, so an interrupted run resumes without retraining it.

While ``snnlab reproduce`` runs, ``<out>/<name>-<preset>[-<variant>].partial/seed-<k>.json`` holds seed ``k``'s
result together with the setting it was trained with (written atomically). ``--resume`` reads these back — refusing
any whose setting differs from the current one, with the list of differences — and trains only the missing seeds;
the folder is removed once the complete record is written.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..io import atomic_write_json
from .settings import json_roundtrip, stale_differences

__all__ = ["check_writable", "SeedStore"]


def check_writable(folder: str | os.PathLike) -> Path:
    """``folder``, created if needed, after proving a file can be written there; else an error that says why —
    before any training starts."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"the output folder {folder} is a file; pass --out with a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise PermissionError(f"cannot write results to {folder} ({err.strerror or err}); pass --out with a folder "
                              "you can write to") from err
    return folder


class SeedStore:
    """The finished seeds of one run: ``folder/seed-<k>.json`` = ``{"seed", "setting", "result"}``."""

    def __init__(self, folder: str | os.PathLike, setting: dict):
        self.folder = Path(folder)
        self.setting = json_roundtrip(setting)

    def _path(self, seed: int) -> Path:
        return self.folder / f"seed-{seed}.json"

    def saved_seeds(self) -> list[int]:
        return sorted(int(p.stem.split("-", 1)[1]) for p in self.folder.glob("seed-*.json")) if self.folder.is_dir() \
            else []

    def load(self, seed: int) -> dict:
        """Seed ``seed``'s result; ``ValueError`` naming the file when it is unreadable or of another setting."""
        path = self._path(seed)
        try:
            saved = json.loads(path.read_text())
            setting, result = saved["setting"], saved["result"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path} is not a readable seed result ({err}); delete it to train seed {seed} "
                             "again") from err
        differences = stale_differences(setting, self.setting)
        if differences:
            raise ValueError(f"{path} was trained with another setting ({'; '.join(differences)}); resume only a "
                             f"run of the same setting, or delete {self.folder} to start again")
        return result

    def save(self, seed: int, result: dict) -> None:
        atomic_write_json({"seed": seed, "setting": self.setting, "result": result}, self._path(seed))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
