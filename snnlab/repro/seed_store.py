"""Each finished seed of a reproduction saved as it finishes, so an interrupted run resumes without retraining it.

While ``snnlab reproduce`` runs, ``<out>/<name>-<preset>[-<variant>].partial/`` holds ``run.json`` (the run's own
seed list, written before the first seed trains) and ``seed-<k>.json`` for every
finished seed ``k``: its result, its setting, the setting's SHA-256 and a SHA-256 over seed, setting hash and result
(written atomically). ``--resume`` continues that run's own seed list (a different list is refused, with the
difference named), reads back the finished seeds — refusing any whose setting differs from the current one, or
whose content does not match its hashes — and trains only the missing ones. Once the complete record is written,
the seeds merged into it and ``run.json`` are removed, and the folder with them if nothing else is left in it.

A lock file ``<out>/<name>-<preset>[-<variant>].lock``, held from :meth:`SeedStore.begin` until the record is
written (:meth:`SeedStore.finish`) or the run fails, refuses a second run of the same record meanwhile. The output
folder, its free space and the ``.partial`` path (a real folder inside the output folder, not a link) are checked
before anything trains (:func:`check_writable`, :meth:`SeedStore.begin`).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from ..io import atomic_write_json
from .settings import json_roundtrip, stale_differences

__all__ = ["check_writable", "open_store", "SeedStore", "MIN_FREE_BYTES"]

MIN_FREE_BYTES = 64 * 2**20
"""Free space an output folder needs before a run starts: far more than a record and its seed files take."""


def check_writable(folder: str | os.PathLike, min_free: int = MIN_FREE_BYTES) -> Path:
    """``folder``, created if needed, after proving a file can be written there and that it has ``min_free`` bytes
    free; else an error that says why and what to do — before any training starts."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"the output folder {folder} is a file; pass --out with a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
        free = shutil.disk_usage(folder).free
    except OSError as err:
        raise PermissionError(f"cannot write results to {folder} ({err.strerror or err}); pass --out with a folder "
                              "you can write to") from err
    if free < min_free:
        raise OSError(errno.ENOSPC, f"{folder} has {free / 2**20:.1f} MiB free, less than the {min_free / 2**20:.0f} "
                                    "MiB a run needs; free some space or pass --out with another folder")
    return folder


def _lock(path: Path):
    """The open lock file ``path``, ``flock``-ed without waiting (released when closed, or when the process ends: a
    killed run leaves nothing to remove by hand); a ``BlockingIOError`` naming the holder while another process
    holds it. A lock this process still holds (a run that failed after training, in the same notebook kernel) is taken
    over."""
    try:  # never through a link: the lock file is written, and must stay inside the output folder
        handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666), "a+")
    except OSError as err:
        raise OSError(err.errno, f"cannot open the lock file {path} ({err.strerror or err}); remove it (it must be "
                                 "a plain file, not a link) and run again") from err
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the lock is advisory only
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        handle.seek(0)
        holder = handle.read().strip()
        if holder == _holder():
            return handle
        handle.close()
        raise BlockingIOError(f"{path} is held by {holder or 'another process'}: another run of the same record is "
                              "in progress; wait for it to finish (or stop it), then run again") from err
    handle.seek(0)
    handle.truncate()
    handle.write(_holder())
    handle.flush()
    return handle


def _holder() -> str:
    return f"process {os.getpid()}"


def _sha256(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


class SeedStore:
    """The finished seeds of one run: ``folder/run.json`` = ``{"seeds"}`` and
    ``folder/seed-<k>.json`` = ``{"seed", "setting", "setting_sha256", "result", "content_sha256"}``."""

    def __init__(self, folder: str | os.PathLike, setting: dict):
        self.folder = Path(folder)
        self.setting = json_roundtrip(setting)
        self.setting_sha256 = _sha256(self.setting)
        self._lock_path = self.folder.with_suffix(".lock")
        self._lock = None

    def _path(self, seed: int) -> Path:
        return self.folder / f"seed-{seed}.json"

    @property
    def _run_path(self) -> Path:
        return self.folder / "run.json"

    def _check_folder(self) -> None:
        """Refuse a ``.partial`` path that is a link (whose seeds would land outside the output folder) or a file."""
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            kind = "a link" if self.folder.is_symlink() else "a file"
            raise NotADirectoryError(f"{self.folder} is {kind}, not the folder of an interrupted run; remove it "
                                     "(it holds no seeds of this run) and run again")

    def planned_seeds(self) -> list[int] | None:
        """The seed list of the interrupted run this folder holds (its ``run.json``), or ``None``."""
        self._check_folder()
        if not self._run_path.is_file():
            return None
        try:
            seeds = json.loads(self._run_path.read_text())["seeds"]
            if not (isinstance(seeds, list) and seeds and all(type(s) is int for s in seeds)):
                raise ValueError(f"'seeds' is {seeds!r}, not a list of ints")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{self._run_path} is not readable ({err}); delete it to resume with the seeds you "
                             "pass (finished seed files are kept)") from err
        return seeds

    def begin(self, seeds: list[int], resume: bool) -> None:
        """Check the folder and start (or continue) a run of ``seeds``, before anything trains: refuse finished
        seeds without ``resume``, and a resumed run whose seed list differs from the interrupted one's. Takes the
        record's lock (released by :meth:`finish` or :meth:`release`)."""
        if self._lock is None:
            self._lock = _lock(self._lock_path)
        self._check_folder()
        planned, saved = self.planned_seeds(), self.saved_seeds()
        if saved and not resume:
            raise FileExistsError(f"{self.folder} holds {len(saved)} finished seed(s) of an interrupted run: pass "
                                  "resume=True (--resume on the command line) to continue from them, or delete the "
                                  "folder to start again")
        if resume and planned is not None and planned != list(seeds):
            raise ValueError(f"the interrupted run in {self.folder} ran seeds {planned}, this one asks for "
                             f"{list(seeds)} (only there: {sorted(set(planned) - set(seeds))}; only here: "
                             f"{sorted(set(seeds) - set(planned))}); resume without --seeds to continue it, or "
                             "delete the folder to start again")
        if resume and planned is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json({"seeds": list(seeds)}, self._run_path)
        except OSError as err:
            raise PermissionError(f"cannot write {self._run_path} ({err.strerror or err}); pass --out with a "
                                  "folder you can write to") from err

    def saved_seeds(self) -> list[int]:
        """The seeds with a file in the folder (readable or not)."""
        if not self.folder.is_dir():
            return []
        stems = (p.stem.split("-", 1)[1] for p in self.folder.glob("seed-*.json"))
        return sorted(int(stem) for stem in stems if stem.lstrip("-").isdigit())

    def load(self, seed: int) -> dict:
        """Seed ``seed``'s result; ``ValueError`` naming the file when it is unreadable, of another setting, or its
        content does not match its hashes (edited, or copied from another run)."""
        path = self._path(seed)
        try:
            saved = json.loads(path.read_text())
            setting, result, setting_hash = saved["setting"], saved["result"], saved["setting_sha256"]
            content_hash = saved["content_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path} is not a readable seed result ({err}); delete it to train seed {seed} "
                             "again") from err
        differences = stale_differences(setting, self.setting)
        if differences:
            raise ValueError(f"{path} was trained with another setting ({'; '.join(differences)}); resume only a "
                             f"run of the same setting, or delete {self.folder} to start again")
        if (saved.get("seed") != seed or setting_hash != _sha256(setting)
                or content_hash != _sha256([seed, setting_hash, result])):
            raise ValueError(f"{path} does not match its own hashes (edited, or copied from another run); delete "
                             f"it to train seed {seed} again")
        return result

    def save(self, seed: int, result: dict) -> None:
        """Write seed ``seed``'s result atomically; a full disk keeps the finished seeds and says how to resume."""
        content = [seed, self.setting_sha256, json_roundtrip(result)]
        try:
            atomic_write_json({"seed": seed, "setting": self.setting, "setting_sha256": self.setting_sha256,
                               "result": content[2], "content_sha256": _sha256(content)}, self._path(seed))
        except OSError as err:
            raise OSError(err.errno, f"cannot save seed {seed} to {self._path(seed)} ({err.strerror or err}); "
                                     f"the seeds finished so far are kept in {self.folder}: free some space, then "
                                     "run again with --resume") from err

    def finish(self, write: Callable[[], object], merged: list[int]):
        """``write()`` the record (and return what it returns), then delete the seed files of ``merged`` (the seeds in it)
        and ``run.json`` — the folder too when nothing else is left in it; a seed file that was not merged is never
        deleted — and release the lock. A write that fails keeps every seed and says how to resume."""
        try:
            written = write()
        except OSError as err:
            self.release()
            raise OSError(err.errno, f"cannot write the record ({err.strerror or err}); its seeds are kept in "
                                     f"{self.folder}: free some space, then run again with --resume") from err
        for seed_file in [*(self._path(seed) for seed in merged), self._run_path]:
            seed_file.unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            left = sorted(p.name for p in self.folder.iterdir()) if self.folder.is_dir() else []
            if left:
                print(f"kept {self.folder}: it holds files not merged into the record ({', '.join(left)})",
                      file=sys.stderr)
        self.release()
        return written

    def release(self) -> None:
        """Release the record's lock (and remove its file), if this store holds it."""
        if self._lock is not None:
            self._lock_path.unlink(missing_ok=True)
            self._lock.close()
            self._lock = None


def open_store(out: str | os.PathLike | None, record_path: Path, setting: dict) -> SeedStore | None:
    """The seed store of a run that writes ``record_path`` into ``out`` (after :func:`check_writable`), or ``None``
    when the run writes nothing (``out`` is None)."""
    if out is None:
        return None
    check_writable(out)
    return SeedStore(record_path.with_suffix(".partial"), setting)
