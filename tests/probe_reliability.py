"""Re-probe of the reliability classes of bad input: run from the repository root, `python tests/probe_reliability.py [-v]`. Each probe runs one input and reports: refused (with whether the
message is one line naming the problem and a fix), accepted-correct, or accepted-WRONG / traceback."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from snnlab.cli import main as cli
from snnlab.data import download, static_sets, cache
from snnlab.data.registry import DatasetInfo
from snnlab.methods import TET, MeanOutputCE, DistilledANN
from snnlab.models import SmallCNN
from snnlab.repro import registry, run, recorded_run
from snnlab.repro import seed_store
from snnlab.repro.results import paired_effect
from snnlab.train import TrainConfig, Trainer

FIX = re.compile(
    r"\b(delete|pass|set|use|remove|restore|free|resume|build|fix|point|choose|wait|check|clean|place|"
    r"download|run again|did you mean|obtain|retrain|transpose|batch with|it takes)\b",
    re.I,
)
RESULTS = defaultdict(list)
CALLS = []


def toy(fail_at=None, values=None, seeds=3):
    def run_seed(settings, seed, progress):
        if seed == fail_at:
            raise KeyboardInterrupt
        CALLS.append(seed)
        m, b = values(seed) if values else (50.0 + seed, 40.0)
        return {"method": {"final": m, "curve": []}, "baseline": {"final": b, "curve": []}}

    presets = {
        p: {"dataset": "digits", "value": 1.0, "seeds": seeds, "train": {"epochs": 2, "lr": 0.1}}
        for p in ("smoke", "book", "paper")
    }
    registry._REGISTRY["toy"] = registry.Reproduction(
        name="toy",
        paper="p",
        claim="c",
        metric="accuracy (%)",
        arms=("method", "baseline"),
        presets=presets,
        run_seed=run_seed,
        against="b",
        premise=registry.Premise("b", registry.Contrast("baseline", 0.0), 0.0),
    )
    CALLS.clear()
    return presets


def probe(cls, label, action, check=None):
    """Run ``action()``; a refusal is an exception (or CLI exit 2 with stderr); ``check(result)`` says whether an
    accepted input gave the right result."""
    err_out = io.StringIO()
    try:
        with contextlib.redirect_stderr(err_out), contextlib.redirect_stdout(io.StringIO()):
            result = action()
    except (ValueError, OSError, FloatingPointError, download.DownloadError) as err:
        msg = str(err)
        good = "\n" not in msg.strip() and bool(FIX.search(msg))
        RESULTS[cls].append((label, "refused", good, msg))
        return
    except BaseException as err:  # a traceback a user would see
        RESULTS[cls].append((label, "TRACEBACK", False, f"{type(err).__name__}: {err}"))
        return
    if isinstance(result, int) and result == 2:  # CLI refusal
        msg = err_out.getvalue().strip()
        good = msg.count("\n") == 0 and bool(FIX.search(msg))
        RESULTS[cls].append((label, "refused", good, msg))
        return
    ok = check(result) if check else True
    RESULTS[cls].append((label, "accepted" if ok else "ACCEPTED-WRONG", None, str(result)[:120]))


BASE = tempfile.TemporaryDirectory(prefix="snnlab-probe-")


def tmp():
    return Path(tempfile.mkdtemp(dir=BASE.name))


def tiny():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (96,), generator=g)
    x = torch.rand(96, 1, 8, 8, generator=g)
    ds = TensorDataset(x, y)
    ds.info = DatasetInfo("tiny", classes=("a", "b", "c", "d"), sample_shape=(1, 8, 8))
    return ds


def relabel(ds, label):
    y = ds.tensors[1].clone()
    y[3] = label
    out = TensorDataset(ds.tensors[0], y)
    out.info = ds.info
    return out


def trainer(train, model=None, test=None, **cfg):
    torch.manual_seed(0)
    model = model or SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
    return Trainer(TET(model, 2), train, test, TrainConfig(**{"epochs": 1, "batch_size": 32, "progress": False, **cfg}))


# ---------------------------------------------------------------- A: finished work (resume)
def interrupted(out, seeds=3, fail_at=2, preset_seeds=3):
    toy(fail_at=fail_at, seeds=preset_seeds)
    try:
        run("toy", "paper", seeds=seeds, out=str(out), progress=False)
    except KeyboardInterrupt:
        pass


out = tmp()
interrupted(out, preset_seeds=5)
toy(seeds=5)
probe(
    "A resume / finished work",
    "resume without --seeds after --seeds 3",
    lambda: run("toy", "paper", out=str(out), progress=False, resume=True),
    lambda r: r["seeds"] == [0, 1, 2] and CALLS == [2],
)
out = tmp()
interrupted(out)
toy()
probe(
    "A resume / finished work",
    "resume with --seeds 2",
    lambda: run("toy", "paper", seeds=2, out=str(out), progress=False, resume=True),
)
out = tmp()
interrupted(out)
toy()
probe(
    "A resume / finished work",
    "resume with --seeds 5",
    lambda: run("toy", "paper", seeds=5, out=str(out), progress=False, resume=True),
)
out = tmp()
interrupted(out)
toy()
(out / "toy-paper.partial" / "seed-7.json").write_text((out / "toy-paper.partial" / "seed-0.json").read_text())
probe(
    "A resume / finished work",
    "unmerged seed-7.json in the partial folder",
    lambda: run("toy", "paper", out=str(out), progress=False, resume=True),
    lambda r: (out / "toy-paper.partial" / "seed-7.json").exists(),
)
out = tmp()
interrupted(out)
toy()
probe("A resume / finished work", "rerun without --resume", lambda: run("toy", "paper", out=str(out), progress=False))

# ---------------------------------------------------------------- B: verdict inputs
for value, label in [
    (float("nan"), "NaN"),
    (float("inf"), "+inf"),
    (-float("inf"), "-inf"),
    (150.0, "150 %"),
    (-5.0, "-5 %"),
]:
    out = tmp()
    toy()
    run("toy", "paper", out=str(out), progress=False)
    rec = json.loads((out / "toy-paper.json").read_text())
    rec["arms"]["method"]["per_seed"][0] = value
    (out / "toy-paper.json").write_text(json.dumps(rec))
    probe("B verdict values", f"record per-seed {label}", lambda: recorded_run("toy", "paper", results=out))
    out = tmp()
    toy(values=lambda s, v=value: (v if s == 1 else 50.0, 40.0))
    probe("B verdict values", f"run_seed returns {label}", lambda: run("toy", "paper", out=str(out), progress=False))
probe("B verdict values", "paired_effect NaN", lambda: paired_effect([1.0, float("nan")], [0.0, 0.0]))
for change, label in [
    ({"name": "kdsnn"}, "KDSNN record as toy-paper.json"),
    ({"preset": "book"}, "preset book inside"),
    ({"variant": "x"}, "variant inside"),
]:
    out = tmp()
    toy()
    run("toy", "paper", out=str(out), progress=False)
    rec = json.loads((out / "toy-paper.json").read_text())
    rec.update(change)
    (out / "toy-paper.json").write_text(json.dumps(rec))
    probe("B verdict values", label, lambda: recorded_run("toy", "paper", results=out))
out = tmp()
toy()
run("toy", "paper", out=str(out), progress=False)
rec = json.loads((out / "toy-paper.json").read_text())
rec["arms"]["baseline"]["mean"] = 10.0
(out / "toy-paper.json").write_text(json.dumps(rec))
probe("B verdict values", "mean disagreeing with per-seed", lambda: recorded_run("toy", "paper", results=out))
out = tmp()
shutil.copy(Path("results/kdsnn-book.json"), out / "tet-book.json")
probe("B verdict values", "committed kdsnn record as tet-book.json", lambda: recorded_run("tet", "book", results=out))

# ---------------------------------------------------------------- C: --set and silent wrong runs
for option in [
    "epochs=50",
    "train.epoch=2",
    "train.grad_clip=-1",
    "train.grad_clip=0",
    "train.epochs=abc",
    "train=5",
    "train.step_size=0",
    "train.epochs=0",
    "train.lr=-1",
    "train.device=foo",
    "train.seed=3",
    "value=true",
    "trian.lr=1",
    "train.optimizer=sgdd",
    "train.batch_size=2.5",
]:
    out = tmp()
    toy()
    probe(
        "C --set / configs",
        f"--set {option}",
        lambda: cli(["reproduce", "toy", "--preset", "paper", "--out", str(out / "o"), "--quiet", "--set", option]),
    )
out = tmp()
toy()
probe(
    "C --set / configs",
    "--device foo",
    lambda: cli(["reproduce", "toy", "--preset", "paper", "--out", str(out / "o"), "--device", "foo"]),
)
out = tmp()
toy()
probe(
    "C --set / configs",
    "--set train.epochs=3 (valid)",
    lambda: run("toy", "paper", out=str(out), progress=False, overrides={"train.epochs": 3}),
    lambda r: r["setting"]["train"]["epochs"] == 3,
)
# forged seed file
out = tmp()
presets = toy(fail_at=1)
presets["paper"]["value"] = 9.0
try:
    run("toy", "paper", out=str(out), progress=False)
except KeyboardInterrupt:
    pass
f = out / "toy-paper.partial" / "seed-0.json"
d = json.loads(f.read_text())
d["setting"]["value"] = 1.0
f.write_text(json.dumps(d))
toy()
probe(
    "C --set / configs",
    "seed file from another run, setting edited",
    lambda: run("toy", "paper", out=str(out), progress=False, resume=True),
)

# ---------------------------------------------------------------- D: labels and layout
data = tiny()
for label in (-100, -1, 4, 7):
    probe("D labels / layout", f"train label {label} of 4 classes", lambda: trainer(relabel(data, label)).fit())
    probe("D labels / layout", f"test label {label} of 4 classes", lambda: trainer(data).evaluate(relabel(data, label)))
probe(
    "D labels / layout",
    "5 outputs for 4 classes",
    lambda: trainer(data, SmallCNN(num_classes=5, in_channels=1, width=4, neuron="tet")).fit(),
)
probe(
    "D labels / layout",
    "evaluate on empty set",
    lambda: trainer(data).evaluate(TensorDataset(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long))),
)
ev = TensorDataset(torch.rand(8, 4, 2, 6, 6), torch.randint(0, 2, (8,)))
ev.info = DatasetInfo("ev", ("a", "b"), (4, 2, 6, 6), time_major=True)
probe(
    "D labels / layout",
    "batch-major N = T",
    lambda: Trainer(
        MeanOutputCE(SmallCNN(num_classes=2, in_channels=2, width=4, neuron="tet"), T=4),
        ev,
        None,
        TrainConfig(epochs=1, batch_size=4, progress=False),
    ).fit(),
)


# ---------------------------------------------------------------- E: promises
class NaNTeacher(torch.nn.Module):
    def forward(self, x):
        return torch.full((x.shape[0], 4), float("nan"))


student = torch.nn.Sequential(
    torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(144, 4)
)
before = {k: v.clone() for k, v in student.state_dict().items()}
probe(
    "E promises",
    "teacher NaN",
    lambda: Trainer(
        DistilledANN(student, NaNTeacher()), data, None, TrainConfig(epochs=1, batch_size=32, progress=False)
    ).fit(),
)
if any(not torch.equal(before[k], v) for k, v in student.state_dict().items()):
    RESULTS["E promises"][-1] = ("teacher NaN", "ACCEPTED-WRONG", None, "student buffers changed")
out = tmp()
(out / "toy-paper.partial").write_text("x")
toy()
probe("E promises", ".partial is a file", lambda: run("toy", "paper", out=str(out), progress=False))
assert CALLS == []
out = tmp()
outside = tmp()
(out / "toy-paper.partial").symlink_to(outside)
toy()
probe("E promises", ".partial is a symlink", lambda: run("toy", "paper", out=str(out), progress=False))
assert CALLS == [] and not any(outside.iterdir())
out = tmp()
outside = tmp() / "f"
outside.write_text("keep")
(out / "toy-paper.lock").symlink_to(outside)
toy()
probe("E promises", ".lock is a symlink", lambda: run("toy", "paper", out=str(out), progress=False))
assert outside.read_text() == "keep"
out = tmp()
toy()
real = shutil.disk_usage
seed_store.shutil.disk_usage = lambda p: real(p)._replace(free=1000)
probe("E promises", "full disk before the first seed", lambda: run("toy", "paper", out=str(out), progress=False))
seed_store.shutil.disk_usage = real
assert CALLS == []
out = tmp()
toy()
write = seed_store.atomic_write_json


def fill(obj, path):
    if Path(path).name == "seed-1.json":
        raise OSError(errno.ENOSPC, "No space left on device")
    write(obj, path)


seed_store.atomic_write_json = fill
probe("E promises", "full disk mid-run", lambda: run("toy", "paper", out=str(out), progress=False))
seed_store.atomic_write_json = write
assert (out / "toy-paper.partial" / "seed-0.json").exists()
out = tmp()
toy()
holder = subprocess.Popen(
    [
        sys.executable,
        "-c",
        "import fcntl,os,sys,time; h=open(sys.argv[1],'a+'); "
        "fcntl.flock(h, fcntl.LOCK_EX); h.write(f'process {os.getpid()}'); h.flush(); "
        "print('ok', flush=True); time.sleep(30)",
        str(out / "toy-paper.lock"),
    ],
    stdout=subprocess.PIPE,
    text=True,
)
holder.stdout.readline()
probe("E promises", "second concurrent run", lambda: run("toy", "paper", out=str(out), progress=False))
holder.kill()
holder.wait()
out = tmp() / "file"
out.write_text("x")
toy()
probe("E promises", "--out is a file", lambda: run("toy", "paper", out=str(out), progress=False))

# ---------------------------------------------------------------- F: tracebacks become messages
from dataclasses import asdict  # noqa: E402

ckdir = tmp()
cfg = TrainConfig(epochs=2, batch_size=32, progress=False, checkpoint_dir=str(ckdir), resume=True)
model = SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
good = {
    "epoch": 1,
    "method": TET(model, 2).state_dict(),
    "optimizer": {},
    "scaler": {},
    "history": [],
    "scheduler": None,
    "config": asdict(cfg),
}
for label, state in [
    ("empty", b""),
    ("list", [1]),
    ("epoch -5", {**good, "epoch": -5}),
    ("no epoch", {k: v for k, v in good.items() if k != "epoch"}),
    ("wrong shape", {**good, "method": {"x": torch.zeros(2)}}),
    ("epoch as str", {**good, "epoch": "1"}),
]:
    if isinstance(state, bytes):
        (ckdir / "last.pt").write_bytes(state)
    else:
        torch.save(state, ckdir / "last.pt")
    probe("F actionable messages", f"checkpoint {label}", lambda: Trainer(TET(model, 2), data, None, cfg))
root = tmp()
cache.cached_arrays("p", {"s": 0}, lambda: {"x": np.arange(999)}, root=root)
npz, man = next(root.glob("*.npz")), next(root.glob("*.json"))
npz.write_bytes(npz.read_bytes()[:50])
m = json.loads(man.read_text())
m["file_sha256"] = cache.file_digest(npz)
man.write_text(json.dumps(m))
import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    probe(
        "F actionable messages",
        "truncated cache + forged manifest",
        lambda: cache.cached_arrays("p", {"s": 0}, lambda: {"x": np.arange(999)}, root=root),
        lambda e: np.array_equal(e["x"], np.arange(999)),
    )
f = tmp() / "file"
f.write_text("x")
os.environ["SNNLAB_DATA"] = str(f)
probe("F actionable messages", "SNNLAB_DATA is a file", lambda: cache.data_root())
del os.environ["SNNLAB_DATA"]
ro = tmp()
ro.chmod(0o500)
if os.access(ro, os.W_OK):
    real_atomic = cache.atomic_path

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    cache.atomic_path = refuse
probe(
    "F actionable messages",
    "SNNLAB_DATA read-only",
    lambda: cache.cached_arrays("p", {"s": 1}, lambda: {"x": np.arange(3)}, root=ro),
)
if os.access(ro, os.W_OK):
    cache.atomic_path = real_atomic
for label, members in [("5,000-char name", [("a" * 5000, "x")]), ("1000x bomb", [("z", b"\0" * 30_000_000)])]:
    a = tmp() / "a.zip"
    with zipfile.ZipFile(a, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members:
            z.writestr(n, d)
    t = tmp()
    probe("F actionable messages", f"zip {label}", lambda: download.safe_extract(a, t))
a = tmp() / "a.tar.gz"
with tarfile.open(a, "w:gz") as h:
    info = tarfile.TarInfo("b" * 5000)
    info.size = 1
    h.addfile(info, io.BytesIO(b"x"))
probe("F actionable messages", "tar 5,000-char name", lambda: download.safe_extract(a, tmp()))
a = tmp() / "a.tar.gz"
with tarfile.open(a, "w:gz") as h:
    for i in range(3):
        data_bytes = os.urandom(4000)
        info = tarfile.TarInfo(f"f{i}")
        info.size = 4000
        h.addfile(info, io.BytesIO(data_bytes))
a.write_bytes(a.read_bytes()[:3000])
probe("F actionable messages", "truncated tar.gz", lambda: download.safe_extract(a, tmp()))
a = tmp() / "a.zip"
with zipfile.ZipFile(a, "w") as z:
    z.writestr("x", os.urandom(3000))
a.write_bytes(a.read_bytes()[:-40])
probe("F actionable messages", "truncated zip", lambda: download.safe_extract(a, tmp()))
for label, raw in [
    ("negative dims", b"\x00\x00\x08\x03" + (-2).to_bytes(4, "big", signed=True) + bytes(8)),
    ("cut header", b"\x00\x00\x08\x03\x00"),
    ("255 dims", b"\x00\x00\x08\xff"),
]:
    p = tmp() / "t10k-images-idx3-ubyte"
    p.write_bytes(raw)
    probe("F actionable messages", f"IDX {label}", lambda: static_sets.read_idx(p))
from snnlab import threads  # noqa: E402

for value in ("99999999999", "0", "abc"):
    os.environ["SNNLAB_THREADS"] = value
    probe("F actionable messages", f"SNNLAB_THREADS={value}", lambda: threads.configure_threads())
del os.environ["SNNLAB_THREADS"]
out = tmp()
(out / "tet-book.json").write_text("{")
probe("F actionable messages", "truncated record", lambda: recorded_run("tet", "book", results=out))

# ---------------------------------------------------------------- report
total = Counter()
for cls, rows in RESULTS.items():
    kinds = Counter(kind for _, kind, _, _ in rows)
    good = sum(1 for _, kind, g, _ in rows if kind == "refused" and g)
    refused = kinds["refused"]
    total.update(kinds)
    total["good"] += good
    print(
        f"{cls}: {len(rows)} probes: {refused} refused ({good} name problem + fix), {kinds['accepted']} accepted "
        f"correctly, {kinds['ACCEPTED-WRONG']} accepted wrongly, {kinds['TRACEBACK']} tracebacks"
    )
    for label, kind, g, msg in rows:
        if kind != "refused" or not g or "-v" in sys.argv:
            print(
                f"    [{kind}{'' if g is None else ', actionable' if g else ', NOT actionable'}] {label}: {msg[:230]}"
            )
n = sum(len(r) for r in RESULTS.values())
print(
    f"TOTAL {n} probes: {total['refused']} refused ({total['good']} actionable, "
    f"{100 * total['good'] / max(total['refused'], 1):.0f} %), {total['accepted']} accepted correctly, "
    f"{total['ACCEPTED-WRONG']} accepted wrongly, {total['TRACEBACK']} tracebacks"
)
