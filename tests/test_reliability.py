"""Bad input and adversarial files: nothing runs code from data, no file lands outside its folder, non-finite inputs
stop training, finished seeds survive an interruption, and every refusal says what is wrong and what to do."""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import stat
import tarfile
import time
import zipfile
from pathlib import Path

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
def _toy(monkeypatch, calls, fail_at=None, values=None, metric="accuracy (%)"):
    """Register the reproduction ``toy`` (arms method and baseline; 3 seeds; seeds from 0 at the paper preset):
    its seed ``k`` records ``calls.append(k)`` and gives ``values(k)`` (default: 1 + k and 0.5 k); ``fail_at``
    interrupts that seed."""
    def run_seed(settings, seed, progress):
        if seed == fail_at:
            raise KeyboardInterrupt
        calls.append(seed)
        method, baseline = values(seed) if values else (1.0 + seed, 0.5 * seed)
        return {"method": {"final": method, "curve": []}, "baseline": {"final": baseline, "curve": []}}

    presets = {preset: {"dataset": "digits", "value": 1.0, "seeds": 3, "train": {"epochs": 2, "lr": 0.1}}
               for preset in ("smoke", "book", "paper")}
    monkeypatch.setitem(registry._REGISTRY, "toy", registry.Reproduction(
        name="toy", paper="p", claim="c", metric=metric, arms=("method", "baseline"), presets=presets,
        run_seed=run_seed, against="the baseline",
        premise=registry.Premise("the baseline is not negative", registry.Contrast("baseline", 0.0), 0.0)))
    return presets


def _files(folder):
    """Every file under ``folder`` with its bytes: the state a refusal must leave unchanged."""
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_reproduction_killed_after_its_first_seed_resumes_without_retraining_it(tmp_path, monkeypatch):
    calls = []
    _toy(monkeypatch, calls, fail_at=1)
    with pytest.raises(KeyboardInterrupt):
        run("toy", "paper", out=str(tmp_path), progress=False)
    assert calls == [0] and (tmp_path / "toy-paper.partial" / "seed-0.json").exists()
    assert not (tmp_path / "toy-paper.json").exists()
    with pytest.raises(FileExistsError, match="1 finished seed.*--resume"):
        run("toy", "paper", out=str(tmp_path), progress=False)
    calls.clear()
    _toy(monkeypatch, calls)
    record = run("toy", "paper", out=str(tmp_path), progress=False, resume=True)
    assert calls == [1, 2]                                          # seed 0 was read back, not retrained
    assert record["arms"]["method"]["per_seed"] == [1.0, 2.0, 3.0]
    assert (tmp_path / "toy-paper.json").exists() and not (tmp_path / "toy-paper.partial").exists()
    assert not (tmp_path / "toy-paper.lock").exists()


def test_resume_refuses_finished_seeds_of_another_setting(tmp_path, monkeypatch):
    calls = []
    presets = _toy(monkeypatch, calls, fail_at=1)
    with pytest.raises(KeyboardInterrupt):
        run("toy", "paper", out=str(tmp_path), progress=False)
    presets["paper"]["value"] = 2.0
    before = _files(tmp_path)
    with pytest.raises(ValueError, match="trained with another setting \\(value: 1.0 in the record, 2.0 in the preset"):
        run("toy", "paper", out=str(tmp_path), progress=False, resume=True)
    assert _files(tmp_path).keys() - {Path("toy-paper.partial/run.json")} <= before.keys()
    assert (tmp_path / "toy-paper.partial" / "seed-0.json").read_bytes() == before[Path("toy-paper.partial/seed-0.json")]


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
        run("toy", "paper", out=str(out), progress=False)
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


# ------------------------------------------------------------------------------------------- no silent wrong answer
def _saved_toy_record(tmp_path, monkeypatch):
    """A finished toy record in ``tmp_path`` (3 seeds at the paper preset) and its path."""
    _toy(monkeypatch, [])
    run("toy", "paper", out=str(tmp_path), progress=False)
    return tmp_path / "toy-paper.json"


@pytest.mark.parametrize("value,problem", [(float("nan"), "not a finite number"), (float("inf"), "not a finite number"),
                                           (-float("inf"), "not a finite number"), (150.0, "outside the metric's range")])
def test_a_record_value_that_is_not_finite_or_out_of_range_is_refused_naming_file_and_field(tmp_path, monkeypatch,
                                                                                           value, problem):
    path = _saved_toy_record(tmp_path, monkeypatch)
    record = json.loads(path.read_text())
    record["arms"]["method"]["per_seed"][1] = value
    path.write_text(json.dumps(record))
    before = _files(tmp_path)
    with pytest.raises(ValueError, match=f"toy-paper.json is not a readable .*arms.method.per_seed\\[1\\] is .*{problem}"):
        recorded_run("toy", "paper", results=tmp_path)
    assert _files(tmp_path) == before                                 # refused, not re-run or rewritten


def test_a_record_whose_mean_disagrees_with_its_seeds_is_refused(tmp_path, monkeypatch):
    path = _saved_toy_record(tmp_path, monkeypatch)
    record = json.loads(path.read_text())
    record["arms"]["baseline"]["mean"] = 50.0
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="arms.baseline.mean is 50.0, not the mean of its per-seed values"):
        recorded_run("toy", "paper", results=tmp_path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 150.0])
def test_a_seed_giving_a_value_outside_its_metric_is_refused_and_nothing_is_written(tmp_path, monkeypatch, value):
    calls = []
    _toy(monkeypatch, calls, values=lambda seed: (value if seed == 1 else 50.0, 40.0))
    with pytest.raises(ValueError, match="toy: seed 1: method.final is"):
        run("toy", "paper", out=str(tmp_path), progress=False)
    assert calls == [0, 1]
    assert not (tmp_path / "toy-paper.json").exists()
    assert sorted(p.name for p in (tmp_path / "toy-paper.partial").iterdir()) == ["run.json", "seed-0.json"]


def test_paired_effect_refuses_values_that_are_not_finite():
    from snnlab.repro.results import paired_effect

    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="method value 2 is .* not a finite number"):
            paired_effect([1.0, 2.0, bad], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("change,problem", [({"name": "kdsnn"}, "its name is 'kdsnn', not 'toy'"),
                                            ({"preset": "book"}, "its preset is 'book', not 'paper'"),
                                            ({"variant": "other"}, "its variant is 'other', not None")])
def test_a_record_is_read_only_when_its_name_and_preset_match_its_file(tmp_path, monkeypatch, change, problem):
    path = _saved_toy_record(tmp_path, monkeypatch)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    before = _files(tmp_path)
    with pytest.raises(ValueError, match=f"toy-paper.json is not a readable reproduction record \\({problem}"):
        recorded_run("toy", "paper", results=tmp_path)
    assert _files(tmp_path) == before


def test_a_committed_record_of_another_reproduction_is_not_read_as_tet(tmp_path):
    committed = Path(__file__).resolve().parents[1] / "results" / "kdsnn-book.json"
    (tmp_path / "tet-book.json").write_bytes(committed.read_bytes())
    with pytest.raises(ValueError, match="its name is 'kdsnn', not 'tet'"):
        recorded_run("tet", "book", results=tmp_path)


def _tiny_trainer(data, test=None, model=None, method=None, **config):
    torch.manual_seed(0)
    model = model or SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
    method = method or TET(model, T=2)
    return Trainer(method, data, test, TrainConfig(**{"epochs": 1, "batch_size": 96, "progress": False, **config}))


def _relabelled(data, index, label):
    y = data.tensors[1].clone()
    y[index] = label
    relabelled = TensorDataset(data.tensors[0], y)
    relabelled.info = data.info
    return relabelled


@pytest.mark.parametrize("label", [-100, -1, 4, 7])
def test_labels_outside_the_classes_are_refused_in_training_and_evaluation(tiny_images, label):
    train, test = tiny_images
    trainer = _tiny_trainer(_relabelled(train, 5, label))
    before = {k: v.clone() for k, v in trainer.method.state_dict().items()}
    with pytest.raises(ValueError, match=f"training batch 0 of epoch 1: label\\(s\\) \\[{label}\\] outside the 4 "
                                         "classes of tiny"):
        trainer.fit()
    assert all(torch.equal(before[k], v) for k, v in trainer.method.state_dict().items())
    with pytest.raises(ValueError, match=f"evaluation batch 0: label\\(s\\) \\[{label}\\] outside the 4 classes"):
        _tiny_trainer(train).evaluate(_relabelled(test, 0, label))


def test_an_ignore_index_is_accepted_only_where_the_method_declares_it(tiny_images):
    train, _ = tiny_images
    trainer = _tiny_trainer(_relabelled(train, 5, -100), method=MeanOutputCE(
        SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet"), 2))
    trainer.method.ignore_index = -100                               # cross entropy's default ignore index
    assert len(trainer.fit()) == 1 and math.isfinite(trainer.history[0]["loss"])


def test_outputs_must_have_one_column_per_class(tiny_images):
    train, test = tiny_images
    model = SmallCNN(num_classes=5, in_channels=1, width=4, neuron="tet")
    trainer = _tiny_trainer(train, model=model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="gives 5 scores per sample, but tiny has 4 classes; build the model with "
                                         "num_classes=4"):
        trainer.fit()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # weights and buffers
    with pytest.raises(ValueError, match="gives 5 scores per sample"):
        trainer.evaluate(test)


def test_evaluate_refuses_an_empty_set(tiny_images):
    empty = TensorDataset(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="cannot evaluate on an empty data set"):
        _tiny_trainer(tiny_images[0]).evaluate(empty)


def test_batch_major_event_batches_with_as_many_samples_as_steps_are_refused():
    frames = torch.rand(8, 4, 2, 6, 6)                             # 8 samples of [T=4, 2, 6, 6]
    data = TensorDataset(frames, torch.randint(0, 2, (8,)))
    data.info = DatasetInfo("toy-events", ("a", "b"), (4, 2, 6, 6), time_major=True)
    model = SmallCNN(num_classes=2, in_channels=2, width=4, neuron="tet")
    trainer = Trainer(MeanOutputCE(model, T=4), data, None, TrainConfig(epochs=1, batch_size=4, progress=False))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"batch-major \(4, 4, 2, 6, 6\)"):    # N = T = 4: the shape cannot tell
        trainer.fit()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ------------------------------------------------------------------------------------------- --set and configs
@pytest.mark.parametrize("option,message", [
    ("train.epoch=2", "cannot set 'train.epoch': the setting has no such key; did you mean 'train.epochs'"),
    ("epochs=50", "cannot set 'epochs': the setting has no such key; did you mean 'train.epochs'"),
    ("trian.lr=0.1", "no group 'trian'.*did you mean 'train.lr'"),
    ("train.seed=3", "cannot set 'train.seed': a reproduction sets seed itself for every seed \\(choose the seeds "
                     "with --seeds"),
    ("train.epochs=abc", "cannot set 'train.epochs' to 'abc' \\(str\\): it takes an integer, e.g. --set train.epochs=2"),
    ("train.epochs=2.5", "it takes an integer"),
    ("train=5", "cannot set 'train' to 5: train is a group of settings; set one of its keys"),
    ("train.step_size=0", "step_size must be >= 1"),
    ("train.epochs=0", "epochs and batch_size must be >= 1"),
    ("train.grad_clip=-1", "grad_clip must be > 0 \\(the largest gradient norm\\) or None"),
    ("train.grad_clip=0", "grad_clip must be > 0"),
    ("train.device=foo", "unknown device 'foo': use cpu, cuda, cuda:N, mps or auto"),
    ("train.device=cuda:7", "device 'cuda:7' does not exist here"),
    ("value=true", "cannot set 'value' to True \\(bool\\): it takes a number, e.g. --set value=1.0"),
])
def test_set_refuses_unknown_keys_and_bad_values_in_one_line_before_training(tmp_path, monkeypatch, capsys, option,
                                                                            message):
    from snnlab.cli import main

    calls = []
    _toy(monkeypatch, calls)
    assert main(["reproduce", "toy", "--preset", "paper", "--out", str(tmp_path / "out"), "--quiet",
                 "--set", option]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("snnlab reproduce: error: cannot set")
    assert len(__import__("re").findall(message, error)) == 1, error
    assert calls == [] and not (tmp_path / "out").exists()          # nothing trained, nothing written


def test_set_accepts_valid_values_of_the_right_type():
    from snnlab.repro.settings import apply_overrides

    setting = {"T": 4, "lam": 0.5, "train": {"epochs": 10, "lr": 0.1}}
    changed = apply_overrides(setting, {"train.grad_clip": 1, "train.epochs": 3, "lam": 1, "train.device": "cpu"})
    assert changed == {"T": 4, "lam": 1, "train": {"epochs": 3, "lr": 0.1, "grad_clip": 1, "device": "cpu"}}
    assert apply_overrides(setting, {"train.grad_clip": None})["train"]["grad_clip"] is None


def test_an_unknown_device_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from snnlab.cli import main

    calls = []
    _toy(monkeypatch, calls)
    assert main(["reproduce", "toy", "--preset", "paper", "--out", str(tmp_path / "out"), "--device", "foo"]) == 2
    assert "unknown device 'foo': use cpu, cuda, cuda:N, mps or auto" in capsys.readouterr().err
    assert calls == [] and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------- resume
def _interrupt_toy(tmp_path, monkeypatch, seeds=3, fail_at=2):
    """A toy run of ``seeds`` seeds at the paper preset, interrupted at seed ``fail_at``."""
    calls = []
    _toy(monkeypatch, calls, fail_at=fail_at)
    with pytest.raises(KeyboardInterrupt):
        run("toy", "paper", seeds=seeds, out=str(tmp_path), progress=False)
    return calls


def test_resume_without_seeds_continues_the_interrupted_runs_own_seed_list(tmp_path, monkeypatch):
    presets = _toy(monkeypatch, [])
    presets["paper"]["seeds"] = 5                                     # the preset's count differs from --seeds 3
    calls = []
    _toy(monkeypatch, calls, fail_at=2)
    registry.get_reproduction("toy").presets["paper"]["seeds"] = 5
    with pytest.raises(KeyboardInterrupt):
        run("toy", "paper", seeds=3, out=str(tmp_path), progress=False)
    assert calls == [0, 1]
    calls.clear()
    _toy(monkeypatch, calls)
    registry.get_reproduction("toy").presets["paper"]["seeds"] = 5
    record = run("toy", "paper", out=str(tmp_path), progress=False, resume=True)          # no seeds given
    assert calls == [2] and record["seeds"] == [0, 1, 2]
    assert record["arms"]["method"]["per_seed"] == [1.0, 2.0, 3.0]   # seeds 0 and 1 merged, none lost


def test_resume_with_another_seed_list_is_refused_naming_the_difference(tmp_path, monkeypatch):
    _interrupt_toy(tmp_path, monkeypatch)
    before = _files(tmp_path)
    calls = []
    _toy(monkeypatch, calls)
    with pytest.raises(ValueError, match=r"ran seeds \[0, 1, 2\], this one asks for \[0, 1\] \(only there: \[2\]; "
                                         r"only here: \[\]\); resume without --seeds"):
        run("toy", "paper", seeds=2, out=str(tmp_path), progress=False, resume=True)
    assert calls == [] and _files(tmp_path) == before


def test_a_seed_file_not_merged_into_the_record_is_never_deleted(tmp_path, monkeypatch):
    _interrupt_toy(tmp_path, monkeypatch)
    partial = tmp_path / "toy-paper.partial"
    (partial / "seed-9.json").write_bytes((partial / "seed-0.json").read_bytes())
    _toy(monkeypatch, [])
    record = run("toy", "paper", out=str(tmp_path), progress=False, resume=True)
    assert record["seeds"] == [0, 1, 2]
    assert sorted(p.name for p in partial.iterdir()) == ["seed-9.json"]


def test_a_seed_file_whose_setting_was_edited_to_match_is_refused(tmp_path, monkeypatch):
    presets = _toy(monkeypatch, [], fail_at=1)
    presets["paper"]["value"] = 7.0                                   # another run, of another setting
    with pytest.raises(KeyboardInterrupt):
        run("toy", "paper", out=str(tmp_path), progress=False)
    seed_file = tmp_path / "toy-paper.partial" / "seed-0.json"
    saved = json.loads(seed_file.read_text())
    saved["setting"]["value"] = 1.0                                   # edited to match the current setting
    seed_file.write_text(json.dumps(saved))
    before = _files(tmp_path)
    calls = []
    _toy(monkeypatch, calls)
    with pytest.raises(ValueError, match="seed-0.json does not match its own hashes .*delete it to train seed 0 again"):
        run("toy", "paper", out=str(tmp_path), progress=False, resume=True)
    assert calls == [] and _files(tmp_path) == before


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_a_partial_path_that_is_not_a_real_folder_is_refused_before_training(tmp_path, monkeypatch, kind):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    partial = out / "toy-paper.partial"
    if kind == "symlink":
        partial.symlink_to(outside, target_is_directory=True)
    else:
        partial.write_text("not a folder")
    calls = []
    _toy(monkeypatch, calls)
    with pytest.raises(NotADirectoryError, match=f"toy-paper.partial is a {'link' if kind == 'symlink' else 'file'}"):
        run("toy", "paper", out=str(out), progress=False)
    assert calls == [] and list(outside.iterdir()) == []              # nothing trained, nothing written outside
    assert partial.is_symlink() == (kind == "symlink") and not (out / "toy-paper.lock").exists()


_HOLD_LOCK = """
import fcntl, os, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
handle.write(f"process {os.getpid()}"); handle.flush()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_concurrent_run_of_the_same_record_is_refused(tmp_path, monkeypatch):
    import subprocess
    import sys

    pytest.importorskip("fcntl")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "toy-paper.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        calls = []
        _toy(monkeypatch, calls)
        with pytest.raises(BlockingIOError, match=f"toy-paper.lock is held by process {holder.pid}: another run of "
                                                  "the same record is in progress"):
            run("toy", "paper", out=str(tmp_path), progress=False)
        assert calls == [] and not (tmp_path / "toy-paper.partial").exists()
    finally:
        holder.kill()
        holder.wait()
    record = run("toy", "paper", out=str(tmp_path), progress=False)   # the lock died with its process
    assert record["seeds"] == [0, 1, 2]


# ------------------------------------------------------------------------------------------- fail before work
def test_a_full_disk_is_refused_before_training(tmp_path, monkeypatch):
    import shutil as shutil_module

    from snnlab.repro import seed_store

    calls = []
    _toy(monkeypatch, calls)
    usage = shutil_module.disk_usage(tmp_path)
    monkeypatch.setattr(seed_store.shutil, "disk_usage", lambda path: usage._replace(free=2**20))
    with pytest.raises(OSError, match="has 1.0 MiB free, less than the 64 MiB a run needs; free some space or pass "
                                      "--out"):
        run("toy", "paper", out=str(tmp_path), progress=False)
    assert calls == [] and _files(tmp_path) == {}


def test_a_full_disk_mid_run_keeps_the_finished_seeds_and_says_how_to_resume(tmp_path, monkeypatch):
    import errno

    from snnlab.repro import seed_store

    calls = []
    _toy(monkeypatch, calls)
    write = seed_store.atomic_write_json

    def fill_up(obj, path):
        if Path(path).name == "seed-1.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        write(obj, path)

    monkeypatch.setattr(seed_store, "atomic_write_json", fill_up)
    with pytest.raises(OSError, match="cannot save seed 1 .*No space left on device.*seeds finished so far are kept "
                                      "in .*toy-paper.partial: free some space, then run again with --resume"):
        run("toy", "paper", out=str(tmp_path), progress=False)
    assert sorted(p.name for p in (tmp_path / "toy-paper.partial").iterdir()) == ["run.json", "seed-0.json"]
    monkeypatch.setattr(seed_store, "atomic_write_json", write)
    calls.clear()
    record = run("toy", "paper", out=str(tmp_path), progress=False, resume=True)
    assert calls == [1, 2] and record["arms"]["method"]["per_seed"] == [1.0, 2.0, 3.0]


# ------------------------------------------------------------------------------------------- the teacher's NaN
class _NaNTeacher(torch.nn.Module):
    def forward(self, x):
        return torch.full((x.shape[0], 4), float("nan"))


def test_a_nan_from_the_teacher_stops_before_any_student_buffer_changes(tiny_images):
    from snnlab.methods import DistilledANN

    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                  torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 4))
    before = {k: v.clone() for k, v in student.state_dict().items()}
    trainer = Trainer(DistilledANN(student, _NaNTeacher()), tiny_images[0], None,
                      TrainConfig(epochs=1, batch_size=96, progress=False))
    with pytest.raises(NonFiniteLossError, match="non-finite loss at epoch 1, step 0"):
        trainer.fit()
    assert {k for k in before if "running" in k or "num_batches" in k}          # the student has buffers
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, monkeypatch):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "toy-paper.lock").symlink_to(outside)
    calls = []
    _toy(monkeypatch, calls)
    with pytest.raises(OSError, match="toy-paper.lock .*remove it \\(it must be a plain file, not a link\\)"):
        run("toy", "paper", out=str(out), progress=False)
    assert calls == [] and outside.read_text() == "keep me"


# ------------------------------------------------------------------------------------------- actionable refusals
def _checkpoint_trainer(tiny_images, tmp_path):
    model = SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
    config = TrainConfig(epochs=2, batch_size=8, progress=False, checkpoint_dir=str(tmp_path), resume=True)
    return model, lambda: Trainer(TET(model, T=2), tiny_images[0], tiny_images[1], config)


@pytest.mark.parametrize("content,problem", [
    (b"", "cannot be read as a snnlab checkpoint"),
    ("list", "is not a snnlab checkpoint \\(it holds a list\\)"),
    ("no-epoch", "is not a snnlab checkpoint \\(epoch is NoneType, not int\\)"),
    ("epoch=-5", "is at epoch -5, outside 0 to config.epochs=2; delete it"),
    ("epoch=9", "is at epoch 9, outside 0 to config.epochs=2"),
    ("wrong-model", "does not fit this model and optimizer"),
])
def test_a_damaged_or_foreign_checkpoint_is_refused_in_one_line(tiny_images, tmp_path, content, problem):
    from dataclasses import asdict

    model, make = _checkpoint_trainer(tiny_images, tmp_path)
    path = tmp_path / "last.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        config = asdict(TrainConfig(epochs=2, batch_size=8, progress=False, checkpoint_dir=str(tmp_path), resume=True))
        state = {"epoch": 1, "method": TET(model, T=2).state_dict(), "optimizer": {}, "scaler": {}, "history": [],
                 "scheduler": None, "config": config}
        if content == "list":
            state = [1, 2]
        elif content == "no-epoch":
            del state["epoch"]
        elif content.startswith("epoch="):
            state["epoch"] = int(content.split("=")[1])
        else:
            state["method"] = {"model.weird": torch.zeros(3)}
        torch.save(state, path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=problem) as err:
        make()
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and path.exists()


def test_a_forged_cache_manifest_over_a_truncated_npz_is_rebuilt(tmp_path):
    from snnlab.data.cache import file_digest

    build = lambda: {"x": np.arange(1000)}                           # noqa: E731
    entry = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    npz, manifest = next(tmp_path.glob("toy-*.npz")), next(tmp_path.glob("toy-*.json"))
    npz.write_bytes(npz.read_bytes()[:40])                           # truncated ...
    forged = json.loads(manifest.read_text())
    forged["file_sha256"] = file_digest(npz)                         # ... and vouched for
    manifest.write_text(json.dumps(forged))
    with pytest.warns(RuntimeWarning, match="is unreadable .*rebuilding it"):
        again = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    assert again.checksum == entry.checksum and np.array_equal(again["x"], np.arange(1000))


def test_snnlab_data_naming_a_file_or_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    from snnlab.data import cache

    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("SNNLAB_DATA", str(a_file))
    with pytest.raises(NotADirectoryError, match=f"SNNLAB_DATA={a_file} is a file; point \\$SNNLAB_DATA to a folder"):
        cache.data_root()
    assert a_file.read_text() == "not a folder"
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.access(read_only, os.W_OK):                                # root ignores permission bits
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(cache, "atomic_path", refuse)
    with pytest.raises(PermissionError, match="cannot write the cache of toy to .*set \\$SNNLAB_DATA to a folder you "
                                              "can write to"):
        cached_arrays("toy", {"seed": 0}, lambda: {"x": np.arange(3)}, root=read_only)
    read_only.chmod(0o700)
    assert list(read_only.iterdir()) == []


def _zip_members(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in members:
            handle.writestr(name, data)


@pytest.mark.parametrize("case,problem", [
    ("long-name", "a part longer than 255 bytes"),
    ("bomb", "\\(more than 100x: a decompression bomb"),
    ("many", "more than the 50 allowed"),
    ("truncated-zip", "is damaged or truncated"),
    ("truncated-tar", "is damaged or truncated"),
])
def test_archives_that_are_damaged_or_too_large_are_refused_before_anything_is_written(tmp_path, monkeypatch, case,
                                                                                      problem):
    archive, target = tmp_path / "archive", tmp_path / "target"
    target.mkdir()
    monkeypatch.setattr(download, "MAX_MEMBERS", 50)
    if case == "long-name":
        _zip_members(archive, [("ok.txt", "fine"), ("x" * 5000, "long")])
    elif case == "bomb":
        _zip_members(archive, [("ok.txt", "fine"), ("zeros.bin", b"\0" * 20_000_000)])
    elif case == "many":
        _zip_members(archive, [(f"f{i}.txt", "x") for i in range(60)])
    elif case == "truncated-zip":
        _zip_members(archive, [("ok.txt", os.urandom(5000))])
        archive.write_bytes(archive.read_bytes()[:-30])
    else:
        _tar_with(archive, "ok/second.txt")
        archive.write_bytes(archive.read_bytes()[:60])
    with pytest.raises(download.DownloadError, match=f"{archive}.* {problem}.*"):
        download.safe_extract(archive, target)
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("header,problem", [(b"\x00\x00\x08\x03" + (-5).to_bytes(4, "big", signed=True) + bytes(8),
                                             "is damaged: its header gives the negative dimensions"),
                                            (b"\x00\x00\x08\x03\x00\x00", "is truncated")])
def test_idx_files_with_negative_dimensions_or_a_cut_header_are_named(tmp_path, header, problem):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(header)
    with pytest.raises(ValueError, match=f"{path} {problem}.*delete it and place"):
        static_sets.read_idx(path)


@pytest.mark.parametrize("value", ["99999999999", "0", "-3", "many"])
def test_snnlab_threads_out_of_range_is_refused_and_threads_unchanged(monkeypatch, value):
    from snnlab import threads

    before = torch.get_num_threads()
    monkeypatch.setenv("SNNLAB_THREADS", value)
    with pytest.raises(ValueError, match=f"threads must be an integer from 1 to .*\\(got '{value}'; set \\$SNNLAB_THREADS"):
        threads.configure_threads()
    assert torch.get_num_threads() == before
