"""The tonic-backed real event sets on tiny fake copies written in the exact on-disk formats tonic reads.

Formats replicated (see snnlab.data.tonic_files.LAYOUTS):
* N-MNIST / N-Caltech101: ATIS ``.bin`` files, 5 bytes per event — x, y, (polarity << 7 | t[22:16]), t[15:8],
  t[7:0] — and ``y == 240`` records for timestamp overflow, in ``NMNIST/{Train,Test}/<digit>/`` and
  ``NCALTECH101/Caltech101/<class>/``.
* DVS-Gesture: tonic's preprocessed ``DVSGesture/ibmGesture{Train,Test}/userNN_<lighting>/<label>.npy``, an int
  array ``[N, 4]`` of (x, y, p, t in ms).
* CIFAR10-DVS: uncompressed AEDAT4 (``#!AER-DAT4.0`` magic, IOHE flatbuffer header with the dv XML description,
  size-prefixed EVTS event packets) in ``CIFAR10DVS/<class>/*.aedat4``; decoded with the ``aedat`` package where it
  is installed, else tonic's reader is replaced by a lookup of the same events.

tonic counts extracted files (>= 100 ... 10000) to decide a copy is present; the fake copies are small, so the
tests lower ``LAYOUTS[...].min_files`` (``test_dvs_gesture_copy_satisfies_tonic_itself`` checks a full-size fake
against tonic's own rule).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import socket
import struct
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import snnlab.data.tonic_sets as ts
from snnlab.data import get_dataset


# ------------------------------------------------------------------------------------------- format writers
def atis_bin(x, y, t, p, overflow_at_end: bool = True) -> bytes:
    """N-MNIST/N-Caltech101 records; an overflow record (y = 240) at the end must not become an event."""
    out = bytearray()
    for xi, yi, ti, pi in zip(x, y, t, p):
        assert 0 <= ti < 2 ** 23
        out += bytes([xi, yi, (pi << 7) | ((ti >> 16) & 0x7F), (ti >> 8) & 0xFF, ti & 0xFF])
    if overflow_at_end:
        out += bytes([0, 240, 0, 0, 0])
    return bytes(out)


def _aedat4_header(width: int, height: int) -> bytes:
    description = (f'<dv version="2.0"><node name="outInfo"><node name="0">'
                   f'<attr key="typeIdentifier" type="string">EVTS</attr><node name="info">'
                   f'<attr key="sizeX" type="int">{width}</attr><attr key="sizeY" type="int">{height}</attr>'
                   f'</node></node></node></dv>').encode()
    buf = bytearray()
    buf += struct.pack("<I", 24) + b"IOHE"                      # root table at 24
    buf += struct.pack("<HHHHH", 10, 20, 4, 8, 16)              # vtable at 8: 3 fields
    buf += b"\0" * (24 - len(buf))
    buf += struct.pack("<iiqI", 24 - 8, 0, -1, 44 - 40)         # table: vtable, compression=None, fdp=-1, str
    buf += struct.pack("<I", len(description)) + description + b"\0"
    buf += b"\0" * (-len(buf) % 4)
    return b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(buf)) + bytes(buf)


def _aedat4_packet(t, x, y, p) -> bytes:
    n = len(t)
    body = bytearray()
    # positions counted from the start of the size prefix: root offset at 4, identifier at 8, vtable at 12,
    # table at 20 (vtable, offset to the vector), vector length at 28, 16-byte Event structs from 32 (8-aligned)
    body += struct.pack("<I", 20 - 4) + b"EVTS"
    body += struct.pack("<HHH", 6, 8, 4) + b"\0\0"
    body += struct.pack("<iI", 20 - 12, 28 - 24)
    body += struct.pack("<I", n)
    for ti, xi, yi, pi in zip(t, x, y, p):
        body += struct.pack("<qhhB3x", ti, xi, yi, pi)
    payload = struct.pack("<I", len(body)) + bytes(body)        # size-prefixed flatbuffer
    return struct.pack("<II", 0, len(payload)) + payload


def aedat4(t, x, y, p, width=128, height=128) -> bytes:
    return _aedat4_header(width, height) + _aedat4_packet(t, x, y, p)


# ---------------------------------------------------------------------------------------------- fake copies
def _sample_events(rng, n, sensor, t_span):
    w, h = sensor
    t = np.sort(rng.choice(np.arange(t_span), size=n, replace=False))
    return rng.integers(0, w, n), rng.integers(0, h, n), t, rng.integers(0, 2, n)


def make_nmnist(root: Path, per_class=2, classes=3, seed=0):
    """``root/NMNIST/{Train,Test}/<d>/<id>.bin``; returns {split: [(path, label, (x, y, t, p))]}."""
    rng = np.random.default_rng(seed)
    truth = {}
    for split, folder in (("train", "Train"), ("test", "Test")):
        truth[split] = []
        for d in range(classes):
            for k in range(per_class):
                ev = _sample_events(rng, 20 + 5 * k + d, (34, 34), 300_000)
                path = root / "NMNIST" / folder / str(d) / f"{k:05d}.bin"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(atis_bin(*[a.tolist() for a in ev]))
                truth[split].append((path, d, ev))
    return truth


def make_ncaltech(root: Path, classes=("accordion", "airplanes", "BACKGROUND_Google"), per_class=10, seed=1):
    rng = np.random.default_rng(seed)
    truth = []
    for c in classes:
        for k in range(per_class):
            x, y, t, p = _sample_events(rng, 30, (200, 150), 250_000)
            x, y = x + 3, y + 5          # tonic shifts coordinates so that each recording starts at 0
            path = root / "NCALTECH101" / "Caltech101" / c / f"image_{k + 1:04d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(atis_bin(x.tolist(), y.tolist(), t.tolist(), p.tolist()))
            truth.append((path, c, (x - x.min(), y - y.min(), t, p)))
    return truth


def make_gesture(root: Path, users=(1, 2), lighting=("fluorescent", "lab"), labels=range(11), seed=2,
                 archive=False):
    rng = np.random.default_rng(seed)
    truth = {}
    for split, folder in (("train", "ibmGestureTrain"), ("test", "ibmGestureTest")):
        truth[split] = []
        for u in users:
            for light in lighting:
                for label in labels:
                    n = 25 + label
                    x, y = rng.integers(0, 128, n), rng.integers(0, 128, n)
                    t_ms = np.sort(rng.integers(0, 900, n)) + 5_000     # ms, arbitrary start
                    p = rng.integers(0, 2, n)
                    path = root / "DVSGesture" / folder / f"user{u:02d}_{light}" / f"{label}.npy"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    np.save(path, np.stack([x, y, p, t_ms], axis=1).astype(np.int64))
                    truth[split].append((path, label, (x, y, (t_ms - t_ms.min()) * 1000, p)))
        if archive:
            (root / "DVSGesture" / f"{folder}.tar.gz").write_bytes(b"")
    return truth


CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def make_cifar(root: Path, per_class=10, seed=3):
    rng = np.random.default_rng(seed)
    truth = []
    for c in CIFAR_CLASSES:
        for k in range(per_class):
            x, y, t, p = _sample_events(rng, 40, (128, 128), 400_000)
            t = t + 1_000_000
            path = root / "CIFAR10DVS" / c / f"cifar10_{c}_{k}.aedat4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(aedat4(t.tolist(), x.tolist(), y.tolist(), p.tolist()))
            truth.append((path, CIFAR_CLASSES.index(c), (x, y, t - t.min(), p)))
    return truth


@pytest.fixture
def small_thresholds(monkeypatch):
    for name, layout in ts.LAYOUTS.items():
        monkeypatch.setitem(ts.LAYOUTS, name, dataclasses.replace(layout, min_files={"train": 1, "test": 1}))


@pytest.fixture
def offline(monkeypatch):
    """No network: a connection attempt fails at once (and is recorded)."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return attempts


@pytest.fixture
def cifar_reader(monkeypatch):
    """Real AEDAT4 decoding with ``aedat`` when installed; else tonic's reader answers from the written events."""
    try:
        import aedat  # noqa: F401
        return "aedat"
    except ImportError:
        pass
    import tonic.datasets.cifar10dvs as module

    table = {}

    def fake_read(path):
        x, y, t, p = table[str(path)]
        out = np.empty(len(t), dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])
        out["t"], out["x"], out["y"], out["on"] = t, x, y, p
        return out

    monkeypatch.setattr(module, "read_aedat4", fake_read)
    return table


def expected_frames(x, y, t, p, shape, bin_of):
    """Independent count of events per (frame, polarity, y, x)."""
    frames = np.zeros(shape, np.float32)
    for xi, yi, ti, pi in zip(x, y, t, p):
        b = bin_of(ti)
        if 0 <= b < shape[0]:
            frames[b, pi, yi, xi] += 1
    return frames


# ------------------------------------------------------------------------------------------------- tests
def test_registered():
    from snnlab.data import dataset_names

    assert {"dvs-gesture", "cifar10-dvs", "n-caltech101", "n-mnist"} <= set(dataset_names())


def test_atis_writer_matches_tonic_reader(tmp_path):
    from tonic.io import read_mnist_file

    path = tmp_path / "a.bin"
    path.write_bytes(atis_bin([1, 33, 7], [2, 0, 33], [0, 70_000, 8_000_000], [1, 0, 1]))
    ev = read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    assert ev["x"].tolist() == [1, 33, 7] and ev["y"].tolist() == [2, 0, 33]
    assert ev["t"].tolist() == [0, 70_000, 8_000_000] and ev["p"].tolist() == [1, 0, 1]


def test_aedat4_writer_decodes_with_aedat(tmp_path):
    aedat = pytest.importorskip("aedat")
    path = tmp_path / "a.aedat4"
    path.write_bytes(aedat4([5, 9, 1_000_000], [1, 127, 3], [0, 4, 127], [1, 0, 1]))
    packets = [pk["events"] for pk in aedat.Decoder(str(path)) if "events" in pk]
    ev = np.concatenate(packets)
    assert ev["t"].tolist() == [5, 9, 1_000_000] and ev["x"].tolist() == [1, 127, 3]
    assert ev["y"].tolist() == [0, 4, 127] and ev["on"].tolist() == [True, False, True]


def test_n_mnist_frames_golden(tmp_path, small_thresholds, offline):
    truth = make_nmnist(tmp_path)
    for split in ("train", "test"):
        ds = get_dataset("n-mnist", split, root=tmp_path, frames=4, download=False)
        assert len(ds) == len(truth[split]) and ds.info.sample_shape == (4, 2, 34, 34)
        assert ds.info.time_major and ds.info.extra["sensor_size"] == (34, 34)
        by_path = {str(p): (label, ev) for p, label, ev in truth[split]}
        for i in range(len(ds)):
            frames, label = ds[i]
            want_label, (x, y, t, p) = by_path[str(ds.paths[i])]
            assert frames.dtype == torch.float32 and frames.shape == (4, 2, 34, 34)
            assert int(label) == want_label
            assert frames.sum().item() == len(t)       # the overflow record is not an event
            span = (t.max() - t.min() + 1) / 4
            want = expected_frames(x, y, t - t.min(), p, (4, 2, 34, 34), lambda ti: int(ti // span))
            np.testing.assert_array_equal(frames.numpy(), want)
    assert offline == []                               # never touched the network


def test_time_window_slicing_and_downsampling(tmp_path, small_thresholds, offline):
    truth = make_nmnist(tmp_path)
    ds = get_dataset("n-mnist", "test", root=tmp_path, time_window_us=50_000, max_frames=3, size=17,
                     download=False, cache=False)
    assert ds.info.sample_shape == (3, 2, 17, 17)
    assert ds.info.extra["slicing"]["time_window_us"] == 50_000
    by_path = {str(p): ev for p, _, ev in truth["test"]}
    for i in range(len(ds)):
        frames, _ = ds[i]
        x, y, t, p = by_path[str(ds.paths[i])]
        t = t - t.min()
        assert frames.shape == (3, 2, 17, 17)
        assert frames.sum().item() == int((t < 150_000).sum())     # the first 3 windows of 50 ms are kept
        want = expected_frames(x // 2, y // 2, t, p, (3, 2, 17, 17), lambda ti: int(ti // 50_000))
        np.testing.assert_array_equal(frames.numpy(), want)
    # a window longer than the recording pads with empty frames
    long = get_dataset("n-mnist", "test", root=tmp_path, time_window_us=100_000, max_frames=8, download=False,
                       cache=False)
    frames, _ = long[0]
    assert frames.shape[0] == 8 and frames[3:].sum() == 0


def test_collate_time_major(tmp_path, small_thresholds):
    make_nmnist(tmp_path)
    ds = get_dataset("n-mnist", "train", root=tmp_path, frames=5, size=(16, 12), download=False)
    x, y = next(iter(DataLoader(ds, batch_size=4, collate_fn=ds.collate_fn)))
    assert x.shape == (5, 4, 2, 16, 12) and x.dtype == torch.float32 and y.shape == (4,)


def test_pickles_without_frames_or_tonic_dataset(tmp_path, small_thresholds, monkeypatch):
    """DataLoader workers (spawn) get a light copy that reopens the cache; cached samples never touch tonic."""
    make_nmnist(tmp_path)
    ds = get_dataset("n-mnist", "train", root=tmp_path, frames=3, download=False)
    reference = [ds[i][0] for i in range(len(ds))]
    blob = pickle.dumps(ds)
    assert len(blob) < ds.cache_path.stat().st_size
    copy = pickle.loads(blob)
    with monkeypatch.context() as patch:
        patch.setattr(ts, "open_tonic", lambda *a: pytest.fail("reopened tonic for a cached sample"))
        assert all(torch.equal(copy[i][0], reference[i]) for i in range(len(copy)))
    uncached = get_dataset("n-mnist", "train", root=tmp_path, frames=3, download=False, cache=False)
    clone = pickle.loads(pickle.dumps(uncached))
    assert clone._source is None and torch.equal(clone[2][0], reference[2])


def test_split_by_number(tmp_path, small_thresholds):
    truth = make_nmnist(tmp_path)
    ds = get_dataset("n-mnist", "train", root=tmp_path, frames=4, split_by="number", download=False)
    by_path = {str(p): ev for p, _, ev in truth["train"]}
    for i in range(len(ds)):
        frames, _ = ds[i]
        n = len(by_path[str(ds.paths[i])][2])
        per_frame = frames.sum(dim=(1, 2, 3)).tolist()
        assert per_frame == [n // 4] * 3 + [n - 3 * (n // 4)]


@pytest.mark.parametrize("split_by", ["time", "number"])
def test_merged_polarities(tmp_path, small_thresholds, split_by):
    """polarity="merge": one channel per frame holding the events of both polarities, counted independently; the
    merged frames are cached apart from the split ones."""
    truth = make_nmnist(tmp_path)
    split = get_dataset("n-mnist", "train", root=tmp_path, frames=4, split_by=split_by, download=False)
    merged = get_dataset("n-mnist", "train", root=tmp_path, frames=4, split_by=split_by, polarity="merge",
                         download=False)
    assert merged.info.sample_shape == (4, 1, 34, 34) and merged.cache_path != split.cache_path
    assert merged.info.extra["polarity"] == "merge"
    by_path = {str(p): ev for p, _, ev in truth["train"]}
    for i in range(len(merged)):
        frames, _ = merged[i]
        x, y, t, p = by_path[str(merged.paths[i])]
        assert frames.shape == (4, 1, 34, 34)
        if split_by == "time":
            span = (t.max() - t.min() + 1) / 4
            want = expected_frames(x, y, t - t.min(), np.zeros_like(p), (4, 1, 34, 34), lambda ti: int(ti // span))
            np.testing.assert_array_equal(frames.numpy(), want)
        np.testing.assert_array_equal(frames.numpy(), split[i][0].sum(1, keepdim=True).numpy())
    with pytest.raises(ValueError, match="polarity must be one of"):
        get_dataset("n-mnist", "train", root=tmp_path, frames=4, polarity="on", download=False)


def test_dvs_gesture_golden(tmp_path, small_thresholds, offline):
    truth = make_gesture(tmp_path, labels=range(3))
    ds = get_dataset("dvs-gesture", "train", root=tmp_path, time_window_us=300_000, max_frames=2, size=32,
                     download=False)
    assert ds.info.num_classes == 11 and ds.info.sample_shape == (2, 2, 32, 32)
    assert len(ds) == len(truth["train"])
    by_path = {str(p): (label, ev) for p, label, ev in truth["train"]}
    for i in range(len(ds)):
        frames, label = ds[i]
        want_label, (x, y, t, p) = by_path[str(ds.paths[i])]
        assert int(label) == want_label
        want = expected_frames(x // 4, y // 4, t, p, (2, 2, 32, 32), lambda ti: int(ti // 300_000))
        np.testing.assert_array_equal(frames.numpy(), want)


def test_dvs_gesture_copy_satisfies_tonic_itself(tmp_path, monkeypatch):
    """A full-size fake copy (>= 100 npy files + the archive) is 'present' by tonic's own rule and ours."""
    import tonic.datasets

    make_gesture(tmp_path, users=(1, 2, 3, 4, 5), lighting=("fluorescent", "lab"), archive=True)
    monkeypatch.setattr(tonic.datasets.DVSGesture, "download", lambda self: pytest.fail("tonic wanted to download"))
    native = tonic.datasets.DVSGesture(save_to=str(tmp_path), train=True)
    assert len(native) == 110
    ds = get_dataset("dvs-gesture", "train", root=tmp_path, frames=2, size=16, download=False, cache=False)
    assert len(ds) == 110 and sorted(ds.labels.tolist()) == sorted(native.targets)


@pytest.mark.parametrize("name", ["cifar10-dvs", "n-caltech101"])
def test_stratified_split(tmp_path, small_thresholds, cifar_reader, name):
    truth = make_cifar(tmp_path) if name == "cifar10-dvs" else make_ncaltech(tmp_path)
    if isinstance(cifar_reader, dict):
        cifar_reader.update({str(p): ev for p, _, ev in truth})
    train = get_dataset(name, "train", root=tmp_path, frames=2, size=16, download=False)
    test = get_dataset(name, "test", root=tmp_path, frames=2, size=16, download=False)
    n_classes = len({c for _, c, _ in truth})
    assert train.info.num_classes == n_classes
    assert len(train) == 9 * n_classes and len(test) == n_classes          # 9:1 of 10 per class
    assert set(train.indices.tolist()).isdisjoint(test.indices.tolist())
    assert np.bincount(test.labels.numpy()).tolist() == [1] * n_classes
    again = get_dataset(name, "test", root=tmp_path, frames=2, size=16, download=False)
    assert again.indices.tolist() == test.indices.tolist()
    other = get_dataset(name, "test", root=tmp_path, frames=2, size=16, download=False, seed=1)
    ordered = get_dataset(name, "test", root=tmp_path, frames=2, size=16, download=False, seed=None)
    assert other.indices.tolist() != test.indices.tolist()
    names = [Path(path).name for path in ordered.paths]
    assert all(n.endswith(("_9.aedat4", "image_0010.bin")) for n in names)   # file order: the last 10%


def test_cifar10_dvs_golden(tmp_path, small_thresholds, cifar_reader):
    truth = make_cifar(tmp_path)
    if isinstance(cifar_reader, dict):
        cifar_reader.update({str(p): ev for p, _, ev in truth})
    ds = get_dataset("cifar10-dvs", "train", root=tmp_path, preset="tet", download=False)
    assert ds.info.sample_shape == (10, 2, 48, 48) and ds.info.classes == CIFAR_CLASSES
    by_path = {str(p): (label, ev) for p, label, ev in truth}
    for i in range(0, len(ds), 7):
        frames, label = ds[i]
        want_label, (x, y, t, p) = by_path[str(ds.paths[i])]
        assert int(label) == want_label and frames.shape == (10, 2, 48, 48)
        idx = np.arange(len(t))
        want = expected_frames((x * 48) // 128, (y * 48) // 128, idx, p, (10, 2, 48, 48), lambda k: k // 4)
        np.testing.assert_array_equal(frames.numpy(), want)      # 40 events -> 10 frames of 4 events


def test_n_caltech101_golden(tmp_path, small_thresholds):
    truth = make_ncaltech(tmp_path)
    ds = get_dataset("n-caltech101", "test", root=tmp_path, frames=3, download=False)
    assert ds.info.classes == ("BACKGROUND_Google", "accordion", "airplanes")
    assert ds.info.sample_shape == (3, 2, 180, 240)
    by_path = {str(p): (c, ev) for p, c, ev in truth}
    for i in range(len(ds)):
        frames, label = ds[i]
        c, (x, y, t, p) = by_path[str(ds.paths[i])]
        assert ds.info.classes[int(label)] == c
        span = (t.max() - t.min() + 1) / 3
        want = expected_frames(x, y, t - t.min(), p, (3, 2, 180, 240), lambda ti: int(ti // span))
        np.testing.assert_array_equal(frames.numpy(), want)


def test_presets_and_bad_options(tmp_path, small_thresholds):
    make_gesture(tmp_path, labels=range(2))
    ds = get_dataset("dvs-gesture", "test", root=tmp_path, preset="tssd", download=False, cache=False)
    assert ds.info.sample_shape == (16, 2, 32, 32) and ds.info.extra["slicing"]["time_window_us"] == 30_000
    assert ds[0][0].shape == (16, 2, 32, 32)
    override = get_dataset("dvs-gesture", "test", root=tmp_path, preset="tssd", max_frames=4, download=False,
                           cache=False)
    assert override.info.sample_shape == (4, 2, 32, 32)
    assert ts.preset_options("cifar10-dvs", "tssd") == dict(time_window_us=10_000, max_frames=16, size=42)
    with pytest.raises(ValueError, match="unknown preset"):
        get_dataset("dvs-gesture", "test", root=tmp_path, preset="tet", download=False)
    with pytest.raises(ValueError, match="max_frames"):
        get_dataset("dvs-gesture", "test", root=tmp_path, time_window_us=30_000, download=False)
    with pytest.raises(ValueError, match="exactly one"):
        get_dataset("dvs-gesture", "test", root=tmp_path, frames=4, time_window_us=30_000, max_frames=2,
                    download=False)


def test_frame_cache_reused_and_repaired(tmp_path, small_thresholds, monkeypatch):
    make_nmnist(tmp_path)
    first = get_dataset("n-mnist", "train", root=tmp_path, frames=3, download=False)
    reference = torch.stack([first[i][0] for i in range(len(first))])
    cache = first.cache_path
    assert cache.exists() and cache.with_suffix(".json").exists() and cache.parent == tmp_path / "frames"

    calls = []
    real = ts.frame_events

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("frames were recomputed although the cache is valid")

    monkeypatch.setattr(ts, "frame_events", forbidden)
    second = get_dataset("n-mnist", "train", root=tmp_path, frames=3, download=False)
    assert torch.equal(torch.stack([second[i][0] for i in range(len(second))]), reference)

    # other framing options -> another entry
    monkeypatch.setattr(ts, "frame_events", counting)
    get_dataset("n-mnist", "train", root=tmp_path, frames=2, download=False)
    assert len(calls) == len(first)

    # one corrupted sample: recomputed on access and repaired in place
    calls.clear()
    raw = bytearray(cache.read_bytes())
    raw[-10] ^= 0xFF
    cache.write_bytes(bytes(raw))
    third = get_dataset("n-mnist", "train", root=tmp_path, frames=3, download=False)
    assert calls == []
    with pytest.warns(RuntimeWarning, match="checksum"):
        assert torch.equal(third[len(third) - 1][0], reference[-1])
    assert len(calls) == 1
    monkeypatch.setattr(ts, "frame_events", forbidden)
    fourth = get_dataset("n-mnist", "train", root=tmp_path, frames=3, download=False)
    assert torch.equal(fourth[len(fourth) - 1][0], reference[-1])          # the file was repaired

    # a truncated file: rebuilt at construction
    cache.write_bytes(cache.read_bytes()[:200])
    monkeypatch.setattr(ts, "frame_events", counting)
    calls.clear()
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        fifth = get_dataset("n-mnist", "train", root=tmp_path, frames=3, download=False)
    assert len(calls) == len(first)
    assert torch.equal(torch.stack([fifth[i][0] for i in range(len(fifth))]), reference)
    assert not list(cache.parent.glob(".*.tmp"))                           # no temporary files left


def test_cache_is_rebuilt_when_the_copy_changes(tmp_path, small_thresholds):
    make_nmnist(tmp_path, classes=2)
    a = get_dataset("n-mnist", "test", root=tmp_path, frames=2, download=False)
    make_nmnist(tmp_path, classes=3)
    with pytest.warns(RuntimeWarning, match="source files changed"):
        b = get_dataset("n-mnist", "test", root=tmp_path, frames=2, download=False)
    assert len(b) > len(a) and b[len(b) - 1][0].shape == (2, 2, 34, 34)


@pytest.mark.parametrize("name", ["dvs-gesture", "cifar10-dvs", "n-caltech101", "n-mnist"])
def test_missing_files_fail_fast(tmp_path, offline, name):
    root = tmp_path / "nowhere"
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as err:
        get_dataset(name, "train", root=root, download=False)
    message = str(err.value)
    layout = ts.LAYOUTS[name]
    assert str(root / layout.tonic_class) in message and layout.layout in message and "Get them from" in message
    with pytest.raises(FileNotFoundError, match="downloading failed .*network disabled"):
        get_dataset(name, "train", root=root)                           # download=True, but offline
    assert time.perf_counter() - start < 5
    assert len(offline) == 1                                             # one connection attempt, nothing more
    leftovers = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    assert leftovers == []


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class _Response(io.BytesIO):
    def __init__(self, data: bytes, fail_after: int | None = None):
        super().__init__(data)
        self.length = len(data)
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection dropped")
        return super().read(size if self.fail_after is None else min(size, self.fail_after))


def test_download_extracts_atomically(tmp_path, monkeypatch, small_thresholds):
    """tonic's archive layout (train.zip -> Train/<d>/*.bin) downloaded, MD5-checked and extracted."""
    import tonic.datasets

    files = {f"Train/{d}/0000{k}.bin": atis_bin([d, 5], [k, 6], [10, 20_000], [1, 0]) for d in range(3)
             for k in range(2)}
    archive = _zip_bytes(files)
    monkeypatch.setattr(tonic.datasets.NMNIST, "train_md5", hashlib.md5(archive).hexdigest())

    # an interrupted download leaves nothing behind and reports the missing files
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _Response(archive, fail_after=100))
    with pytest.raises(FileNotFoundError, match="downloading"):
        get_dataset("n-mnist", "train", root=tmp_path, frames=2)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    # a corrupted download (wrong MD5) neither
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _Response(archive[:-1] + b"x"))
    with pytest.raises(FileNotFoundError, match="MD5"):
        get_dataset("n-mnist", "train", root=tmp_path, frames=2)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _Response(archive))
    ds = get_dataset("n-mnist", "train", root=tmp_path, frames=2)
    assert len(ds) == 6 and sorted(ds.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    assert (tmp_path / "NMNIST" / "train.zip").is_file()
    assert not list((tmp_path / "NMNIST").glob(".staging*"))
