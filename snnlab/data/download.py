"""Checksummed downloads for the real data sets: nothing partial or unverified is ever left in the data folder.

A :class:`Resource` is one official file (archive or raw file) with its mirrors and its SHA-256 (or, where the
publisher gives only that, MD5). :func:`fetch` streams it, with a progress bar, into a temporary file beside its
destination, verifies the digest, and only then renames it into place
(:func:`snnlab.io.atomic_path`); a failed or corrupt download leaves nothing behind. :func:`extract_tar` unpacks an
archive into a temporary folder and renames the finished folder into place. Network calls use a short socket
timeout, so an offline machine fails in seconds with a clear :class:`DownloadError`; data set builders turn that into
a :class:`FileNotFoundError` naming the expected layout and where to obtain the files (:func:`missing_files_error`).
"""
from __future__ import annotations

import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from pathlib import Path

from ..io import atomic_path
from .cache import file_digest

__all__ = ["Resource", "DownloadError", "fetch", "verify", "safe_extract", "extract_tar", "missing_files_error", "TIMEOUT_S"]

MAX_EXPANSION = 100
"""The most an archive may expand (unpacked bytes per archive byte; the official archives stay far below it): more
is a decompression bomb, refused before anything is written."""
MAX_MEMBERS = 500_000
"""The most members an archive may hold (N-MNIST, the largest official one, holds 70,000 files)."""
MAX_NAME_BYTES = 255
"""The longest file or folder name a member may have (the limit of common file systems)."""

TIMEOUT_S = 15.0
"""Socket timeout (seconds) of every connection attempt and read: offline machines fail fast instead of hanging."""


class DownloadError(OSError):
    """A resource could not be obtained from any mirror (network failure or checksum mismatch)."""


@dataclass(frozen=True)
class Resource:
    """One official file: its name on disk, the URLs serving it (tried in order) and its digest.

    ``sha256`` is checked when given, else ``md5`` (some publishers, and tonic, list only MD5); a resource with
    neither is accepted unverified.
    """

    filename: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None

    @property
    def digest(self) -> tuple[str, str] | None:
        """``(algorithm, hex digest)`` used to verify the file, or ``None``."""
        if self.sha256:
            return "sha256", self.sha256
        return ("md5", self.md5) if self.md5 else None


def verify(path: Path, resource: Resource) -> str | None:
    """``None`` if ``path`` matches the resource's digest, else what is wrong with it."""
    if resource.digest is None:
        return None
    algorithm, expected = resource.digest
    got = file_digest(path, algorithm)
    label = {"sha256": "SHA-256", "md5": "MD5"}[algorithm]
    return None if got == expected else f"{label} mismatch (got {got}, expected {expected})"


def _open_url(url: str, timeout: float):
    """Open ``url`` for reading (the single network entry point; tests replace it to stay offline)."""
    request = urllib.request.Request(url, headers={"User-Agent": "snnlab"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310  (https URLs from this module)


def _copy_with_progress(response, handle, name: str) -> None:
    from tqdm.auto import tqdm

    with tqdm(total=getattr(response, "length", None), unit="B", unit_scale=True, desc=f"download {name}",
              file=sys.stderr) as bar:
        while block := response.read(1 << 20):
            handle.write(block)
            bar.update(len(block))


def fetch(resource: Resource, folder: str | os.PathLike, timeout: float = TIMEOUT_S) -> Path:
    """``folder/resource.filename``, downloaded and verified unless a file with the right digest is already there.

    A present file with a wrong digest (truncated or corrupt) is replaced. Mirrors are tried in order; each
    download goes to a temporary file that is renamed into place only after its digest matched, so an interrupted
    or corrupt download leaves no file. Raises :class:`DownloadError` listing every mirror's failure.
    """
    path = Path(folder) / resource.filename
    placed_problem = verify(path, resource) if path.is_file() else None
    if path.is_file() and placed_problem is None:
        return path
    failures = [f"the file already at {path} is not the official one ({placed_problem})"] if placed_problem else []
    for url in resource.urls:
        try:
            with atomic_path(path) as tmp:
                print(f"snnlab: downloading {url} -> {path}", file=sys.stderr)
                with _open_url(url, timeout) as response, open(tmp, "wb") as handle:
                    _copy_with_progress(response, handle, resource.filename)
                problem = verify(tmp, resource)
                if problem is not None:
                    raise DownloadError(problem)
            return path
        except (OSError, ValueError, http.client.HTTPException) as err:  # URLError, timeouts, DownloadError: OSError
            failures.append(f"{url}: {err}")
    raise DownloadError(f"could not download {resource.filename}: " + "; ".join(failures))


def _check_member(archive: Path, name: str) -> None:
    """Refuse a zip member that would be written outside the extraction folder."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise DownloadError(f"archive {archive} holds the member {name!r}, which would be written outside the "
                            "folder it is extracted to; refusing to extract it")


def _check_members(archive: Path, members: list[tuple[str, int]]) -> None:
    """Refuse an archive of ``(name, unpacked size)`` members with more than :data:`MAX_MEMBERS` members, a name
    part longer than :data:`MAX_NAME_BYTES`, or that unpacks to more than :data:`MAX_EXPANSION` times its size."""
    problem = None
    if len(members) > MAX_MEMBERS:
        problem = f"holds {len(members):,} members, more than the {MAX_MEMBERS:,} allowed"
    long = next((name for name, _ in members
                 if any(len(part.encode()) > MAX_NAME_BYTES for part in PurePosixPath(name).parts)), None)
    if long is not None:
        problem = f"holds a member whose name has a part longer than {MAX_NAME_BYTES} bytes ({long[:60]!r}...)"
    unpacked, packed = sum(size for _, size in members), archive.stat().st_size
    if unpacked > MAX_EXPANSION * max(packed, 1) + 2**20:
        problem = (f"would unpack {packed:,} bytes into {unpacked:,} (more than {MAX_EXPANSION}x: a decompression "
                   "bomb)")
    if problem:
        raise DownloadError(f"archive {archive} {problem}; refusing to extract it: delete it and obtain the official "
                            "file")


def safe_extract(archive: str | os.PathLike, folder: str | os.PathLike) -> None:
    """Extract a zip or tar archive into ``folder``, refusing members that would land outside it.

    Tar archives use tarfile's ``data`` filter (no absolute paths, no ``..``, no links leaving the folder, no
    device files); zip members with an absolute path, a drive or a ``..`` component are refused before anything is
    written. An archive with too many members, too long a name or too large an expansion (:data:`MAX_MEMBERS`,
    :data:`MAX_NAME_BYTES`, :data:`MAX_EXPANSION`) and a damaged or truncated one raise :class:`DownloadError`
    before anything is written (a truncated tar may be found only on the way), as do other formats.
    """
    archive = Path(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                for info in handle.infolist():
                    _check_member(archive, info.filename)
                _check_members(archive, [(info.filename, info.file_size) for info in handle.infolist()])
                handle.extractall(folder)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as handle:
                _check_members(archive, [(member.name, member.size) for member in handle.getmembers()])
                try:
                    handle.extractall(folder, filter="data")
                except tarfile.FilterError as err:
                    raise DownloadError(f"archive {archive}: {err}; refusing to extract it") from err
        else:
            raise DownloadError(f"archive {archive} is damaged or truncated, or neither a zip nor a tar archive; "
                                "delete it and download (or place) it again")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
        raise DownloadError(f"archive {archive} is damaged or truncated ({_first_line(err)}); delete it and download "
                            "(or place) it again") from err


def extract_tar(archive: str | os.PathLike, member: str, destination: str | os.PathLike) -> Path:
    """Extract the top-level folder ``member`` of a tar archive to ``destination`` (a folder path), atomically.

    The archive is unpacked into a temporary folder beside ``destination`` (with tarfile's ``data`` filter, which
    rejects absolute paths, links out of the tree and device files); the extracted ``member`` is renamed to
    ``destination`` only once complete, and the temporary folder is always removed.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent))
    try:
        safe_extract(archive, tmp)
        extracted = tmp / member
        if not extracted.is_dir():
            raise DownloadError(f"archive {archive} has no top-level folder {member!r}")
        os.replace(extracted, destination)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return destination


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]


def missing_files_error(dataset: str, where: Path, missing: list[str], layout: str, source: str,
                        reason: str | None = None, downloadable: bool = True) -> FileNotFoundError:
    """The error a builder raises when its files are absent: what is missing, the expected layout, where to get it,
    and why an automatic download did not help (``reason``) or how to enable it (``downloadable``)."""
    lines = [f"{dataset}: files not found under {where} (missing: {', '.join(missing)}).",
             f"Expected layout:\n{layout}", f"Obtain the files from {source}."]
    if reason:
        lines.append(f"Automatic download failed: {reason}")
    elif downloadable:
        lines.append("Pass download=True to download them (needs network access), or place them by hand.")
    return FileNotFoundError("\n".join(lines))
