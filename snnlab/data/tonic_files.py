"""Where the real event data sets live on disk and how they get there: tonic's layouts, presence checks, download
and extraction.

Each :class:`Layout` records the folder tonic reads, how many extracted files mean "present" (tonic's own
thresholds), the archives and where to obtain them. :func:`ensure_files` checks for the extracted files, else (with
``download=True``) fetches tonic's archive with :func:`snnlab.data.download.fetch` (MD5-checked, atomically, with a
socket timeout) and extracts it through a staging folder, so an interrupted attempt leaves nothing the next one
trusts. When the files are missing and cannot be obtained, a :class:`FileNotFoundError` names the expected path, the
layout and where to get the files. Presence is judged from the extracted files without requiring the archive, so a
copy extracted by hand works and is never re-downloaded.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .download import DownloadError, Resource, fetch, safe_extract, verify

__all__ = ["Layout", "LAYOUTS", "NETWORK_TIMEOUT_S", "ensure_files", "open_tonic", "read_sample"]

NETWORK_TIMEOUT_S = 10.0
"""Socket timeout of every connection attempt and read of a download (offline machines fail in seconds)."""


@dataclass(frozen=True)
class Layout:
    """Where tonic expects one data set's files, and where they come from."""

    name: str
    tonic_class: str
    sensor_size: tuple[int, int]                 # (W, H) frames are built on
    extension: str                               # extracted file type tonic reads
    folders: dict[str, str]                      # split -> folder under root/<tonic_class> ("" = anywhere)
    min_files: dict[str, int]                    # split -> file count that means "extracted" (tonic's thresholds)
    archives: dict[str, str]                     # split -> archive file name (tonic's)
    layout: str                                  # human description of the layout
    source: str                                  # where to obtain the files by hand
    official_split: bool = True
    inner_archives: tuple[str, ...] = ()        # archives inside the download that must be extracted too
    classes: tuple[str, ...] = ()
    description: str = ""


LAYOUTS: dict[str, Layout] = {
    "dvs-gesture": Layout(
        name="dvs-gesture", tonic_class="DVSGesture", sensor_size=(128, 128), extension=".npy",
        folders={"train": "ibmGestureTrain", "test": "ibmGestureTest"},
        min_files={"train": 100, "test": 100},
        archives={"train": "ibmGestureTrain.tar.gz", "test": "ibmGestureTest.tar.gz"},
        layout="DVSGesture/ibmGestureTrain/user01_fluorescent/0.npy ... 10.npy (and ibmGestureTest/...): tonic's "
               "preprocessed copy, one int array [N, 4] = (x, y, p, t in ms) per gesture, named by its label",
        source="tonic's preprocessed archives ibmGestureTrain.tar.gz / ibmGestureTest.tar.gz "
               "(https://figshare.com/ndownloader/files/38022171 and .../38020584), extracted in place",
        classes=("hand clapping", "right hand wave", "left hand wave", "right arm clockwise",
                 "right arm counter-clockwise", "left arm clockwise", "left arm counter-clockwise", "arm roll",
                 "air drums", "air guitar", "other gestures"),
        description="IBM DVS128 Gesture (Amir et al. 2017): 11 hand/arm gestures, 29 subjects, 3 lighting "
                    "conditions; DVS128 sensor; real data via tonic"),
    "cifar10-dvs": Layout(
        name="cifar10-dvs", tonic_class="CIFAR10DVS", sensor_size=(128, 128), extension=".aedat4",
        folders={"train": "", "test": ""}, min_files={"train": 1000, "test": 1000},
        archives={"train": "CIFAR10DVS.zip", "test": "CIFAR10DVS.zip"},
        layout="CIFAR10DVS/airplane/*.aedat4 ... CIFAR10DVS/truck/*.aedat4: tonic's AEDAT4 conversion, one "
               "folder per class (read with the `aedat` package: pip install aedat)",
        source="tonic's CIFAR10DVS.zip (https://figshare.com/ndownloader/files/38023437), extracted, then each "
               "inner <class>.zip extracted in place",
        official_split=False,
        inner_archives=("airplane.zip", "automobile.zip", "bird.zip", "cat.zip", "deer.zip", "dog.zip",
                        "frog.zip", "horse.zip", "ship.zip", "truck.zip"),
        classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        description="CIFAR10-DVS (Li et al. 2017): 10,000 CIFAR-10 images moved on a monitor in front of a "
                    "DVS128, 10 classes; no official split; real data via tonic"),
    "n-caltech101": Layout(
        name="n-caltech101", tonic_class="NCALTECH101", sensor_size=(240, 180), extension=".bin",
        folders={"train": "Caltech101", "test": "Caltech101"}, min_files={"train": 8709, "test": 8709},
        archives={"train": "N-Caltech101-archive.zip", "test": "N-Caltech101-archive.zip"},
        layout="NCALTECH101/Caltech101/<class>/image_0001.bin: 40-bit ATIS event records "
               "(x, y, polarity + 23-bit time), one folder per class (BACKGROUND_Google included)",
        source="N-Caltech101-archive.zip (https://data.mendeley.com/datasets/cy6cvx3ryv, also "
               "https://www.garrickorchard.com/datasets/n-caltech101), extracted, then the inner Caltech101.zip",
        official_split=False, inner_archives=("Caltech101.zip",),
        description="N-Caltech101 (Orchard et al. 2015): Caltech101 images recorded with an ATIS sensor in three "
                    "saccades; 100 object classes + background; frames on a 240x180 canvas (recordings vary in "
                    "size; coordinates start at 0); no official split; real data via tonic"),
    "n-mnist": Layout(
        name="n-mnist", tonic_class="NMNIST", sensor_size=(34, 34), extension=".bin",
        folders={"train": "Train", "test": "Test"}, min_files={"train": 10000, "test": 10000},
        archives={"train": "train.zip", "test": "test.zip"},
        layout="NMNIST/Train/<digit>/<id>.bin and NMNIST/Test/<digit>/<id>.bin: 40-bit ATIS event records "
               "(x, y, polarity + 23-bit time), one folder per digit",
        source="train.zip / test.zip of N-MNIST (https://data.mendeley.com/datasets/468j46mzdv, also "
               "https://www.garrickorchard.com/datasets/n-mnist), extracted in place",
        classes=tuple(str(d) for d in range(10)),
        description="N-MNIST (Orchard et al. 2015): MNIST digits recorded with an ATIS sensor in three saccades, "
                    "34x34; official 60k/10k split; real data via tonic"),
}
"""The on-disk layout, presence rule and source of each set. ``min_files`` mirrors tonic's own thresholds."""


def _tonic_class(layout: Layout):
    import tonic.datasets as tds

    return getattr(tds, layout.tonic_class)


def _split_attr(cls, split: str, attr: str):
    """tonic's per-split class attribute (``train_url``/``test_url``...) or the shared one (``url``...)."""
    return getattr(cls, f"{split}_{attr}", None) or getattr(cls, attr)


def _location(root: Path, layout: Layout) -> Path:
    return root / layout.tonic_class


def _count_files(folder: Path, extension: str) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for _ in folder.rglob(f"*{extension}"))


def _present(root: Path, layout: Layout, split: str) -> bool:
    folder = _location(root, layout) / layout.folders[split]
    return _count_files(folder, layout.extension) >= layout.min_files[split]


def _missing_message(root: Path, layout: Layout, split: str, reason: str) -> str:
    folder = _location(root, layout) / layout.folders[split]
    found = _count_files(folder, layout.extension)
    return (f"{layout.name} ({split}) files not found: expected at least {layout.min_files[split]} "
            f"'*{layout.extension}' files under {folder} (found {found}); {reason}. "
            f"Expected layout under {root}: {layout.layout}. Get them from: {layout.source} "
            f"(or pass root=... pointing at the folder that contains {layout.tonic_class}/).")


def _extract(archive: Path, destination: Path) -> None:
    """Extract ``archive`` into ``destination`` through a staging folder (:func:`~snnlab.data.download.safe_extract`:
    no member lands outside it); entries appear only when complete."""
    staging = destination / f".staging-{archive.name}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        safe_extract(archive, staging)
        for entry in sorted(staging.iterdir()):
            target = destination / entry.name
            if target.is_dir() and entry.is_dir():
                # merge (a folder left by an earlier, interrupted run is replaced entry by entry)
                for sub in sorted(entry.iterdir()):
                    if (target / sub.name).is_dir():
                        shutil.rmtree(target / sub.name)
                    os.replace(sub, target / sub.name)
            else:
                if target.is_dir():
                    shutil.rmtree(target)
                os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_files(root: Path, layout: Layout, split: str, download: bool) -> None:
    """Make sure the extracted files are present: check, else download and extract, else FileNotFoundError."""
    if _present(root, layout, split):
        return
    location = _location(root, layout)
    if not download:
        raise FileNotFoundError(_missing_message(root, layout, split, "download=False"))
    cls = _tonic_class(layout)
    url, filename = _split_attr(cls, split, "url"), _split_attr(cls, split, "filename")
    md5 = getattr(cls, f"{split}_md5", None) or getattr(cls, "file_md5", None)
    archive = location / filename
    resource = Resource(filename, (url,), md5=md5)
    if archive.is_file():
        problem = verify(archive, resource)
        if problem is not None:
            raise FileNotFoundError(_missing_message(
                root, layout, split, f"the archive placed at {archive} does not match tonic's checksum ({problem}); "
                                     "it is damaged or another release: delete it and place the official file"))
    else:
        try:
            fetch(resource, location, timeout=NETWORK_TIMEOUT_S)
        except DownloadError as err:
            raise FileNotFoundError(_missing_message(root, layout, split, f"downloading failed ({err})")) from err
    try:
        _extract(archive, location)
        for inner in layout.inner_archives:
            for candidate in sorted(location.rglob(inner)):
                if ".staging-" not in str(candidate):
                    _extract(candidate, candidate.parent)
    except (OSError, EOFError, RuntimeError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise FileNotFoundError(_missing_message(
            root, layout, split, f"extracting {archive} failed ({err}); delete it if it is damaged")) from err
    if not _present(root, layout, split):
        raise FileNotFoundError(_missing_message(
            root, layout, split, f"{archive} was extracted but the expected files are still missing "
                                 f"(delete the archive if it is damaged)"))


def open_tonic(root: Path, layout: Layout, split: str):
    """tonic's dataset over the verified files; tonic's own existence check (which needs the archive) is skipped."""
    cls = _tonic_class(layout)
    trusting = type(cls.__name__, (cls,), {"_check_exists": lambda self: True})  # same name: same folder
    kwargs = {"train": split == "train"} if layout.official_split else {}
    return trusting(save_to=str(root), **kwargs)


def read_sample(dataset, index: int):
    """``dataset[index]`` of a tonic dataset, with an actionable error when a file reader is not installed."""
    try:
        return dataset[index]
    except ModuleNotFoundError as err:
        if err.name == "aedat":
            raise ImportError("reading CIFAR10-DVS's .aedat4 files needs the `aedat` package: pip install aedat") \
                from err
        raise
    except (OSError, ValueError, EOFError) as err:  # a damaged or foreign recording file
        files = getattr(dataset, "data", None)
        where = files[index] if isinstance(files, (list, tuple)) and index < len(files) else f"sample {index}"
        raise ValueError(f"{where} cannot be read as a recording of {type(dataset).__name__} ({err}); the file is "
                         "damaged: delete the extracted folder and extract the official archive again") from err
