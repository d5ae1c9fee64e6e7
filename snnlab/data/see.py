"""``see``: the Single-eye Event-based Emotion (SEE) data set, read from its released folder layout.

SEE (Zhang et al., *In the Blink of an Eye: Event-based Emotion Recognition*, SIGGRAPH 2023; data at
http://www.dluticcd.com/, layout in github.com/zhanghaiwei1234/Single-eye-Emotion-Recognition,
``Dataset_Instructions.md``) holds 2,405 DAVIS346 recordings of a volunteer's right eye (111 volunteers) showing one
of 7 emotions under 4 lighting conditions (normal, overexposure, low light, HDR); 1,638 sequences train, 767 test.
Each sequence is released twice as a folder of JPGs named ``00000.jpg, 00001.jpg, ...``: intensity (APS) frames
under ``frame/`` and event frames (events accumulated over 33 ms, one per APS frame) under ``event/``::

    root/
      emotion.json                      {"labels": [...], "database": {seq: {"subset": "training"|"testing",
                                          "annotations": {"label": "angry", "segment": [start, end]}}}}
      event/<emotion>/<sequence>/00000.jpg ...
      frame/<emotion>/<sequence>/00000.jpg ...

A sequence name is ``[seq#]_[ID]_[sex]_[age]_[degree]_[lighting]_[emotion]_[length]_[take#]``, e.g.
``1_001_man_24_Master_normal_angry_45_take000``; the lighting token (``normal``, ``Overexposed``, ``Low``, ``HDR``)
gives the per-sample condition. Clips follow SEEN (the authors' network): frames are subsampled with stride
``stride`` from a random phase, then ``timesteps`` consecutive subsampled frames are cropped at a random position
(looped when the sequence is too short), at training and test time alike; the paper's metrics average 20 test
passes, which ``test_seed`` makes reproducible (one seed per pass). Used by MSKD (Wang et al., IJCAI 2024).
"""
from __future__ import annotations

import importlib.util
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .cache import data_root
from .download import missing_files_error
from .events import time_major_collate
from .registry import DatasetInfo, register_dataset

__all__ = ["SEE", "see", "EMOTIONS", "CONDITIONS", "lighting_condition", "clip_indices"]

EMOTIONS = ("angry", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
"""The 7 SEE emotions, in the class order used when ``emotion.json`` has no ``labels`` list."""

CONDITIONS = ("normal", "overexposure", "low-light", "HDR")
"""The 4 lighting conditions, as snnlab names them."""

_CONDITION_TOKENS = {"normal": "normal", "overexposed": "overexposure", "overexposure": "overexposure",
                     "low": "low-light", "lowlight": "low-light", "low-light": "low-light", "hdr": "HDR"}

# SEEN's input statistics (code/mean.py), used when normalize=True.
_FRAME_MEAN, _FRAME_STD = 0.22616537, 0.118931554
_EVENT_MEAN, _EVENT_STD = 0.504413, 0.06928615

_LAYOUT = ("  {root}/{annotation}\n  {root}/{event_dir}/<emotion>/<sequence>/00000.jpg ...\n"
           "  {root}/{frame_dir}/<emotion>/<sequence>/00000.jpg ...")
_SOURCE = ("http://www.dluticcd.com/ (the SEE release; layout described in "
           "https://github.com/zhanghaiwei1234/Single-eye-Emotion-Recognition/blob/main/Dataset_Instructions.md)")


def lighting_condition(sequence: str) -> str:
    """The lighting condition of a sequence name: its 4th field from the end (``..._HDR_angry_42_take000``)."""
    parts = sequence.split("_")
    token = parts[-4].lower() if len(parts) >= 4 else ""
    if token not in _CONDITION_TOKENS:
        raise ValueError(f"cannot read a lighting condition from sequence name {sequence!r} "
                         f"(expected [seq#]_[ID]_[sex]_[age]_[degree]_[lighting]_[emotion]_[length]_[take#])")
    return _CONDITION_TOKENS[token]


def clip_indices(frames: list[int], timesteps: int, stride: int, generator: torch.Generator | None = None) -> list[int]:
    """``timesteps`` frame indices from the sorted ``frames`` of a sequence, as SEEN samples a clip.

    1. subsample: ``frames[o::stride]`` from a random phase ``o`` in ``[0, stride)`` (kept below ``len(frames)``);
    2. crop: ``timesteps`` consecutive subsampled frames from a uniformly random start;
    3. loop: a clip shorter than ``timesteps`` repeats itself (``[a, b] -> [a, b, a, b]``).

    (SEEN's own code draws the phase from ``{0, ..., 4}`` and the start from ``[0, len - timesteps - 1]``, which never
    picks the last possible window; snnlab uses the full ranges.)
    """
    if not frames:
        raise ValueError("a sequence with no frames has no clip")
    phase = int(torch.randint(0, min(stride, len(frames)), (), generator=generator))
    sub = frames[phase::stride]
    start = int(torch.randint(0, max(len(sub) - timesteps, 0) + 1, (), generator=generator))
    clip = sub[start:start + timesteps]
    return [clip[i % len(clip)] for i in range(timesteps)]


def _frame_numbers(folder: Path) -> set[int]:
    return {int(p.stem) for p in folder.iterdir() if p.suffix.lower() == ".jpg" and p.stem.isdigit()}


def _class_folders(base: Path) -> dict[str, Path]:
    """Emotion folders of ``base`` by lower-case name (the release spells one folder ``neutraL``)."""
    return {p.name.lower(): p for p in base.iterdir() if p.is_dir()} if base.is_dir() else {}


class SEE(Dataset):
    """SEE sequences served as ``({"frames": [T, 1, H, W], "events": [T, C, H, W]}, label)`` float32 clips.

    ``frames`` are grey-level intensity frames, ``events`` the accumulated event frames (``C`` = 1 grey or 3 RGB
    channels as stored), values in [0, 1] or standardised with SEEN's statistics. Per-sample metadata:
    ``sequences`` (names), ``conditions`` (lighting, one of :data:`CONDITIONS`), ``labels``. A training set draws a
    fresh random clip at every access (torch's global RNG, seeded per DataLoader worker); a test set draws clip
    ``index`` from a generator seeded with ``(test_seed, index)``, so a pass is reproducible and passes with
    different ``test_seed`` differ. Batches collate time-major: ``collate_fn`` gives ``{key: [T, N, ...]}``.
    """

    collate_fn = staticmethod(time_major_collate)

    def __init__(self, records: list[dict], classes: tuple[str, ...], timesteps: int, stride: int,
                 size: int | None, event_channels: int, normalize: bool, train: bool, test_seed: int):
        self.records, self.classes = records, classes
        self.timesteps, self.stride, self.size = timesteps, stride, size
        self.event_channels, self.normalize, self.train, self.test_seed = event_channels, normalize, train, test_seed
        self.sequences = [r["sequence"] for r in records]
        self.conditions = [r["condition"] for r in records]
        self.labels = torch.tensor([r["label"] for r in records], dtype=torch.long)
        self.info: DatasetInfo | None = None   # set by the ``see`` builder

    def __len__(self) -> int:
        return len(self.records)

    def _load(self, path: Path, mode: str) -> torch.Tensor:
        from PIL import Image

        try:
            with Image.open(path) as image:
                image = image.convert(mode)
                if self.size is not None and image.size != (self.size, self.size):
                    image = image.resize((self.size, self.size), Image.BILINEAR)
                array = np.asarray(image, dtype=np.float32) / 255.0
        except OSError as err:  # PIL.UnidentifiedImageError, truncated files
            raise ValueError(f"{path} is not a readable image ({err}); replace it with the data set's file") from err
        return torch.from_numpy(array.reshape(*array.shape[:2], -1)).permute(2, 0, 1)

    def clip(self, index: int) -> list[int]:
        """The frame numbers of sample ``index``'s clip at this access (random in training, seeded at test)."""
        if self.train:
            generator = None
        else:
            seed = int(np.random.SeedSequence([self.test_seed, index]).generate_state(1, np.uint64)[0] >> 1)
            generator = torch.Generator().manual_seed(seed)
        return clip_indices(self.records[index]["frames"], self.timesteps, self.stride, generator)

    def __getitem__(self, index: int):
        record = self.records[index]
        numbers = self.clip(index)
        frames = torch.stack([self._load(record["frame_dir"] / f"{n:05d}.jpg", "L") for n in numbers])
        mode = "L" if self.event_channels == 1 else "RGB"
        events = torch.stack([self._load(record["event_dir"] / f"{n:05d}.jpg", mode) for n in numbers])
        if self.normalize:
            frames = (frames - _FRAME_MEAN) / _FRAME_STD
            events = (events - _EVENT_MEAN) / _EVENT_STD
        return {"frames": frames, "events": events}, self.labels[index]


def _read_records(root: Path, annotation: str, event_dir: str, frame_dir: str, subset: str,
                  layout: str) -> tuple[list[dict], tuple[str, ...]]:
    """The sequences of ``subset`` whose frame and event folders exist, with their frame numbers and metadata."""
    annotation_path = root / annotation
    needed = (annotation_path, root / event_dir, root / frame_dir)
    missing = [str(p.relative_to(root)) for p in needed if not p.exists()]
    if missing:
        raise missing_files_error("SEE", root, missing, layout, _SOURCE, downloadable=False)
    try:
        spec = json.loads(annotation_path.read_text())
    except ValueError as err:
        raise ValueError(f"{annotation_path} is not valid JSON ({err}); restore SEE's emotion.json") from err
    if not isinstance(spec, dict) or "database" not in spec:
        raise ValueError(f"{annotation_path} has no 'database' entry; expected SEE's emotion.json format")
    classes = tuple(spec.get("labels") or EMOTIONS)
    index = {c.lower(): i for i, c in enumerate(classes)}
    folders = {"event_dir": _class_folders(root / event_dir), "frame_dir": _class_folders(root / frame_dir)}
    records, skipped = [], []
    for sequence, entry in spec["database"].items():
        if entry.get("subset") != subset:
            continue
        label = entry["annotations"]["label"]
        if label.lower() not in index:
            raise ValueError(f"{annotation_path}: sequence {sequence} has label {label!r}, not one of {classes}")
        dirs = {key: found[label.lower()] / sequence for key, found in folders.items() if label.lower() in found}
        if len(dirs) < 2 or not all(d.is_dir() for d in dirs.values()):
            skipped.append(sequence)
            continue
        start, end = entry["annotations"].get("segment", (0, None))
        present = _frame_numbers(dirs["event_dir"]) & _frame_numbers(dirs["frame_dir"])
        frames = sorted(n for n in present if n >= start and (end is None or n < end))
        if not frames:
            skipped.append(sequence)
            continue
        records.append({"sequence": sequence, "label": index[label.lower()], "condition": lighting_condition(sequence),
                        "frames": frames, **dirs})
    if skipped:
        warnings.warn(f"SEE: {len(skipped)} {subset} sequence(s) listed in {annotation} have no frame/event JPGs "
                      f"under {root} and are skipped (first: {skipped[0]})", RuntimeWarning, stacklevel=3)
    if not records:
        raise missing_files_error("SEE", root, [f"the {subset} sequences of {annotation}"], layout, _SOURCE,
                                  downloadable=False)
    return records, classes


@register_dataset("see")
def see(split: str, root: str | os.PathLike | None = None, timesteps: int = 4, stride: int = 4, size: int | None = 90,
        event_channels: int = 1, normalize: bool = False, test_seed: int = 0, annotation: str = "emotion.json",
        event_dir: str = "event", frame_dir: str = "frame") -> SEE:
    """The SEE data set (Zhang et al., SIGGRAPH 2023) from its released folders under ``root``.

    ``root`` defaults to ``data_root()/see``; the split (``"training"``/``"testing"``) comes from ``annotation``
    (SEEN's code names its copy ``emotion_new_adjust2.json`` and its event folder ``event_30``: pass those names if
    your copy uses them). A clip is ``timesteps`` frames subsampled with ``stride`` (SEEN: T=4, stride 4; see
    :func:`clip_indices`); images are resized to ``size`` x ``size`` (SEEN: 90; ``None`` keeps the stored size).
    ``event_channels`` is 1 (grey) or 3 (RGB, as SEEN's loader reads the JPGs). ``normalize`` standardises with
    SEEN's statistics (frames 0.2262 / 0.1189, events 0.5044 / 0.0693). ``test_seed`` selects the test clips.
    Samples are ``({"frames": [T, 1, H, W], "events": [T, C, H, W]}, label)``; use ``dataset.collate_fn``.
    """
    if timesteps < 1 or stride < 1:
        raise ValueError(f"timesteps and stride must be >= 1, got timesteps={timesteps}, stride={stride}")
    if event_channels not in (1, 3):
        raise ValueError(f"event_channels must be 1 (grey) or 3 (RGB), got {event_channels}")
    if size is not None and size < 1:
        raise ValueError(f"size must be a positive number of pixels or None, got {size}")
    if importlib.util.find_spec("PIL") is None:
        raise ImportError("reading SEE's JPG frames needs Pillow: pip install pillow")
    root = Path(root) if root is not None else data_root() / "see"
    layout = _LAYOUT.format(root=root, annotation=annotation, event_dir=event_dir, frame_dir=frame_dir)
    records, classes = _read_records(root, annotation, event_dir, frame_dir,
                                     "training" if split == "train" else "testing", layout)
    dataset = SEE(records, classes, timesteps, stride, size, event_channels, normalize, split == "train", test_seed)
    height, width = dataset._load(records[0]["frame_dir"] / f"{records[0]['frames'][0]:05d}.jpg", "L").shape[-2:] \
        if size is None else (size, size)
    counts = {c: dataset.conditions.count(c) for c in CONDITIONS}
    dataset.info = DatasetInfo(
        name="see", classes=classes, sample_shape=(timesteps, 1, height, width), time_major=True,
        description="SEE single-eye emotion recordings (Zhang et al. 2023), real DAVIS346 intensity + event frames",
        extra={"root": str(root), "modalities": {"frames": (timesteps, 1, height, width),
                                                 "events": (timesteps, event_channels, height, width)},
               "conditions": CONDITIONS, "condition_counts": counts, "timesteps": timesteps, "stride": stride,
               "normalize": normalize, "test_seed": test_seed})
    return dataset
