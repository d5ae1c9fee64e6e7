"""The embedded ``eye`` set: a SEE-like synthetic single-eye emotion recording with APS and event frames.

Checked here: the registry entry and its metadata, sample and batch layouts, class/condition/subject design,
determinism of the cached generation, SEEN-style clip sampling, the physics of the four lighting conditions
(measured on the same underlying sequences recorded under each condition), and that event frames carry the label.
Thresholds are the measured values with slack (measured values are quoted next to each assertion). Small sets are
generated into a private data folder; one test loads the default-size set from the shared data folder's cache
(generated there on first use, ~20 s on 2 cores).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import snnlab.data.eye as eye_mod
from snnlab.data import get_dataset
from snnlab.data.cache import data_root
from snnlab.data.eye import CONDITIONS, EMOTIONS, SUBSTEPS, generate_eye

SMALL = dict(train_per_class=8, test_per_class=4)      # 56 + 28 sequences, ~2 s to generate
SHARED_DATA = data_root()  # the data folder outside the tests' private ones (read at import, before fixtures run)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("eye-data")


@pytest.fixture
def small(data_root, monkeypatch):
    monkeypatch.setenv("SNNLAB_DATA", str(data_root))
    return lambda split="train", **kw: get_dataset("eye", split, **{**SMALL, **kw})


# ------------------------------------------------------------------------------------------------ registry, layout
def test_info_describes_see_like_data(small):
    ds = small("train")
    info = ds.info
    assert info.name == "eye" and info.classes == EMOTIONS
    assert EMOTIONS == ("angry", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
    assert info.time_major and info.sample_shape == (4, 1, 32, 32)
    extra = info.extra
    assert tuple(extra["conditions"]) == CONDITIONS == ("normal", "overexposure", "low-light", "HDR")
    assert extra["fps"] == pytest.approx(30.0, abs=0.01) and extra["accumulation_ms"] == pytest.approx(33.3, abs=0.1)
    assert extra["sensor_size"] == (32, 32) and extra["timesteps"] == 4 and extra["stride"] == 4
    assert extra["modalities"] == {"frames": (4, 1, 32, 32), "events": (4, 2, 32, 32)}
    assert extra["random_crop"] is True and small("test").info.extra["random_crop"] is False


def test_samples_shapes_dtypes_ranges(small):
    ds = small("test")
    x, y = ds[0]
    assert set(x) == {"frames", "events"}
    assert x["frames"].shape == (4, 1, 32, 32) and x["frames"].dtype == torch.float32
    assert x["events"].shape == (4, 2, 32, 32) and x["events"].dtype == torch.float32
    assert y.dtype == torch.long and 0 <= int(y) < 7
    frames = torch.stack([ds[i][0]["frames"] for i in range(len(ds))])
    events = torch.stack([ds[i][0]["events"] for i in range(len(ds))])
    assert frames.min() >= 0 and frames.max() <= 1
    assert (events >= 0).all() and torch.equal(events, events.round())          # per-pixel counts
    assert events.sum() > 0 and (events.sum(dim=(1, 2, 3, 4)) > 0).all()         # every clip has events
    assert ds.aps.dtype == torch.uint8 and ds.aps.shape == (len(ds), 16, 32, 32)


def test_size_and_timesteps_options(small):
    ds = small("test", size=24, timesteps=3, stride=2)
    x, _ = ds[0]
    assert x["frames"].shape == (3, 1, 24, 24) and x["events"].shape == (3, 2, 24, 24)
    assert ds.clip(0) == [5, 7, 9]                                               # centred: span 5 of 16 frames


def test_single_modality_samples_are_the_matching_tensor(small):
    both = small("test")
    for modality, channels in (("frames", 1), ("events", 2)):
        ds = small("test", modality=modality)
        x, y = ds[3]
        assert torch.is_tensor(x) and torch.equal(x, both[3][0][modality]) and int(y) == int(both[3][1])
        assert ds.info.sample_shape == (4, channels, 32, 32) and ds.info.extra["modality"] == modality
        batch, _ = ds.collate_fn([ds[0], ds[1]])
        assert batch.shape == (4, 2, channels, 32, 32)
    assert small("test").info.extra["cache"]["bytes"] > 0
    with pytest.raises(ValueError, match="modality"):
        small("test", modality="depth")


def test_collate_is_time_major(small):
    ds = small("test")                                                      # fixed clips: comparable samples
    loader = DataLoader(ds, batch_size=5, shuffle=False, collate_fn=ds.collate_fn)
    x, y = next(iter(loader))
    assert x["frames"].shape == (4, 5, 1, 32, 32) and x["events"].shape == (4, 5, 2, 32, 32)
    assert torch.equal(y, ds.labels[:5])
    for n in range(5):
        sample = ds[n][0]
        assert torch.equal(x["frames"][:, n], sample["frames"]) and torch.equal(x["events"][:, n], sample["events"])


def test_classes_conditions_and_subjects_are_balanced(small):
    train, test = small("train"), small("test")
    for ds, per_class in ((train, SMALL["train_per_class"]), (test, SMALL["test_per_class"])):
        labels = ds.labels.numpy()
        assert np.bincount(labels, minlength=7).tolist() == [per_class] * 7
        pairs = {(int(lab), cond) for lab, cond in zip(labels, ds.conditions)}
        assert len(pairs) == 28                                             # every class under every condition
        counts = [sum(1 for lab, c in zip(labels, ds.conditions) if (lab, c) == p) for p in pairs]
        assert set(counts) == {per_class // 4}
        assert len(ds.subjects) == len(ds)
    assert set(train.subjects).isdisjoint(test.subjects)                    # unseen people at test


def test_default_splits_are_large_and_balanced(monkeypatch):
    """The default split sizes (420 training / 1,008 test sequences), served from the shared cache."""
    monkeypatch.setenv("SNNLAB_DATA", str(SHARED_DATA))
    train, test = get_dataset("eye", "train"), get_dataset("eye", "test")
    assert (len(train), len(test)) == (420, 1008)
    for ds, per_class in ((train, 60), (test, 144)):
        labels = ds.labels.numpy()
        assert np.bincount(labels, minlength=7).tolist() == [per_class] * 7
        pairs = [(int(lab), cond) for lab, cond in zip(labels, ds.conditions)]
        assert sorted({pairs.count(p) for p in set(pairs)}) == [per_class // 4] and len(set(pairs)) == 28
    assert test.info.extra["condition_counts"] == {c: 252 for c in CONDITIONS}
    assert set(train.subjects).isdisjoint(test.subjects)


def test_train_split_does_not_depend_on_the_test_size(small):
    train, other = small("train"), small("train", test_per_class=8)
    assert other.info.extra["checksum"] != train.info.extra["checksum"]                 # another entry...
    assert torch.equal(other.aps, train.aps) and torch.equal(other.labels, train.labels)  # ...same training data
    assert other.conditions == train.conditions and other.subjects == train.subjects
    assert all(np.array_equal(a, b) for a, b in zip(other.events_raw, train.events_raw))
    assert len(small("test", test_per_class=8)) == 56


def test_condition_filter(small):
    hdr = small("test", condition="HDR")
    assert len(hdr) == 7 and set(hdr.conditions) == {"HDR"}
    assert hdr.info.extra["condition_counts"] == {"normal": 0, "overexposure": 0, "low-light": 0, "HDR": 7}
    both = small("test", condition=["low", "Overexposed"])                  # SEE's spellings work too
    assert set(both.conditions) == {"low-light", "overexposure"} and len(both) == 14
    with pytest.raises(ValueError, match="unknown lighting condition.*normal"):
        small("test", condition="sunset")


def test_bad_options_fail_clearly(small):
    with pytest.raises(ValueError, match="size"):
        small("train", size=4)
    with pytest.raises(ValueError, match="timesteps"):
        small("train", timesteps=0)
    with pytest.raises(ValueError, match="unknown option"):
        small("train", T=4)


# ------------------------------------------------------------------------------------------------ clips
def test_test_clips_fixed_train_clips_random(small):
    test = small("test")
    assert test.clip(0) == [1, 5, 9, 13]                                    # centred span of 13 of 16 frames
    a, b = test[3][0], test[3][0]
    assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["events"], b["events"])
    assert torch.equal(a["frames"][:, 0], test.aps[3, [1, 5, 9, 13]].float() / 255)
    train = small("train")
    torch.manual_seed(1)
    clips = [tuple(train.clip(0)) for _ in range(30)]
    assert len(set(clips)) > 1                                              # random phase
    assert all(np.all(np.diff(c) == 4) for c in clips) and all(0 <= c[0] < 4 for c in clips)
    torch.manual_seed(1)
    assert [tuple(train.clip(0)) for _ in range(30)] == clips               # torch's global RNG drives them


def test_random_test_clips_are_seeded(small):
    pass_a = [small("test", random_crop=True, test_seed=0).clip(i) for i in range(28)]
    pass_b = [small("test", random_crop=True, test_seed=0).clip(i) for i in range(28)]
    pass_c = [small("test", random_crop=True, test_seed=1).clip(i) for i in range(28)]
    assert pass_a == pass_b and pass_a != pass_c


# ------------------------------------------------------------------------------------------------ determinism, cache
def test_generation_is_deterministic_and_cached(tmp_path, monkeypatch):
    def checksum(root, seed):
        monkeypatch.setenv("SNNLAB_DATA", str(root))
        return get_dataset("eye", "train", train_per_class=4, test_per_class=4, seed=seed).info.extra["checksum"]

    first = checksum(tmp_path / "a", 0)
    assert checksum(tmp_path / "b", 0) == first                             # rebuilt from scratch: same data
    assert checksum(tmp_path / "a", 1) != first                             # another seed: other data
    manifests = sorted((tmp_path / "a" / "cache").glob("eye-*.json"))
    assert len(manifests) == 2
    meta = json.loads(manifests[0].read_text())
    assert meta["bytes"] > 0 and meta["params"]["train_per_class"] == 4
    stamp = [m.stat().st_mtime_ns for m in manifests]
    assert checksum(tmp_path / "a", 0) == first                             # served from the cache
    assert [m.stat().st_mtime_ns for m in manifests] == stamp


def test_event_streams_match_event_frames(small):
    ds = small("test")
    spec = ds.spec
    assert spec.time_window_us == eye_mod.FRAME_US and spec.num_frames == 16
    for i in (0, 9):
        events = ds.events_raw[i]
        assert len(events) == int(ds.event_frames[i].sum())                 # every event lands in one window
        assert events["t"].min() >= 0 and events["t"].max() < 16 * eye_mod.FRAME_US
        k = 5
        window = events[(events["t"] >= k * spec.time_window_us) & (events["t"] < (k + 1) * spec.time_window_us)]
        on = np.zeros((32, 32))
        np.add.at(on, (window["y"][window["p"] == 1], window["x"][window["p"] == 1]), 1)
        assert np.array_equal(on, ds.event_frames[i, k, 1].numpy())


# ------------------------------------------------------------------------------------------------ physics
LABELS = np.repeat(np.arange(7), 2)
SUBJECTS = np.arange(14) % 6


@pytest.fixture(scope="module")
def recorded():
    """The same 14 sequences recorded under each condition, with and without DVS background noise."""
    out = {}
    for noise in (True, False):
        saved = dict(eye_mod.DVS_NOISE_HZ)
        if not noise:
            eye_mod.DVS_NOISE_HZ.update({c: 0.0 for c in CONDITIONS})
        try:
            out[noise] = {c: generate_eye(LABELS, [c] * 14, SUBJECTS, seed=3, return_radiance=True)
                          for c in CONDITIONS}
        finally:
            eye_mod.DVS_NOISE_HZ.update(saved)
    return out


def _exposure(reflectance):
    s, ts, h, w = reflectance.shape
    return reflectance[:, :-1].reshape(s, (ts - 1) // SUBSTEPS, SUBSTEPS, h, w).mean(2)


def test_same_scene_under_every_condition(recorded):
    clean = recorded[True]["normal"]["reflectance"]
    assert clean.shape == (14, 16 * SUBSTEPS + 1, 32, 32)
    for c in CONDITIONS:
        assert np.array_equal(recorded[True][c]["reflectance"], clean)
    # the clean render moves: expressions, blinks, saccades
    assert np.abs(np.diff(clean, axis=1)).max() > 0.3


def _aps_stats(rec):
    clean = _exposure(rec["normal"]["reflectance"])
    static = np.abs(np.diff(clean, axis=1)) < 1e-3                        # pixels whose scene does not change
    stats = {}
    for c in CONDITIONS:
        aps = rec[c]["aps"].astype(float)
        stats[c] = {
            "saturated": (aps >= 255).mean(), "crushed": (aps <= 10).mean(),
            "corr": np.mean([np.corrcoef(aps[i].ravel(), clean[i].ravel())[0, 1] for i in range(len(aps))]),
            "noise": np.diff(aps, axis=1)[static].std() / aps.mean(),       # temporal noise / mean level
        }
    return stats


def test_overexposure_saturates_the_intensity_frames(recorded):
    stats = _aps_stats(recorded[True])
    assert stats["normal"]["saturated"] < 0.02                               # measured 0.000
    assert stats["overexposure"]["saturated"] > 0.6                          # measured 0.93
    assert stats["overexposure"]["corr"] < stats["normal"]["corr"] - 0.15     # measured 0.66 vs 0.96


def test_low_light_frames_are_noisy(recorded):
    stats = _aps_stats(recorded[True])
    assert stats["normal"]["corr"] > 0.9                                     # measured 0.96
    assert stats["low-light"]["noise"] > 4 * stats["normal"]["noise"]        # measured 0.52 vs 0.066
    assert stats["low-light"]["corr"] < stats["normal"]["corr"] - 0.2        # measured 0.54


def test_hdr_clips_one_part_and_crushes_the_other(recorded):
    stats = _aps_stats(recorded[True])
    assert stats["HDR"]["saturated"] > 0.15 and stats["HDR"]["crushed"] > 0.1    # measured 0.34 and 0.21
    assert stats["normal"]["crushed"] < 0.01                                     # measured 0.000
    assert stats["HDR"]["corr"] < stats["normal"]["corr"] - 0.3                  # measured 0.17


def test_events_barely_change_with_lighting(recorded):
    noisy, clean = recorded[True], recorded[False]
    base = noisy["normal"]["counts"]
    ratio = noisy["overexposure"]["counts"] / base
    assert np.all(np.abs(ratio - 1) < 0.05)                                  # measured 1.000 .. 1.006 (log sensor)
    # without background noise, the signal events of HDR and low light stay within a small factor
    signal = clean["normal"]["counts"]
    for c, (lo, hi) in {"HDR": (0.9, 1.1), "low-light": (0.7, 1.05)}.items():  # measured 0.97-1.01, 0.81-0.92
        r = clean[c]["counts"] / signal
        assert np.all((r > lo) & (r < hi)), (c, r)
    # with it, low light adds background activity (as real sensors do in the dark)
    assert np.median(noisy["low-light"]["counts"] / base) > 1.2              # measured 1.55
    # the event images agree across conditions where the intensity images do not
    frames = {c: np.bincount(noisy[c]["events"]["y"].astype(int) * 32 + noisy[c]["events"]["x"], minlength=1024)
              for c in CONDITIONS}
    corr = {c: np.corrcoef(frames["normal"], frames[c])[0, 1] for c in CONDITIONS}
    assert corr["overexposure"] > 0.99 and corr["HDR"] > 0.95 and corr["low-light"] > 0.9   # measured 1.0, 0.997, 0.985


# ------------------------------------------------------------------------------------------------ learnability
def _fit_tiny_cnn(train, test, key: str, seed: int = 0) -> float:
    """Test accuracy of a tiny CNN trained for 25 epochs on the time-stacked ``key`` clips (an ANN, seconds)."""
    torch.manual_seed(seed)
    xtr = torch.stack([train[i][0][key] for i in range(len(train))]).flatten(1, 2)   # [N, T*C, H, W]
    xte = torch.stack([test[i][0][key] for i in range(len(test))]).flatten(1, 2)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(xtr.shape[1], 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(128, 7))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    for _ in range(25):
        for idx in torch.randperm(len(xtr)).split(32):
            loss = torch.nn.functional.cross_entropy(net(xtr[idx]), train.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return (net(xte).argmax(-1) == test.labels).float().mean().item()


def test_event_frames_carry_the_label(data_root, monkeypatch):
    """Event clips are learnable within seconds, and carry more than intensity clips for the same small CNN."""
    monkeypatch.setenv("SNNLAB_DATA", str(data_root))
    train = get_dataset("eye", "train", train_per_class=24, test_per_class=12)     # train clips are random crops
    test = get_dataset("eye", "test", train_per_class=24, test_per_class=12)
    events = _fit_tiny_cnn(train, test, "events")
    frames = _fit_tiny_cnn(train, test, "frames")
    assert events > 0.3                          # chance 1/7 = 0.14; measured 0.54-0.56 over 3 seeds
    assert events > frames + 0.15                # measured frames 0.14-0.20 (seeds 0-2) with this model
