"""Real-data readers (CIFAR-10/100, MNIST, SEE) on tiny fakes in the exact on-disk formats; downloads; WAR/UAR."""
import dataclasses
import gzip
import hashlib
import io
import json
import pickle
import struct
import tarfile
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from snnlab import metrics
from snnlab.data import download, get_dataset, see as see_module, static_sets
from snnlab.data.see import clip_indices, lighting_condition
from snnlab.data.static_sets import random_crop_flip, read_idx


# ----------------------------------------------------------------------------------------------- fakes
def _pickle(obj, path):
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)


def make_cifar(folder, hundred=False, per_batch=6, seed=0):
    """A CIFAR python-version folder: pickled dicts with bytes keys, as the official (Python 2) files load."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    n_classes = 100 if hundred else 10
    names = ["train", "test"] if hundred else [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    batches = {}
    for name in names:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, n_classes, per_batch).tolist()
        batch = {b"batch_label": f"fake {name}".encode(), b"data": data,
                 b"filenames": [f"img{i}.png".encode() for i in range(per_batch)]}
        if hundred:
            batch.update({b"fine_labels": labels, b"coarse_labels": [(x + 7) % 20 for x in labels]})
        else:
            batch[b"labels"] = labels
        _pickle(batch, folder / name)
        batches[name] = (data, labels)
    if hundred:
        _pickle({b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                 b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}, folder / "meta")
    else:
        _pickle({b"label_names": [f"class{i}".encode() for i in range(10)], b"num_cases_per_batch": per_batch,
                 b"num_vis": 3072}, folder / "batches.meta")
    return batches


def idx_bytes(array):
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype.type], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def make_mnist(root, n_train=5, n_test=3):
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n, gz in (("train", n_train, True), ("t10k", n_test, False)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = root / f"{prefix}-{kind}-ubyte"
            if gz:
                with gzip.open(f"{path}.gz", "wb") as handle:
                    handle.write(idx_bytes(array))
            else:
                path.write_bytes(idx_bytes(array))
        out[prefix] = (images, labels)
    return out


class _Responses:
    """Replaces download._open_url: serves the given bytes (or raises) and counts calls."""

    def __init__(self, payload):
        self.payload, self.calls = payload, 0

    def __call__(self, url, timeout):
        self.calls += 1
        if isinstance(self.payload, Exception):
            raise self.payload
        return io.BytesIO(self.payload)


def _offline(monkeypatch):
    opener = _Responses(urllib.error.URLError("network unreachable (test)"))
    monkeypatch.setattr(download, "_open_url", opener)
    return opener


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# ----------------------------------------------------------------------------------------------- CIFAR
def test_cifar10_reads_batches_labels_and_class_names(tmp_path):
    batches = make_cifar(tmp_path / "cifar-10-batches-py")
    train = get_dataset("cifar10", "train", root=tmp_path, download=False, augment=False)
    test = get_dataset("cifar10", "test", root=tmp_path, download=False)
    assert len(train) == 30 and len(test) == 6
    assert train.info.classes == tuple(f"class{i}" for i in range(10)) and train.info.sample_shape == (3, 32, 32)
    data, labels = batches["data_batch_2"]
    x, y = train[6 + 4]                       # 5th image of the second batch
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y.item() == labels[4]
    expected = torch.from_numpy(data[4].reshape(3, 32, 32).astype(np.float32) / 255)  # R, G, B planes
    assert torch.equal(x, expected)
    assert test.augment is False and torch.equal(test[0][0], torch.from_numpy(
        batches["test_batch"][0][0].reshape(3, 32, 32).astype(np.float32) / 255))


def test_cifar_normalize_and_augment(tmp_path):
    make_cifar(tmp_path / "cifar-10-batches-py")
    plain = get_dataset("cifar10", "test", root=tmp_path, download=False)
    norm = get_dataset("cifar10", "test", root=tmp_path, download=False, normalize=True)
    mean, std = torch.tensor(norm.info.extra["mean"]).view(3, 1, 1), torch.tensor(norm.info.extra["std"]).view(3, 1, 1)
    assert torch.allclose(norm[1][0], (plain[1][0] - mean) / std)
    train = get_dataset("cifar10", "train", root=tmp_path, download=False)
    assert train.augment and train.info.extra["augment"]
    assert train[0][0].shape == (3, 32, 32)


def test_random_crop_flip_is_a_padded_crop_or_its_mirror():
    image = torch.rand(3, 8, 8)
    padded = torch.nn.functional.pad(image, (2, 2, 2, 2))
    torch.manual_seed(0)
    seen_flip = set()
    for _ in range(40):
        out = random_crop_flip(image, padding=2)
        matches = [(t, l, f) for t in range(5) for l in range(5) for f in (False, True)
                   if torch.equal(out, (padded[:, t:t + 8, l:l + 8].flip(-1) if f else padded[:, t:t + 8, l:l + 8]))]
        assert matches
        seen_flip.update(m[2] for m in matches)
    assert seen_flip == {False, True}


def test_cifar100_uses_fine_labels_and_names(tmp_path):
    batches = make_cifar(tmp_path / "cifar-100-python", hundred=True)
    train = get_dataset("cifar100", "train", root=tmp_path, download=False, augment=False)
    assert train.info.num_classes == 100 and train.info.classes[:2] == ("fine0", "fine1")
    assert train.labels.tolist() == batches["train"][1]
    assert len(get_dataset("cifar100", "test", root=tmp_path, download=False)) == 6


def test_cifar_missing_files_error_names_layout_and_source(tmp_path, monkeypatch):
    opener = _offline(monkeypatch)
    with pytest.raises(FileNotFoundError) as err:
        get_dataset("cifar10", "train", root=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in message and "data_batch_1" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar" in message and opener.calls == 0
    with pytest.raises(FileNotFoundError, match="Automatic download failed.*network unreachable"):
        get_dataset("cifar100", "test", root=tmp_path)
    assert opener.calls == 1 and _files(tmp_path) == []


def _fake_archive(tmp_path):
    """A fake cifar-10-python.tar.gz (bytes) and the batches inside it."""
    src = tmp_path / "src"
    batches = make_cifar(src / "cifar-10-batches-py", seed=3)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return buffer.getvalue(), batches


def test_cifar_download_verifies_checksum_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    archive, batches = _fake_archive(tmp_path)
    monkeypatch.setattr(static_sets, "CIFAR10_ARCHIVE", dataclasses.replace(
        static_sets.CIFAR10_ARCHIVE, sha256=hashlib.sha256(archive).hexdigest()))
    root = tmp_path / "data"
    monkeypatch.setattr(download, "_open_url", _Responses(archive[:-10] + b"corrupted!"))
    with pytest.raises(FileNotFoundError, match="SHA-256 mismatch"):
        get_dataset("cifar10", "test", root=root)
    assert _files(root) == []                                   # no archive, no temp file, no half folder
    opener = _Responses(archive)
    monkeypatch.setattr(download, "_open_url", opener)
    test = get_dataset("cifar10", "test", root=root)
    assert opener.calls == 1 and test.labels.tolist() == batches["test_batch"][1]
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    _offline(monkeypatch)                                      # later calls need no network
    assert len(get_dataset("cifar10", "train", root=root)) == 30


def test_placed_archive_is_verified_and_extracted_offline(tmp_path, monkeypatch):
    archive, _ = _fake_archive(tmp_path)
    monkeypatch.setattr(static_sets, "CIFAR10_ARCHIVE", dataclasses.replace(
        static_sets.CIFAR10_ARCHIVE, sha256=hashlib.sha256(archive).hexdigest()))
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-python.tar.gz").write_bytes(archive)
    opener = _offline(monkeypatch)
    assert len(get_dataset("cifar10", "test", root=root)) == 6 and opener.calls == 0


def test_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, *args):
            if self.tell() > 0:
                raise TimeoutError("read timed out (test)")
            return super().read(4)

    monkeypatch.setattr(download, "_open_url", lambda url, timeout: Broken(b"0123456789"))
    resource = download.Resource("file.bin", ("https://example.invalid/file.bin",), "0" * 64)
    with pytest.raises(download.DownloadError, match="timed out"):
        download.fetch(resource, tmp_path)
    assert _files(tmp_path) == []


# ----------------------------------------------------------------------------------------------- MNIST
def test_mnist_reads_idx_plain_and_gz(tmp_path):
    arrays = make_mnist(tmp_path)
    train = get_dataset("mnist", "train", root=tmp_path, download=False)   # .gz files
    test = get_dataset("mnist", "test", root=tmp_path, download=False)     # plain files
    assert (len(train), len(test)) == (5, 3) and train.info.sample_shape == (1, 28, 28)
    x, y = test[2]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[0], torch.from_numpy(arrays["t10k"][0][2].astype(np.float32) / 255))
    assert train.labels.tolist() == arrays["train"][1].tolist() and train.labels.dtype == torch.int64
    norm = get_dataset("mnist", "test", root=tmp_path, download=False, normalize=True)
    assert torch.allclose(norm[2][0], (x - 0.1307) / 0.3081)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.arange(6, dtype=np.int32).reshape(2, 3))
    (tmp_path / "ok").write_bytes(good)
    assert read_idx(tmp_path / "ok").tolist() == [[0, 1, 2], [3, 4, 5]]
    (tmp_path / "magic").write_bytes(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(good[:-1])
    with pytest.raises(ValueError, match="header says"):
        read_idx(tmp_path / "short")


def test_mnist_download_and_offline_error(tmp_path, monkeypatch):
    opener = _offline(monkeypatch)
    with pytest.raises(FileNotFoundError) as err:
        get_dataset("mnist", "test", root=tmp_path / "m")
    assert "t10k-images-idx3-ubyte" in str(err.value) and str(tmp_path / "m") in str(err.value)
    assert opener.calls == 2 and _files(tmp_path / "m") == []          # both mirrors tried, nothing left
    images, labels = np.zeros((2, 28, 28), np.uint8), np.array([3, 9], np.uint8)
    payloads = {"t10k-images-idx3-ubyte": gzip.compress(idx_bytes(images)),
                "t10k-labels-idx1-ubyte": gzip.compress(idx_bytes(labels))}
    for name, payload in payloads.items():
        monkeypatch.setitem(static_sets.MNIST_FILES, name, dataclasses.replace(
            static_sets.MNIST_FILES[name], sha256=hashlib.sha256(payload).hexdigest()))
    monkeypatch.setattr(download, "_open_url", lambda url, timeout: io.BytesIO(
        payloads[url.rsplit("/", 1)[1][:-3]]))
    assert get_dataset("mnist", "test", root=tmp_path / "m").labels.tolist() == [3, 9]


# ----------------------------------------------------------------------------------------------- SEE
SEQUENCES = {  # name: (emotion folder, label, subset, number of frames)
    "1_001_man_24_Master_normal_angry_45_take000": ("angry", "angry", "training", 20),
    "2_002_woman_22_Master_Overexposed_fear_30_take000": ("fear", "fear", "training", 9),
    "3_003_man_21_undergraduate_Low_neutral_31_take001": ("neutraL", "neutral", "training", 3),
    "4_004_man_21_undergraduate_HDR_angry_42_take000": ("angry", "angry", "testing", 16),
    "5_005_woman_20_undergraduate_normal_surprise_40_take002": ("surprise", "surprise", "testing", 12),
}


def _jpg(path, value, size=(16, 12), rgb=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB" if rgb else "L", size, (value, value, value) if rgb else value)
    image.save(path, quality=95)


def make_see(root, missing=()):
    """SEE's released layout; frame n of a sequence has grey level 10*n + 20 (events: 10*n + 25)."""
    database = {}
    for name, (folder, label, subset, n) in SEQUENCES.items():
        database[name] = {"subset": subset, "annotations": {"label": label, "segment": [0, n]}}
        if name in missing:
            continue
        for i in range(n):
            _jpg(root / "frame" / folder / name / f"{i:05d}.jpg", 10 * i + 20)
            _jpg(root / "event" / folder / name / f"{i:05d}.jpg", 10 * i + 25, rgb=True)
    labels = ["angry", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    (root / "emotion.json").write_text(json.dumps({"labels": labels, "database": database}))


def _frame_numbers(clip, offset=20):
    """Recover the frame numbers from the grey levels written by make_see."""
    levels = clip.mean(dim=(-3, -2, -1)) * 255
    numbers = ((levels - offset) / 10).round()
    assert torch.allclose(levels, numbers * 10 + offset, atol=2.5)
    return numbers.long().tolist()


def test_see_samples_labels_conditions(tmp_path):
    make_see(tmp_path)
    train = get_dataset("see", "train", root=tmp_path, size=None)
    assert len(train) == 3 and train.info.time_major and train.info.sample_shape == (4, 1, 12, 16)
    assert train.info.classes[4] == "neutral" and train.labels.tolist() == [0, 2, 4]
    assert train.conditions == ["normal", "overexposure", "low-light"]
    assert train.info.extra["condition_counts"] == {"normal": 1, "overexposure": 1, "low-light": 1, "HDR": 0}
    sample, label = train[0]
    assert set(sample) == {"frames", "events"} and label.item() == 0
    assert sample["frames"].shape == (4, 1, 12, 16) and sample["events"].shape == (4, 1, 12, 16)
    assert sample["frames"].dtype == torch.float32 and 0 <= sample["frames"].min() <= sample["frames"].max() <= 1
    numbers = _frame_numbers(sample["frames"])
    assert numbers == _frame_numbers(sample["events"], offset=25)       # both modalities show the same frames
    assert all(b - a == 4 for a, b in zip(numbers, numbers[1:]))        # stride 4, consecutive after subsampling
    short = _frame_numbers(train[2][0]["frames"])                       # 3 frames, stride 4: one frame, looped
    assert len(set(short)) == 1 and short[0] in (0, 1, 2)


def test_see_resize_channels_normalize_and_collate(tmp_path):
    make_see(tmp_path)
    test = get_dataset("see", "test", root=tmp_path, size=8, event_channels=3, timesteps=2, stride=3)
    assert test.conditions == ["HDR", "normal"] and test.info.extra["modalities"]["events"] == (2, 3, 8, 8)
    loader = DataLoader(test, batch_size=2, collate_fn=test.collate_fn)
    batch, labels = next(iter(loader))
    assert batch["frames"].shape == (2, 2, 1, 8, 8) and batch["events"].shape == (2, 2, 3, 8, 8)
    assert labels.tolist() == [0, 6]
    norm = get_dataset("see", "test", root=tmp_path, size=8, event_channels=3, timesteps=2, stride=3, normalize=True)
    assert torch.allclose(norm[0][0]["frames"], (test[0][0]["frames"] - 0.22616537) / 0.118931554, atol=1e-6)


def test_see_test_clips_are_seeded(tmp_path):
    make_see(tmp_path)
    first = get_dataset("see", "test", root=tmp_path, size=4)
    again = get_dataset("see", "test", root=tmp_path, size=4)
    assert all(torch.equal(first[i][0]["frames"], again[i][0]["frames"]) for i in range(len(first)))
    clips = {tuple(get_dataset("see", "test", root=tmp_path, size=4, test_seed=s).clip(0)) for s in range(10)}
    assert len(clips) > 1                                               # passes with other seeds differ


def test_clip_indices_cover_every_window():
    frames = list(range(10))
    generator = torch.Generator().manual_seed(0)
    clips = {tuple(clip_indices(frames, 2, 3, generator)) for _ in range(300)}
    # phase 0: [0,3,6,9] -> 3 windows; phase 1: [1,4,7] -> 2; phase 2: [2,5,8] -> 2
    assert clips == {(0, 3), (3, 6), (6, 9), (1, 4), (4, 7), (2, 5), (5, 8)}
    assert clip_indices([7], 3, 4) == [7, 7, 7]
    with pytest.raises(ValueError):
        clip_indices([], 4, 4)


def test_see_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        get_dataset("see", "train", root=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value) and "emotion.json" in str(err.value)
    make_see(tmp_path, missing={"2_002_woman_22_Master_Overexposed_fear_30_take000"})
    with pytest.warns(RuntimeWarning, match="1 training sequence"):
        train = get_dataset("see", "train", root=tmp_path)
    assert len(train) == 2
    with pytest.raises(ValueError, match="lighting condition"):
        lighting_condition("1_001_man_24_Master_dusk_angry_45_take000")
    assert see_module.EMOTIONS[0] == "angry"


def test_see_corrupt_annotation_and_frames_name_the_file(tmp_path):
    make_see(tmp_path)
    (tmp_path / "emotion.json").write_text('{"labels": [')
    with pytest.raises(ValueError, match="emotion.json is not valid JSON"):
        get_dataset("see", "train", root=tmp_path)
    make_see(tmp_path)
    sequence = tmp_path / "frame" / "angry" / "1_001_man_24_Master_normal_angry_45_take000"
    for frame in sequence.glob("*.jpg"):
        frame.write_bytes(b"not a jpeg")
    train = get_dataset("see", "train", root=tmp_path)
    with pytest.raises(ValueError, match=f"{sequence}/0000[0-9].jpg is not a readable image"):
        [train[i] for i in range(len(train))]


# ----------------------------------------------------------------------------------------------- metrics
def test_war_uar_per_condition_by_hand():
    targets = [0, 0, 0, 1, 1, 2]
    preds = [0, 0, 1, 1, 0, 0]
    assert metrics.war(preds, targets) == pytest.approx(3 / 6)
    # recalls: class 0 -> 2/3, class 1 -> 1/2, class 2 -> 0/1; class 3 is absent and excluded
    assert metrics.uar(preds, targets, num_classes=4) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    recall = metrics.per_class_recall(preds, targets, 4)
    assert recall[:3].tolist() == pytest.approx([2 / 3, 1 / 2, 0]) and np.isnan(recall[3])
    logits = torch.nn.functional.one_hot(torch.tensor(preds), 4).float() * 5 - 1
    assert metrics.uar(logits, torch.tensor(targets), 4) == pytest.approx(7 / 18)
    conditions = ["normal", "HDR", "normal", "HDR", "low-light", "normal"]
    assert metrics.per_condition_accuracy(preds, targets, conditions) == pytest.approx(
        {"normal": 1 / 3, "HDR": 1.0, "low-light": 0.0})
    with pytest.raises(ValueError):
        metrics.war([0, 1], [0])


# ----------------------------------------------------------------------------------------------- Fashion-MNIST
def make_fashion_mnist(root, monkeypatch, n_train=6, n_test=4):
    """The four official IDX gzip files (tiny), with the loader's MD5 table pointed at their digests."""
    from snnlab.data import fashion

    rng = np.random.default_rng(2)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays = {"images-idx3": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  "labels-idx1": rng.integers(0, 10, n).astype(np.uint8)}
        for kind, array in arrays.items():
            name = f"{prefix}-{kind}-ubyte.gz"
            payload = gzip.compress(idx_bytes(array))
            (root / name).write_bytes(payload)
            monkeypatch.setitem(fashion.FASHION_MNIST_FILES, name, dataclasses.replace(
                fashion.FASHION_MNIST_FILES[name], md5=hashlib.md5(payload).hexdigest()))
        out[prefix] = arrays
    return out


def test_fashion_mnist_official_checksums_are_the_readme_md5s():
    from snnlab.data.fashion import FASHION_MNIST_FILES

    assert FASHION_MNIST_FILES["train-images-idx3-ubyte.gz"].md5 == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert FASHION_MNIST_FILES["t10k-labels-idx1-ubyte.gz"].md5 == "bb300cfdad3c16e7a12a480ee83cd310"
    assert all(r.urls[0].endswith(r.filename) for r in FASHION_MNIST_FILES.values())


def test_fashion_mnist_reads_verified_idx_files(tmp_path, monkeypatch):
    arrays = make_fashion_mnist(tmp_path / "f", monkeypatch)
    train = get_dataset("fashion-mnist", "train", root=tmp_path / "f", download=False)
    test = get_dataset("fashion-mnist", "test", root=tmp_path / "f", download=False, normalize=True)
    assert len(train) == 6 and len(test) == 4 and train.info.classes[0] == "T-shirt/top"
    x, y = train[2]
    assert x.shape == (1, 28, 28) and torch.equal(x[0], torch.from_numpy(arrays["train"]["images-idx3"][2]) / 255.0)
    assert int(y) == arrays["train"]["labels-idx1"][2]
    x, _ = test[0]
    expected = (torch.from_numpy(arrays["t10k"]["images-idx3"][0]).float() / 255.0 - 0.2860) / 0.3530
    assert torch.allclose(x[0], expected, atol=1e-6)


def test_fashion_mnist_refuses_a_foreign_file_and_names_it(tmp_path, monkeypatch):
    make_fashion_mnist(tmp_path / "f", monkeypatch)
    path = tmp_path / "f" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(4, np.uint8))))            # valid IDX, not the release
    with pytest.raises(ValueError, match=f"{path} is not the official file .*MD5 mismatch"):
        get_dataset("fashion-mnist", "test", root=tmp_path / "f", download=False)


def test_fashion_mnist_missing_files_fail_fast_offline(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as err:
        get_dataset("fashion-mnist", "train", root=tmp_path / "none", download=False)
    message = str(err.value)
    assert str(tmp_path / "none") in message and "train-images-idx3-ubyte.gz" in message
    assert "zalandoresearch/fashion-mnist" in message and "download=True" in message
    opener = _offline(monkeypatch)
    with pytest.raises(FileNotFoundError, match="Automatic download failed"):
        get_dataset("fashion-mnist", "test", root=tmp_path / "none")
    assert opener.calls == 1 and _files(tmp_path / "none") == []
