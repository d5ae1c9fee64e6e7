"""``fashion``: the Fashion-MNIST subset shipped as package data (snnlab/data/fashion_subset), its provenance and
the script that built it."""
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from snnlab.data import fashion as fashion_module
from snnlab.data import get_dataset
from snnlab.data.cache import content_checksum, file_digest

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "snnlab" / "data" / "fashion_subset"


def test_shipped_file_matches_its_provenance():
    provenance = json.loads((FOLDER / "provenance.json").read_text())
    path = FOLDER / provenance["file"]
    assert path.stat().st_size == provenance["file_bytes"] <= 10_000_000
    assert file_digest(path) == provenance["file_sha256"]
    arrays = fashion_module.load_shipped_subset()
    assert content_checksum(arrays) == provenance["content_sha256"]
    assert provenance["licence"].startswith("MIT") and "zalandoresearch/fashion-mnist" in provenance["dataset"]
    assert len(provenance["source_sha256"]["tarball"]) == 64


def test_splits_are_balanced_disjoint_original_pixels():
    arrays = fashion_module.load_shipped_subset()
    for split, per_class in (("train", 1800), ("test", 600)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        assert images.dtype == np.uint8 and images.shape == (10 * per_class, 28, 28)
        assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10
    train = {hashlib.sha256(row.tobytes()).digest() for row in arrays["train_images"]}
    test = {hashlib.sha256(row.tobytes()).digest() for row in arrays["test_images"]}
    assert len(train) == 18000 and len(test) == 6000 and not train & test    # no image twice, none in both
    # every image comes from a distinct entry of the source package, of its own class
    sources = np.concatenate([arrays["train_source"], arrays["test_source"]])
    assert len({tuple(s) for s in sources}) == 24000
    assert (arrays["train_source"][:, 0] == arrays["train_labels"]).all()


def test_get_dataset_fashion_sizes_and_limits(private_data_dir):
    train, test = get_dataset("fashion", "train"), get_dataset("fashion", "test")     # found beside the package
    assert len(train) == 18000 and len(test) == 6000 and train.info.classes[9] == "Ankle boot"
    x, y = train[0]
    raw = fashion_module.load_shipped_subset()["train_images"][0]
    assert x.shape == (1, 28, 28) and torch.equal(x[0], torch.from_numpy(raw).float() / 255) and 0 <= int(y) < 10
    small = get_dataset("fashion", "train", size=16, train_limit=1000)
    assert small.tensors[0].shape == (1000, 1, 16, 16) and small.info.sample_shape == (1, 16, 16)
    assert torch.bincount(small.tensors[1]).tolist() == [100] * 10
    assert 0.0 <= float(small.tensors[0].min()) and float(small.tensors[0].max()) <= 1.0
    # antialiased resampling keeps each image's mean brightness
    test_16 = get_dataset("fashion", "test", size=16).tensors[0]
    assert torch.allclose(test_16.mean((1, 2, 3)), test.tensors[0].mean((1, 2, 3)), atol=0.02)
    assert torch.equal(get_dataset("fashion", "train", size=16, train_limit=1000).tensors[0], small.tensors[0])
    with pytest.raises(ValueError, match="size must be >= 8"):
        get_dataset("fashion", "train", size=4)
    with pytest.raises(ValueError, match="train_limit must be >= 10"):
        get_dataset("fashion", "train", train_limit=5)


def test_damaged_or_missing_subset_is_refused_with_the_file_name(tmp_path):
    copy = tmp_path / "fashion"
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("*.py"))
    provenance = json.loads((copy / "provenance.json").read_text())
    data = bytearray((copy / provenance["file"]).read_bytes())
    data[1000] ^= 0xFF
    (copy / provenance["file"]).write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{provenance['file']} has SHA-256 .* damaged"):
        get_dataset("fashion", "test", root=copy)
    (copy / provenance["file"]).unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        get_dataset("fashion", "test", root=copy)
    with pytest.raises(FileNotFoundError, match="no provenance.json"):
        get_dataset("fashion", "test", root=tmp_path / "elsewhere")


def _builder():
    spec = importlib.util.spec_from_file_location("build_subset", FOLDER / "build_subset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_builder_drops_duplicates_and_splits_per_class(tmp_path):
    """The script that made the shipped file, on a tiny package in the npm layout (two empty entries in class 0, a
    duplicate within a class, a duplicate pair with two labels)."""
    rng = np.random.default_rng(3)
    clothes = tmp_path / "package" / "src" / "clothes"
    clothes.mkdir(parents=True)
    images = {k: rng.integers(0, 256, (12, 784)).tolist() for k in range(10)}
    images[2][5] = images[2][4]                   # same label twice: one copy kept
    images[7][0] = images[3][0]                   # two labels: both dropped
    for k, rows in images.items():
        (clothes / f"{k}.json").write_text(json.dumps({"data": rows + ([[], []] if k == 0 else [])}))
    out = tmp_path / "out"
    provenance = _builder().build(tmp_path / "package", None, out, train_per_class=6, test_per_class=4, seed=0)
    assert provenance["pool"] == {"images": 120, "dropped_duplicates": 3}
    dataset = get_dataset("fashion", "train", root=out)
    assert len(dataset) == 60 and torch.bincount(dataset.tensors[1]).tolist() == [6] * 10
    arrays = fashion_module.load_shipped_subset(out)
    assert content_checksum(arrays) == provenance["content_sha256"]
    for split in ("train", "test"):                                   # pixels are the package's, unchanged
        for image, (k, j) in zip(arrays[f"{split}_images"], arrays[f"{split}_source"]):
            assert image.reshape(-1).tolist() == images[k][j]
    kept = {tuple(s) for s in np.concatenate([arrays["train_source"], arrays["test_source"]]).tolist()}
    assert not {(3, 0), (7, 0)} & kept and not {(2, 4), (2, 5)} <= kept
