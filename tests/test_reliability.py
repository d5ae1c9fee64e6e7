"""Bad input and adversarial files: nothing runs code from data, no file lands outside its folder, non-finite inputs
stop training, finished seeds survive an interruption, and every refusal says what is wrong and what to do."""
from __future__ import annotations

import io
import json
import os
import pickle
import stat
import tarfile
import time
import zipfile

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from snnlab import encoding
from snnlab.data import download, get_dataset, static_sets
from snnlab.data.cache import cached_arrays
from snnlab.data.registry import DatasetInfo
from snnlab.io import STALE_TEMPORARY_S, atomic_write_json
from snnlab.methods import TET, MeanOutputCE
from snnlab.models import SmallCNN
from snnlab.repro import recorded_run, registry, run
from snnlab.train import NonFiniteLossError, TrainConfig, Trainer


class _Payload:
    """Unpickling this creates the folder ``marker``: proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


# ------------------------------------------------------------------------------------------- no code from files
def test_a_malicious_cifar_batch_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Payload(marker), b"labels": [0]}, protocol=2))
    with pytest.raises(ValueError, match=f"{path} is not a CIFAR python-version file .*refused to load posix.mkdir"):
        static_sets.read_cifar_batch(path, b"labels")
    assert not marker.exists()


@pytest.mark.parametrize("content,problem", [(b"", "EOFError"), (b"garbage\x00\x01", "UnpicklingError"),
                                             (pickle.dumps([1, 2]), "holds a list"),
                                             (pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}),
                                              "expected uint8 data")])
def test_broken_cifar_batches_name_the_file(tmp_path, content, problem):
    path = tmp_path / "test_batch"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=problem) as err:
        static_sets.read_cifar_batch(path, b"labels")
    assert str(path) in str(err.value)


def test_a_malicious_checkpoint_is_refused_and_runs_nothing(tiny_images, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"epoch": 1, "payload": _Payload(marker)}, tmp_path / "last.pt")
    model = SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
    config = TrainConfig(epochs=2, batch_size=8, progress=False, checkpoint_dir=str(tmp_path), resume=True)
    with pytest.raises(ValueError, match="cannot be read as a snnlab checkpoint"):
        Trainer(TET(model, T=2), tiny_images[0], tiny_images[1], config)
    assert not marker.exists()


def _zip_with(path, name):
    with zipfile.ZipFile(path, "w") as handle:
        handle.writestr("ok/file.txt", "fine")
        handle.writestr(name, "escaped")


def _tar_with(path, name):
    with tarfile.open(path, "w:gz") as handle:
        for member, data in (("ok/file.txt", b"fine"), (name, b"escaped")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("make", [_zip_with, _tar_with], ids=["zip", "tar"])
@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/snnlab-escaped-absolute.txt"])
def test_archive_members_cannot_land_outside_the_folder(tmp_path, make, member):
    archive = tmp_path / "archive"
    make(archive, member)
    target = tmp_path / "inside" / "deeper"
    target.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    if member.startswith("/") and make is _tar_with:
        download.safe_extract(archive, target)      # tar's data filter strips the leading "/": stays inside
        assert (target / member.lstrip("/")).read_text() == "escaped"
    else:
        with pytest.raises(download.DownloadError, match="outside"):
            download.safe_extract(archive, target)
    created = set(tmp_path.rglob("*")) - before
    assert all(target in path.parents for path in created)
    assert not (tmp_path / "inside" / "escaped.txt").exists() and not os.path.exists(member)


def test_a_placed_tonic_archive_with_a_wrong_checksum_is_reported_as_such(tmp_path, monkeypatch):
    from snnlab.data import tonic_files

    layout = tonic_files.LAYOUTS["dvs-gesture"]
    location = tonic_files._location(tmp_path, layout)
    location.mkdir(parents=True)
    (location / "ibmGestureTest.tar.gz").write_bytes(b"not the release")
    monkeypatch.setattr(download, "_open_url", lambda *a: pytest.fail("a placed archive must not be re-downloaded"))
    with pytest.raises(FileNotFoundError, match="does not match tonic's checksum .*MD5 mismatch"):
        tonic_files.ensure_files(tmp_path, layout, "test", download=True)


# ------------------------------------------------------------------------------------------- non-finite inputs
def test_a_nan_batch_stops_training_before_the_weights_change(tiny_images):
    train, test = tiny_images
    x = train.tensors[0].clone()
    x[20, 0, 3, 3] = float("nan")                       # one pixel of one sample
    poisoned = TensorDataset(x, train.tensors[1])
    poisoned.info = train.info
    torch.manual_seed(0)
    model = SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(TET(model, T=2), poisoned, test, TrainConfig(epochs=1, batch_size=96, progress=False))
    with pytest.raises(NonFiniteLossError, match="1 NaN or infinite input value.* training batch 0 of epoch 1"):
        trainer.fit()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", ["direct", "poisson", "ttfs"])
def test_encoders_reject_nan(name):
    x = torch.full((2, 3), 0.5)
    x[1, 2] = float("nan")
    with pytest.raises(ValueError, match="1 NaN or infinite input value"):
        encoding.encode(name, x, 4)


# ------------------------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("T", [0, -1, 2.5, True])
def test_time_steps_are_validated_where_they_enter(T):
    with pytest.raises(ValueError, match="T \\(time steps\\) must be a positive int"):
        MeanOutputCE(SmallCNN(num_classes=4, in_channels=1, width=4), T)


def test_config_and_empty_sets_are_refused(tiny_images):
    with pytest.raises(ValueError, match="max_steps_per_epoch must be None"):
        TrainConfig(max_steps_per_epoch=0)
    empty = TensorDataset(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long))
    model = SmallCNN(num_classes=4, in_channels=1, width=4)
    with pytest.raises(ValueError, match="test_set is empty"):
        Trainer(TET(model, T=2), tiny_images[0], empty, TrainConfig(progress=False))


def test_batch_major_event_batches_are_refused():
    frames = torch.rand(12, 4, 2, 6, 6)                            # 12 samples of [T=4, 2, 6, 6]
    data = TensorDataset(frames, torch.randint(0, 2, (12,)))      # no collate_fn: batches arrive [N, T, ...]
    data.info = DatasetInfo("toy-events", ("a", "b"), (4, 2, 6, 6), time_major=True)
    model = SmallCNN(num_classes=2, in_channels=2, width=4, neuron="tet")
    trainer = Trainer(MeanOutputCE(model, T=4), data, None, TrainConfig(epochs=1, batch_size=6, progress=False))
    with pytest.raises(ValueError, match=r"batch-major \(6, 4, 2, 6, 6\)"):
        trainer.fit()


def test_misspelled_names_get_the_closest_valid_names():
    for name, expected in (("digit", "'digits'"), ("cifar-10", "'cifar10'"), ("fashon", "'fashion'")):
        with pytest.raises(ValueError, match=f"did you mean {expected}"):
            get_dataset(name, "train")
    with pytest.raises(ValueError, match="did you mean 'tet'"):
        run("tett", out=None)


# ------------------------------------------------------------------------------------------- finished work
def _toy(monkeypatch, calls, fail_at=None):
    def run_seed(settings, seed, progress):
        if seed == fail_at:
            raise KeyboardInterrupt
        calls.append(seed)
        return {"method": {"final": 1.0 + seed, "curve": []}, "baseline": {"final": 0.5 * seed, "curve": []}}

    presets = {preset: {"dataset": "digits", "value": 1.0, "seeds": 3} for preset in ("smoke", "book", "paper")}
    monkeypatch.setitem(registry._REGISTRY, "toy", registry.Reproduction(
        name="toy", paper="p", claim="c", metric="m", arms=("method", "baseline"), presets=presets, run_seed=run_seed,
        premise=registry.Premise("method above baseline", registry.arm_gap("method", "baseline"), 0.0)))
    return presets


def test_a_reproduction_killed_after_its_first_seed_resumes_without_retraining_it(tmp_path, monkeypatch):
    calls = []
    _toy(monkeypatch, calls, fail_at=1)
    with pytest.raises(KeyboardInterrupt):
        run("toy", "book", out=str(tmp_path), progress=False)
    assert calls == [0] and (tmp_path / "toy-book.partial" / "seed-0.json").exists()
    assert not (tmp_path / "toy-book.json").exists()
    with pytest.raises(FileExistsError, match="1 finished seed.*--resume"):
        run("toy", "book", out=str(tmp_path), progress=False)
    calls.clear()
    _toy(monkeypatch, calls)
    record = run("toy", "book", out=str(tmp_path), progress=False, resume=True)
    assert calls == [1, 2]                                          # seed 0 was read back, not retrained
    assert record["arms"]["method"]["per_seed"] == [1.0, 2.0, 3.0]
    assert (tmp_path / "toy-book.json").exists() and not (tmp_path / "toy-book.partial").exists()


def test_resume_refuses_finished_seeds_of_another_setting(tmp_path, monkeypatch):
    calls = []
    presets = _toy(monkeypatch, calls, fail_at=1)
    with pytest.raises(KeyboardInterrupt):
        run("toy", "book", out=str(tmp_path), progress=False)
    presets["book"]["value"] = 2.0
    with pytest.raises(ValueError, match="trained with another setting \\(value: 1.0 in the record, 2.0 in the preset"):
        run("toy", "book", out=str(tmp_path), progress=False, resume=True)


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_an_unwritable_output_folder_is_refused_before_training(tmp_path, monkeypatch, kind):
    calls = []
    _toy(monkeypatch, calls)
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("not a folder")
        expected = NotADirectoryError
    else:
        out.mkdir()
        out.chmod(0o500)
        if os.access(out, os.W_OK):                # root ignores permission bits: the file system refuses instead
            from snnlab.repro import seed_store

            def refuse(*args, **kwargs):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(seed_store.tempfile, "NamedTemporaryFile", refuse)
        expected = PermissionError
    with pytest.raises(expected, match=str(out)):
        run("toy", "book", out=str(out), progress=False)
    assert calls == []


def test_a_truncated_record_is_named(tmp_path):
    (tmp_path / "tet-book.json").write_text('{"name": "tet", "setting": {')
    with pytest.raises(ValueError, match="tet-book.json is not a readable reproduction record"):
        recorded_run("tet", "book", results=tmp_path)


# ------------------------------------------------------------------------------------------- files
def test_written_files_follow_the_umask_and_stale_temporaries_are_removed(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json({"a": 1}, tmp_path / "record.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "record.json").stat().st_mode) == 0o644
    stale, fresh = tmp_path / ".record.json.abc.tmp", tmp_path / ".record.json.def.tmp"
    for path in (stale, fresh):
        path.write_text("half")
    old_time = time.time() - STALE_TEMPORARY_S - 10
    os.utime(stale, (old_time, old_time))
    atomic_write_json({"a": 2}, tmp_path / "record.json")
    assert not stale.exists() and fresh.exists()                     # a concurrent writer's temporary is kept


def test_a_cache_manifest_of_any_shape_is_rebuilt(tmp_path):
    build = lambda: {"x": np.arange(3)}                              # noqa: E731
    entry = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    manifest = next(tmp_path.glob("toy-*.json"))
    for content in ("[1, 2, 3]", '"text"', "{broken"):
        manifest.write_text(content)
        with pytest.warns(RuntimeWarning, match="rebuilding it"):
            again = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
        assert again.checksum == entry.checksum


def test_a_garbage_recording_file_is_named(tmp_path):
    from snnlab.data.tonic_files import read_sample

    garbage = tmp_path / "user01_fluorescent_0.npy"
    garbage.write_bytes(b"garbage")

    class Recordings:                       # what tonic's readers do: np.load on the file of the sample
        data = [str(garbage)]

        def __getitem__(self, index):
            return np.load(self.data[index], allow_pickle=False)

    with pytest.raises(ValueError, match=f"{garbage} cannot be read as a recording of Recordings .*damaged"):
        read_sample(Recordings(), 0)


def test_a_placed_archive_with_a_wrong_checksum_is_named_not_called_a_download_failure(tmp_path, monkeypatch):
    import urllib.error

    def offline(url, timeout):
        raise urllib.error.URLError("network unreachable (test)")

    monkeypatch.setattr(download, "_open_url", offline)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"a truncated copy")
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz is not the official one \\(SHA-256 mismatch"):
        get_dataset("cifar10", "train", root=tmp_path)
