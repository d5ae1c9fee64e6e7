"""Atomic file writes: a reader never sees a half-written checkpoint, cache or result."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

__all__ = ["atomic_path", "create_files", "atomic_torch_save", "atomic_write_json", "atomic_write_csv", "csv_text", "STALE_TEMPORARY_S"]

STALE_TEMPORARY_S = 3600.0
"""A temporary file of an atomic write older than this (seconds) was left by a killed writer and is removed."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporaries of earlier writes of ``path`` that a killed process left behind."""
    cutoff = time.time() - STALE_TEMPORARY_S
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:  # removed by another process meanwhile, or not ours to remove
            pass


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically, on error it is removed.

    The finished file gets the permissions any new file gets (``0o666`` less the process umask), not the private
    ``0o600`` of a temporary file, so a shared data or results folder stays readable; temporaries that killed
    writers left beside ``path`` more than :data:`STALE_TEMPORARY_S` ago are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def create_files(texts: dict[Path, str]) -> list[Path]:
    """Create the text files ``{path: text}`` together or not at all, never overwriting one.

    Each is written to a temporary file beside its place and hard-linked there (a link fails with
    ``FileExistsError`` on an existing file, so a file another writer created meanwhile is kept); a failure removes
    the files already created. Returns the paths created."""
    created: list[Path] = []
    try:
        for path, text in texts.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(text)
                os.chmod(tmp, 0o666 & ~_umask())
                os.link(tmp, path)
            finally:
                os.remove(tmp)
            created.append(path)
    except BaseException:
        for path in created:
            path.unlink()
        raise
    return created


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """``torch.save`` that never leaves a partial file behind."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def atomic_write_json(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    """``rows`` as CSV text with a header; ``columns`` default to every key in first-seen order, and a row without
    a column leaves its cell empty."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def atomic_write_csv(rows: list[dict], path: str | os.PathLike, columns: list[str] | None = None) -> None:
    """Write ``rows`` as CSV (:func:`csv_text`), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(csv_text(rows, columns))
