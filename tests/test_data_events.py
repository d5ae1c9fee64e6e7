"""Generated event data: the cache, the DVS simulator, event framing, sprite rendering, event-digits/-gestures.

Every expectation is computed independently of the code under test (closed-form DVS physics, ``np.add.at``
histograms, hand-written refractory filters), so each assertion can fail. The two registered sets are generated once
per module into a temporary ``$SNNLAB_DATA``; determinism is checked on small subsets. One test loads event-gestures
at its default size from the shared data folder's cache (generated there on first use, ~20 s on 2 cores).
"""
from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import snnlab
import snnlab.data.cache as cache_mod
import snnlab.data.event_digits as event_digits_mod
import snnlab.data.gestures as gestures_mod
from snnlab.data import get_dataset
from snnlab.data.cache import CacheEntry, cached_arrays, content_checksum, data_root, file_digest
from snnlab.data.digits import load_digit_images, stratified_split
from snnlab.data.dvs import simulate_dvs
from snnlab.data.events import (EVENT_DTYPE, EventFrames, FrameSpec, events_to_frames, make_events, split_events,
                                time_major_collate)
from snnlab.data.render import render_sprites

SHARED_DATA = data_root()  # the data folder outside the tests' private ones (read at import, before fixtures run)


# =========================================================================================================== cache
class Builder:
    """A build function that counts its calls and returns fixed arrays (optionally raising)."""

    def __init__(self, value: float = 1.0, fail: bool = False, sleep: float = 0.0):
        self.calls, self.value, self.fail, self.sleep = 0, value, fail, sleep

    def __call__(self):
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self.fail:
            raise RuntimeError("generator exploded")
        return {"x": np.arange(12, dtype=np.float32).reshape(3, 4) * self.value,
                "labels": np.array([0, 1, 2], dtype=np.int64)}


def entry_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_cache_same_params_builds_once_and_loads(tmp_path):
    build = Builder(sleep=0.02)
    first = cached_arrays("toy", {"seed": 0, "n": 3}, build, root=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid entry loads silently
        second = cached_arrays("toy", {"n": 3, "seed": 0}, build, root=tmp_path)  # key order does not matter
    assert build.calls == 1
    assert first.checksum == second.checksum == content_checksum(build())
    for key in ("x", "labels"):
        np.testing.assert_array_equal(first[key], second[key])
        assert first[key].dtype == second[key].dtype
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".npz"]  # no stray temporaries
    summary = second.summary()
    npz = Path(summary["file"])
    assert npz.parent == tmp_path and npz.suffix == ".npz" and npz.name.startswith("toy-")
    assert summary["bytes"] == npz.stat().st_size
    assert summary["generation_s"] >= 0.02
    assert summary["checksum"] == content_checksum({"x": second["x"], "labels": second["labels"]})
    manifest = json.loads(npz.with_suffix(".json").read_text())
    assert manifest["file_sha256"] == file_digest(npz)
    assert manifest["params"] == {"seed": 0, "n": 3} and manifest["version"] == 1


def test_cache_different_params_or_version_select_new_entries(tmp_path):
    build = Builder()
    a = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    b = cached_arrays("toy", {"seed": 1}, Builder(value=2.0), root=tmp_path)
    c = cached_arrays("toy", {"seed": 0}, build, version=2, root=tmp_path)
    d = cached_arrays("other", {"seed": 0}, build, root=tmp_path)
    assert build.calls == 3
    assert len({a.path, b.path, c.path, d.path}) == 4
    assert a.checksum != b.checksum and a.checksum == c.checksum == d.checksum
    assert len(list(tmp_path.glob("*.npz"))) == len(list(tmp_path.glob("*.json"))) == 4
    # each entry still loads independently afterwards
    again = Builder(value=2.0)
    assert cached_arrays("toy", {"seed": 1}, again, root=tmp_path).checksum == b.checksum and again.calls == 0


def test_cache_corrupted_npz_is_rebuilt_with_warning(tmp_path):
    build = Builder()
    entry = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    raw = bytearray(entry.path.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 8] = bytes(b ^ 0xFF for b in raw[middle:middle + 8])
    entry.path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="corrupted"):
        rebuilt = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    assert build.calls == 2 and rebuilt.checksum == entry.checksum
    assert file_digest(rebuilt.path) == json.loads(rebuilt.path.with_suffix(".json").read_text())["file_sha256"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached_arrays("toy", {"seed": 0}, build, root=tmp_path)  # the rebuilt entry is trusted again
    assert build.calls == 2


def test_cache_truncated_npz_and_garbage_manifest_are_rebuilt(tmp_path):
    build = Builder()
    entry = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    manifest_path = entry.path.with_suffix(".json")
    manifest_path.write_text("{not json")
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    assert build.calls == 2
    entry.path.write_bytes(entry.path.read_bytes()[:40])
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        again = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    assert build.calls == 3 and again.checksum == entry.checksum


@pytest.mark.parametrize("edit", ["params", "version"])
def test_cache_stale_manifest_is_rebuilt(tmp_path, edit):
    build = Builder()
    entry = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    manifest_path = entry.path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    if edit == "params":
        manifest["params"]["seed"] = 99
    else:
        manifest["version"] = 0
    manifest_path.write_text(json.dumps(manifest))
    with pytest.warns(RuntimeWarning, match="stale"):
        rebuilt = cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    assert build.calls == 2 and rebuilt.checksum == entry.checksum
    assert json.loads(manifest_path.read_text())["params"] == {"seed": 0}  # the manifest was rewritten


def test_cache_failed_build_leaves_nothing(tmp_path):
    folder = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="exploded"):
        cached_arrays("toy", {"seed": 0}, Builder(fail=True), root=folder)
    assert entry_files(folder) == []


def test_cache_failed_write_leaves_no_trusted_entry(tmp_path, monkeypatch):
    """The npz is written first and the manifest last: a crash in between leaves no entry that loads."""
    build = Builder()

    def broken_json(obj, path):
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod, "atomic_write_json", broken_json)
    with pytest.raises(OSError, match="disk full"):
        cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    assert [n for n in entry_files(tmp_path) if n.endswith((".json", ".tmp"))] == []
    monkeypatch.undo()
    cached_arrays("toy", {"seed": 0}, build, root=tmp_path)
    assert build.calls == 2  # the orphan npz was not trusted

    def broken_write(handle, arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod, "_write_npz", broken_write)
    with pytest.raises(OSError):
        cached_arrays("toy", {"seed": 5}, build, root=tmp_path)
    names = entry_files(tmp_path)
    assert len(names) == 2 and not any(n.endswith(".tmp") for n in names)  # only the seed-0 entry


def test_content_checksum_ignores_file_format_but_not_content(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"a": rng.standard_normal((5, 7)).astype(np.float32), "b": np.arange(10, dtype=np.int64)}
    np.savez(tmp_path / "plain.npz", **arrays)
    np.savez_compressed(tmp_path / "zipped.npz", b=arrays["b"], a=arrays["a"])
    assert file_digest(tmp_path / "plain.npz") != file_digest(tmp_path / "zipped.npz")
    sums = set()
    for name in ("plain.npz", "zipped.npz"):
        with np.load(tmp_path / name) as handle:
            sums.add(content_checksum({k: handle[k] for k in handle.files}))
    fortran = {"a": np.asfortranarray(arrays["a"]), "b": arrays["b"][::-1].copy()[::-1]}  # other memory layouts
    sums.add(content_checksum(fortran))
    assert sums == {content_checksum(arrays)}
    reference = content_checksum(arrays)
    changed = {k: v.copy() for k, v in arrays.items()}
    changed["a"][3, 2] += 1e-3
    assert content_checksum(changed) != reference
    assert content_checksum({"a": arrays["a"], "b": arrays["b"].astype(np.int32)}) != reference  # dtype
    assert content_checksum({"a": arrays["a"].reshape(7, 5), "b": arrays["b"]}) != reference  # shape
    assert content_checksum({"A": arrays["a"], "b": arrays["b"]}) != reference  # names


def test_data_root_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"
    build = Builder()
    entry = cached_arrays("toy", {"seed": 0}, build)  # no root: data_root()/cache
    assert entry.path.parent == tmp_path / "elsewhere" / "cache"
    assert isinstance(entry, CacheEntry)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SNNLAB_DATA", "~/d")
    assert data_root() == tmp_path / "d"
    monkeypatch.delenv("SNNLAB_DATA")
    repo = Path(snnlab.__file__).resolve().parents[1]
    expected = repo / "data" if (repo / "pyproject.toml").exists() else Path.home() / ".cache" / "snnlab" / "data"
    assert data_root() == expected


# ============================================================================================================= DVS
def stripe_video(intensity_rows: np.ndarray) -> np.ndarray:
    """``[K, P]`` intensities of P pixels over K frames -> a ``[K, 1, P]`` video."""
    return np.asarray(intensity_rows, dtype=np.float64)[:, None, :]


def exact(**kw):
    """Simulator settings with the ideal pixel (no mismatch, no refractory period, no noise)."""
    return dict(threshold_jitter=0.0, refractory_us=0.0, noise_hz=0.0, **kw)


def test_dvs_static_scene_is_silent_and_noise_is_poisson():
    rng = np.random.default_rng(0)
    video = np.repeat(rng.uniform(0.05, 1.0, (2, 1, 16, 16)), 6, axis=1)  # two static textured scenes
    times = np.linspace(0, 1_000_000, 6)
    streams = simulate_dvs(video, times, threshold_jitter=0.05, refractory_us=500, noise_hz=0.0)
    assert [len(s) for s in streams] == [0, 0]
    rate = 80.0
    streams = simulate_dvs(video, times, noise_hz=rate, rng=np.random.default_rng(1))
    expected = rate * 16 * 16 * 1.0  # per video: rate x pixels x duration (1 s)
    total = sum(len(s) for s in streams)
    assert abs(total - 2 * expected) < 5 * math.sqrt(2 * expected)
    for s in streams:
        assert s.dtype == EVENT_DTYPE
        assert abs(len(s) - expected) < 5 * math.sqrt(expected)
        on = s["p"].mean()
        assert abs(on - 0.5) < 5 * 0.5 / math.sqrt(len(s))
        assert set(np.unique(s["p"])) == {0, 1}
        assert np.all(np.diff(s["t"]) >= 0) and s["t"].min() >= 0 and s["t"].max() <= 1_000_000
        assert abs((s["t"] < 500_000).mean() - 0.5) < 5 * 0.5 / math.sqrt(len(s))  # uniform in time
        counts = np.bincount(s["y"].astype(int) * 16 + s["x"], minlength=256)
        assert counts.min() > 0 and s["x"].max() < 16 and s["y"].max() < 16  # spread over all pixels


def moving_edge(n_frames=121, width=40, height=3, start=5.0, speed=0.25, dark=0.1, bright=1.0):
    """A bright half-plane x < e(t) moving right over a dark one, rendered with exact pixel coverage."""
    e = start + speed * np.arange(n_frames)
    x = np.arange(width)
    coverage = np.clip(e[:, None] - (x[None] - 0.5), 0, 1)  # fraction of pixel [x-0.5, x+0.5] left of the edge
    frame = dark + (bright - dark) * coverage
    return np.repeat(frame[:, None, :], height, axis=1), e


def test_dvs_moving_bright_edge_gives_on_events_at_the_leading_edge():
    video, edge = moving_edge()
    dt = 1000.0
    times = np.arange(len(edge)) * dt
    (events,) = simulate_dvs(video, times, threshold=0.2, **exact())
    assert len(events) > 0 and np.all(events["p"] == 1)
    edge_at_event = np.interp(events["t"], times - times[0], edge)
    assert np.abs(events["x"] - edge_at_event).max() <= 1.0  # the pixel the edge is crossing, not elsewhere
    assert np.corrcoef(events["t"], events["x"])[0, 1] > 0.99
    # each pixel the edge fully crossed saw log(bright/dark) of change: floor(dL / C) events
    per_pixel = np.floor(np.log((1.0 + 1e-3) / (0.1 + 1e-3)) / 0.2)
    counts = np.zeros((3, 40), int)
    np.add.at(counts, (events["y"], events["x"]), 1)
    assert np.all(counts[:, 6:35] == per_pixel)
    assert np.all(counts[:, :5] == 0) and np.all(counts[:, 36:] == 0)


def test_dvs_darkening_gives_off_events():
    video, edge = moving_edge()
    times = np.arange(len(edge)) * 1000.0
    (events,) = simulate_dvs(video[::-1].copy(), times, threshold=0.2, **exact())  # the edge recedes: pixels darken
    assert len(events) > 0 and np.all(events["p"] == 0)
    assert np.corrcoef(events["t"], events["x"])[0, 1] < -0.99
    # a global dimming: every pixel emits floor(|dL| / C) OFF events
    levels = np.geomspace(1.0, 0.05, 30)
    dim = np.broadcast_to(levels[:, None, None], (30, 4, 5)).copy()
    (events,) = simulate_dvs(dim, np.arange(30) * 1000.0, threshold=0.25, **exact())
    n = math.floor(abs(math.log((0.05 + 1e-3) / (1 + 1e-3))) / 0.25)
    assert np.all(events["p"] == 0) and len(events) == 20 * n


def test_dvs_step_of_k_thresholds_gives_k_events_at_interpolated_times():
    C, eps = 0.2, 1e-3
    ks = np.array([0, 1, 2, 3, 5, 8])
    level0 = np.log(0.3)
    up = np.exp(level0 + (ks + 0.5) * C) - eps  # log(I + eps) changes by (k + 1/2) C
    down = np.exp(level0 - (ks + 0.5) * C) - eps
    start = np.full(2 * len(ks), np.exp(level0) - eps)
    video = stripe_video([start, np.concatenate([up, down])])
    t0, t1 = 3_000.0, 13_000.0  # times are reported relative to the first frame
    (events,) = simulate_dvs(video, [t0, t1], threshold=C, eps=eps, **exact())
    counts = np.bincount(events["x"], minlength=2 * len(ks))
    np.testing.assert_array_equal(counts, np.concatenate([ks, ks]))
    assert np.all(events["p"][events["x"] < len(ks)] == 1) and np.all(events["p"][events["x"] >= len(ks)] == 0)
    for pixel, k in enumerate(np.concatenate([ks, ks])):
        stamps = np.sort(events["t"][events["x"] == pixel])
        expected = np.arange(1, k + 1) / (k + 0.5) * (t1 - t0)  # the j-th level is crossed at j C / ((k+1/2) C)
        np.testing.assert_allclose(stamps, expected, atol=1.0)


def test_dvs_reference_carries_over_frames():
    C, eps = 0.2, 1e-3
    base = np.log(0.4)
    # log intensity (in units of C above base): 0 -> 0.7 -> 1.4 -> -0.3 over frames at 0, 10, 20, 30 ms
    levels = np.array([0.0, 0.7, 1.4, -0.3])
    video = stripe_video((np.exp(base + levels * C) - eps)[:, None])
    (events,) = simulate_dvs(video, [0, 10_000, 20_000, 30_000], threshold=C, eps=eps, **exact())
    # ON at +1C (inside the 2nd step, 3/7 of the way); OFF at 0C (1.4 -> -0.3: 1.4/1.7 of the way); -1C not reached
    np.testing.assert_array_equal(events["p"], [1, 0])
    np.testing.assert_allclose(events["t"], [10_000 + 10_000 * 0.3 / 0.7, 20_000 + 10_000 * 1.4 / 1.7], atol=1.0)


def expected_refractory(pixels: np.ndarray, t: np.ndarray, refractory: float) -> set:
    """The documented rule, written out: keep a crossing iff the pixel's previous crossing is >= refractory ago."""
    kept = set()
    for pixel in np.unique(pixels):
        times = np.sort(t[pixels == pixel])
        previous = -np.inf
        for stamp in times:
            if stamp - previous >= refractory:
                kept.add((int(pixel), int(stamp)))
            previous = stamp  # measured from the previous crossing, emitted or not
    return kept


def test_dvs_refractory_period_measured_from_previous_crossing():
    C, eps = 0.2, 1e-3
    frames = 13
    times = np.arange(frames) * 600.0
    ramp = np.log(0.05) + np.arange(frames)[:, None] * np.array([1.5 * C, 0.4 * C, 1.0001 * C])[None]
    # pixel 0 crosses every 400 us, pixel 1 every 1500 us, pixel 2 every 600 us (once per frame)
    video = stripe_video(np.exp(ramp) - eps)
    (all_events,) = simulate_dvs(video, times, threshold=C, eps=eps, **exact())
    (kept,) = simulate_dvs(video, times, threshold=C, eps=eps, threshold_jitter=0.0, refractory_us=1000.0)
    pixel_counts = np.bincount(all_events["x"], minlength=3)
    assert pixel_counts[0] > 10 and pixel_counts[1] >= 4 and pixel_counts[2] >= 10
    got = {(int(x), int(t)) for x, t in zip(kept["x"], kept["t"])}
    assert got == expected_refractory(all_events["x"], all_events["t"], 1000.0)
    kept_counts = np.bincount(kept["x"], minlength=3)
    # a pixel crossing faster than the refractory period reports only its first crossing; a slow one reports all
    assert kept_counts[0] == 1 and kept_counts[2] == 1 and kept_counts[1] == pixel_counts[1]
    # reported events of one pixel are never closer than the period when the pixel is slower than it
    assert np.diff(np.sort(kept["t"][kept["x"] == 1])).min() >= 1000 - 1


def test_dvs_refractory_matches_rule_on_random_scene():
    rng = np.random.default_rng(3)
    video = np.cumsum(rng.normal(0, 0.25, (40, 6, 6)), axis=0)
    video = np.exp(video - video.min() - 3)
    times = np.cumsum(rng.uniform(200, 900, 40))
    (all_events,) = simulate_dvs(video, times, threshold=0.15, **exact())
    (kept,) = simulate_dvs(video, times, threshold=0.15, threshold_jitter=0.0, refractory_us=700.0)
    pixel = all_events["y"].astype(int) * 6 + all_events["x"]
    expected = expected_refractory(pixel, all_events["t"], 700.0)
    got = {(int(y) * 6 + int(x), int(t)) for x, y, t in zip(kept["x"], kept["y"], kept["t"])}
    assert 0 < len(got) < len(all_events)
    # times are rounded to integer us after filtering: tolerate disagreement only for gaps within 1 us of the period
    assert len(got ^ expected) <= 0.01 * len(expected) + 2


def test_dvs_global_gain_leaves_events_nearly_unchanged():
    rng = np.random.default_rng(7)
    sprites = 0.3 + 0.7 * rng.random((3, 7, 7))
    centres = np.stack([np.linspace(6, 18, 40), np.linspace(8, 14, 40)], axis=-1)[None].repeat(3, 0)
    video = render_sprites(sprites, centres, (24, 24), background=0.25).astype(np.float64)
    times = np.arange(40) * 2_000.0

    def frames(v, eps):
        streams = simulate_dvs(v, times, threshold=0.2, eps=eps, rng=np.random.default_rng(0))
        spec = FrameSpec(sensor_size=(24, 24), duration_us=int(times[-1]) + 1, frames=4)
        return np.stack([events_to_frames(s, spec) for s in streams])

    bright, dim = frames(video, 1e-6), frames(0.1 * video, 1e-6)
    assert bright.sum() > 500
    assert abs(dim.sum() - bright.sum()) <= 0.01 * bright.sum()
    assert np.abs(dim - bright).sum() <= 0.03 * bright.sum()
    # the property relies on eps << intensity: with a large eps the dimmed scene loses events
    bright_eps, dim_eps = frames(video, 0.05), frames(0.1 * video, 0.05)
    assert dim_eps.sum() < 0.7 * bright_eps.sum()


def test_dvs_batch_equals_individual_videos():
    rng = np.random.default_rng(2)
    video = np.exp(np.cumsum(rng.normal(0, 0.3, (3, 10, 5, 6)), axis=1) - 2)
    times = np.arange(10) * 1_000.0
    batch = simulate_dvs(video, times, threshold=0.2, threshold_jitter=0.0, refractory_us=300.0)
    assert len(batch) == 3 and all(len(s) > 0 for s in batch)
    for i in range(3):
        (alone,) = simulate_dvs(video[i], times, threshold=0.2, threshold_jitter=0.0, refractory_us=300.0)
        key = np.lexsort((alone["p"], alone["x"], alone["y"], alone["t"]))
        key_b = np.lexsort((batch[i]["p"], batch[i]["x"], batch[i]["y"], batch[i]["t"]))
        np.testing.assert_array_equal(alone[key], batch[i][key_b])
        assert np.all(np.diff(batch[i]["t"]) >= 0)


def test_dvs_input_validation():
    ok = np.ones((4, 3, 3))
    times = np.arange(4) * 1000.0
    with pytest.raises(ValueError, match=">= 0"):
        simulate_dvs(-ok, times)
    with pytest.raises(ValueError, match="shape"):
        simulate_dvs(np.ones((3, 3)), times)
    with pytest.raises(ValueError, match="shape"):
        simulate_dvs(np.ones((1, 1, 4, 3, 3)), times)
    with pytest.raises(ValueError, match="increasing"):
        simulate_dvs(ok, [0, 1000, 1000, 2000])
    with pytest.raises(ValueError, match="increasing"):
        simulate_dvs(ok, [0, 2000, 1000, 3000])
    with pytest.raises(ValueError, match="increasing"):
        simulate_dvs(ok, times[:3])  # wrong number of frame times


# ========================================================================================================== events
def random_events(n, width, height, t_max, seed=0, t_min=0):
    rng = np.random.default_rng(seed)
    return make_events(rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(t_min, t_max, n),
                       rng.integers(0, 2, n))


def histogram(events, n_frames, bin_of, height, width):
    out = np.zeros((n_frames, 2, height, width), np.float32)
    np.add.at(out, (bin_of, events["p"].astype(int), events["y"].astype(int), events["x"].astype(int)), 1)
    return out


def test_make_events_sorts_and_types():
    events = make_events([3, 1, 2], [0, 1, 2], [30, 10, 20], [1, 0, 1])
    assert events.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(events["t"], [10, 20, 30])
    np.testing.assert_array_equal(events["x"], [1, 2, 3])
    parts = split_events(np.concatenate([events, events[:2]]), np.array([3, 2]))
    assert [len(p) for p in parts] == [3, 2]


@pytest.mark.parametrize("n_frames", [10, 7, 1])
def test_events_to_frames_fixed_number_matches_histogram(n_frames):
    W, H, D = 20, 12, 300_000
    events = random_events(3000, W, H, D + 50_000, seed=n_frames, t_min=-20_000)  # some outside [0, D)
    frames = events_to_frames(events, FrameSpec(sensor_size=(W, H), duration_us=D, frames=n_frames))
    inside = events[(events["t"] >= 0) & (events["t"] < D)]
    bins = inside["t"] * n_frames // D  # exact integer arithmetic: bin k = [k D/F, (k+1) D/F)
    assert frames.shape == (n_frames, 2, H, W) and frames.dtype == np.float32
    np.testing.assert_array_equal(frames, histogram(inside, n_frames, bins, H, W))
    assert frames.sum() == len(inside) < len(events)


@pytest.mark.parametrize("window", [30_000, 70_000, 300_000])
def test_events_to_frames_time_window_matches_histogram(window):
    W, H, D = 9, 7, 300_000
    events = random_events(2000, W, H, D + 10_000, seed=window)
    spec = FrameSpec(sensor_size=(W, H), duration_us=D, time_window_us=window)
    frames = events_to_frames(events, spec)
    n = math.ceil(D / window)
    assert spec.num_frames == n and frames.shape == (n, 2, H, W)
    inside = events[events["t"] < D]
    np.testing.assert_array_equal(frames, histogram(inside, n, inside["t"] // window, H, W))
    if D % window:  # trailing partial frame holds the events of [(n-1) w, D)
        last = ((inside["t"] >= (n - 1) * window)).sum()
        assert 0 < frames[-1].sum() == last


def test_events_to_frames_short_recording_gets_trailing_empty_frames():
    events = random_events(500, 8, 8, 100_000, seed=1)
    frames = events_to_frames(events, FrameSpec(sensor_size=(8, 8), duration_us=300_000, time_window_us=30_000))
    assert frames.shape == (10, 2, 8, 8)
    assert frames[:4].sum() == 500 and frames[4:].sum() == 0
    frames = events_to_frames(events, FrameSpec(sensor_size=(8, 8), duration_us=300_000, frames=6))
    assert frames.shape == (6, 2, 8, 8) and frames[:2].sum() == 500 and frames[2:].sum() == 0


def test_events_to_frames_downsampling_keeps_events():
    W, H, D = 20, 12, 100_000
    events = random_events(4000, W, H, D, seed=4)
    spec = FrameSpec(sensor_size=(W, H), duration_us=D, frames=4, size=(6, 10))  # size is (H, W)
    frames = events_to_frames(events, spec)
    assert frames.shape == spec.frame_shape == (4, 2, 6, 10)
    bins = events["t"] * 4 // D
    expected = np.zeros((4, 2, 6, 10), np.float32)
    np.add.at(expected, (bins, events["p"].astype(int), events["y"] // 2, events["x"] // 2), 1)
    np.testing.assert_array_equal(frames, expected)
    odd = events_to_frames(events, FrameSpec(sensor_size=(W, H), duration_us=D, frames=4, size=(5, 7)))
    assert odd.shape == (4, 2, 5, 7) and odd.sum() == len(events)
    # total per polarity and per time bin survives any downsampling
    np.testing.assert_array_equal(odd.sum(axis=(2, 3)), expected.sum(axis=(2, 3)))
    same = events_to_frames(events, FrameSpec(sensor_size=(W, H), duration_us=D, frames=4, size=(H, W)))
    np.testing.assert_array_equal(same, events_to_frames(events, FrameSpec(sensor_size=(W, H), duration_us=D,
                                                                           frames=4)))


def test_events_to_frames_clip_and_log_scale():
    events = make_events([1] * 5 + [2], [0] * 6, [0, 1, 2, 3, 4, 5], [1] * 6)
    raw = events_to_frames(events, FrameSpec(sensor_size=(4, 2), duration_us=10, frames=1))
    assert raw[0, 1, 0, 1] == 5 and raw[0, 1, 0, 2] == 1
    clipped = events_to_frames(events, FrameSpec(sensor_size=(4, 2), duration_us=10, frames=1, clip=2))
    assert clipped[0, 1, 0, 1] == 2 and clipped[0, 1, 0, 2] == 1
    logged = events_to_frames(events, FrameSpec(sensor_size=(4, 2), duration_us=10, frames=1, log_scale=True))
    np.testing.assert_allclose(logged[0, 1, 0, :3], [0, math.log(6), math.log(2)], rtol=1e-6)


def test_merged_polarities_count_both_in_one_channel_before_clipping():
    W, H, D = 9, 7, 100_000
    events = random_events(2000, W, H, D, seed=7)
    bins = events["t"] * 5 // D
    merged = np.zeros((5, 1, H, W), np.float32)
    np.add.at(merged, (bins, 0, events["y"].astype(int), events["x"].astype(int)), 1)  # polarity ignored
    spec = FrameSpec(sensor_size=(W, H), duration_us=D, frames=5, polarity="merge")
    assert spec.frame_shape == (5, 1, H, W)
    np.testing.assert_array_equal(events_to_frames(events, spec), merged)
    clipped = FrameSpec(sensor_size=(W, H), duration_us=D, frames=5, polarity="merge", clip=1)
    np.testing.assert_array_equal(events_to_frames(events, clipped), np.minimum(merged, 1))
    empty = events_to_frames(np.zeros(0, EVENT_DTYPE), spec)
    assert empty.shape == (5, 1, H, W) and not empty.any()
    with pytest.raises(ValueError, match="polarity must be one of"):
        FrameSpec(sensor_size=(W, H), duration_us=D, frames=5, polarity="on")


@pytest.mark.parametrize("kw", [dict(frames=5), dict(time_window_us=7_000), dict(frames=3, size=(4, 5))])
def test_events_to_frames_empty_stream(kw):
    spec = FrameSpec(sensor_size=(10, 8), duration_us=20_000, **kw)
    frames = events_to_frames(np.zeros(0, EVENT_DTYPE), spec)
    assert frames.shape == spec.frame_shape and frames.dtype == np.float32 and not frames.any()
    late = make_events([1], [1], [25_000], [1])  # only events after the recording
    assert not events_to_frames(late, spec).any()


def test_frame_spec_validation_and_shapes():
    with pytest.raises(ValueError, match="exactly one"):
        FrameSpec(sensor_size=(4, 4), duration_us=100, frames=2, time_window_us=10)
    with pytest.raises(ValueError, match="exactly one"):
        FrameSpec(sensor_size=(4, 4), duration_us=100)
    with pytest.raises(ValueError, match="frames"):
        FrameSpec(sensor_size=(4, 4), duration_us=100, frames=0)
    with pytest.raises(ValueError, match="time_window_us"):
        FrameSpec(sensor_size=(4, 4), duration_us=100, time_window_us=0)
    with pytest.raises(ValueError, match="time_window_us"):
        FrameSpec(sensor_size=(4, 4), duration_us=100, time_window_us=101)
    assert FrameSpec(sensor_size=(34, 20), duration_us=300_000, time_window_us=70_000).frame_shape == (5, 2, 20, 34)
    assert FrameSpec(sensor_size=(34, 20), duration_us=300_000, frames=3, size=(10, 17)).frame_shape == (3, 2, 10, 17)


def test_time_major_collate_tensors_and_dicts():
    samples = [torch.full((3, 2, 4, 4), float(i)) for i in range(5)]
    x, y = time_major_collate([(s, i) for i, s in enumerate(samples)])
    assert x.shape == (3, 5, 2, 4, 4) and torch.equal(y, torch.arange(5))
    for i in range(5):
        assert torch.equal(x[:, i], samples[i])
    batch = [({"frames": torch.randn(4, 1, 3, 3), "events": torch.randn(4, 2, 3, 3)}, torch.tensor(i % 2))
             for i in range(3)]
    x, y = time_major_collate(batch)
    assert set(x) == {"frames", "events"}
    assert x["frames"].shape == (4, 3, 1, 3, 3) and x["events"].shape == (4, 3, 2, 3, 3)
    assert torch.equal(x["events"][:, 2], batch[2][0]["events"]) and torch.equal(y, torch.tensor([0, 1, 0]))


def test_event_frames_dataset_and_loader():
    spec = FrameSpec(sensor_size=(6, 5), duration_us=10_000, frames=4)
    streams = [random_events(50 + 10 * i, 6, 5, 10_000, seed=i) for i in range(7)]
    counts = np.array([len(s) for s in streams])
    labels = np.arange(7) % 3
    with pytest.raises(ValueError, match="labels"):
        EventFrames(streams, labels[:-1], spec)
    ds = EventFrames.from_concatenated(np.concatenate(streams), counts, labels, np.array([1, 4, 6]), spec)
    assert len(ds) == 3 and ds.labels.dtype == torch.long and ds.labels.tolist() == [1, 1, 0]
    x, y = ds[1]
    np.testing.assert_array_equal(x.numpy(), events_to_frames(streams[4], spec))
    loader = DataLoader(ds, batch_size=2, collate_fn=ds.collate_fn)
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 2, 2, 5, 6) and yb.tolist() == [1, 1]
    assert EventFrames([], np.zeros(0), spec).frames.shape == (0, 4, 2, 5, 6)


def test_tonic_transforms_accept_generated_events():
    import tonic.transforms as T

    rng = np.random.default_rng(0)
    video = np.exp(np.cumsum(rng.normal(0, 0.3, (20, 8, 10)), axis=0) - 2)
    (events,) = simulate_dvs(video, np.arange(20) * 1000.0, threshold=0.2)
    assert len(events) > 100
    frames = T.ToFrame(sensor_size=(10, 8, 2), time_window=5_000, start_time=0, end_time=20_000,
                       include_incomplete=True)(events)
    assert frames.shape == (4, 2, 8, 10) and frames.sum() == len(events)
    np.testing.assert_array_equal(frames, histogram(events, 4, events["t"] // 5_000, 8, 10))
    small = T.Downsample(spatial_factor=0.5)(events)
    np.testing.assert_array_equal(small["x"], events["x"] // 2)
    np.testing.assert_array_equal(small["t"], events["t"])
    # Denoise keeps events with a 4-neighbour active within filter_time and drops isolated ones
    # (tonic treats every pixel as active until filter_time, so the test events start later)
    cluster = make_events([5, 6, 5, 6], [5, 5, 6, 6], [5_000, 5_010, 5_020, 5_030], [1, 1, 0, 0])
    lonely = make_events([0, 9], [0, 9], [50_000, 90_000], [1, 0])
    kept = T.Denoise(filter_time=1_000)(np.sort(np.concatenate([cluster, lonely]), order="t"))
    assert kept.dtype == EVENT_DTYPE
    assert sorted(zip(kept["x"].tolist(), kept["y"].tolist())) == [(5, 6), (6, 5), (6, 6)]  # the first has no past


# ========================================================================================================== render
def test_render_integer_centre_reproduces_sprite():
    rng = np.random.default_rng(0)
    sprite = rng.random((1, 5, 7))  # odd sizes: pixel centres land on canvas pixels
    video = render_sprites(sprite, np.array([[[10.0, 6.0]]]), (14, 20), background=0.1)
    assert video.shape == (1, 1, 14, 20) and video.dtype == np.float32
    np.testing.assert_allclose(video[0, 0, 4:9, 7:14], sprite[0], atol=1e-6)
    outside = np.ones((14, 20), bool)
    outside[4:9, 7:14] = False
    np.testing.assert_allclose(video[0, 0][outside], 0.1, atol=1e-6)


def test_render_alpha_compositing():
    rng = np.random.default_rng(1)
    sprite = rng.random((2, 5, 5))
    background = rng.random((2, 12, 12))
    centres = np.array([[[6.0, 5.0]], [[3.0, 8.0]]])
    clear = render_sprites(sprite, centres, (12, 12), background=background, alphas=np.zeros((2, 5, 5)))
    np.testing.assert_allclose(clear[:, 0], background, atol=1e-6)
    half = render_sprites(sprite, centres, (12, 12), background=background, alphas=np.full((2, 5, 5), 0.5))
    np.testing.assert_allclose(half[0, 0, 3:8, 4:9], 0.5 * sprite[0] + 0.5 * background[0, 3:8, 4:9], atol=1e-6)
    np.testing.assert_allclose(half[1, 0, 6:11, 1:6], 0.5 * sprite[1] + 0.5 * background[1, 6:11, 1:6], atol=1e-6)


def test_render_shift_by_one_pixel_shifts_image():
    rng = np.random.default_rng(2)
    sprite = rng.random((1, 6, 6))
    base = np.array([9.3, 7.6])
    centres = np.stack([base, base + [1, 0], base + [0, 1]])[None]  # three frames: base, right, down
    scales = np.ones((1, 3))
    video = render_sprites(sprite, centres, (18, 20), scales=scales)[0]
    assert video[0].sum() > 1 and abs(video[0].sum() - sprite.sum()) < 1e-3  # translation keeps the mass
    np.testing.assert_allclose(video[1][:, 1:], video[0][:, :-1], atol=1e-6)
    np.testing.assert_allclose(video[2][1:], video[0][:-1], atol=1e-6)
    assert not np.allclose(video[1], video[0])
    doubled = render_sprites(np.ones((1, 5, 5)), np.array([[[10.0, 10.0]]]), (24, 24), scales=np.array([[2.0]]))
    assert abs(doubled.sum() - 4 * 25) < 0.1 * 100


# ============================================================================================== registered sets
def forbidden(*args, **kwargs):
    raise AssertionError("regenerated although a valid cache entry exists")


@pytest.fixture(scope="module")
def data_home(private_data_dir):
    return private_data_dir


def recording(entries: list):
    """``cached_arrays`` that also keeps the entries it returns."""

    def wrapper(*args, **kwargs):
        entries.append(cached_arrays(*args, **kwargs))
        return entries[-1]

    return wrapper


@pytest.fixture(scope="module")
def digit_sets(data_home):
    """event-digits train and test: generated once (train), then loaded from the cache (test); and the entry."""
    entries = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(event_digits_mod, "cached_arrays", recording(entries))
        train = get_dataset("event-digits", "train")
        mp.setattr(event_digits_mod, "generate_event_digits", forbidden)
        test = get_dataset("event-digits", "test")
    assert entries[0].checksum == entries[1].checksum
    return train, test, entries[1]


@pytest.fixture
def cached_digits(digit_sets, monkeypatch):
    """Serve further event-digits builds from the module's entry (framing options do not touch the cache)."""
    monkeypatch.setattr(event_digits_mod, "cached_arrays", lambda *args, **kwargs: digit_sets[2])


GESTURE_OPTIONS = dict(train_per_class=6, test_per_class=3)  # small counts keep the module fast


@pytest.fixture(scope="module")
def gesture_sets(data_home):
    entries = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gestures_mod, "cached_arrays", recording(entries))
        train = get_dataset("event-gestures", "train", **GESTURE_OPTIONS)
        mp.setattr(gestures_mod, "generate_gestures", forbidden)
        test = get_dataset("event-gestures", "test", **GESTURE_OPTIONS)
    assert entries[0].checksum == entries[1].checksum
    return train, test, entries[1]


def test_event_digits_cached_under_data_root(digit_sets, data_home):
    train, test, _ = digit_sets
    summary = train.info.extra["cache"]
    path = Path(summary["file"])
    assert path.parent == data_home / "cache" and path.exists()
    assert summary == test.info.extra["cache"] | {"generation_s": summary["generation_s"]}
    assert summary["bytes"] == path.stat().st_size


def test_event_digits_split_matches_digits(digit_sets):
    train, test, entry = digit_sets
    assert (len(train), len(test)) == (1257, 540)
    _, labels = load_digit_images()
    idx_train, idx_test = (stratified_split(labels, s, 0.3, 0) for s in ("train", "test"))
    assert len(np.intersect1d(idx_train, idx_test)) == 0 and len(np.union1d(idx_train, idx_test)) == len(labels)
    np.testing.assert_array_equal(train.labels.numpy(), labels[idx_train])
    np.testing.assert_array_equal(test.labels.numpy(), labels[idx_test])
    assert torch.equal(get_dataset("digits", "test")[:][1], test.labels)
    assert train.labels.dtype == torch.int64
    # the test streams are exactly the held-out samples' streams of the cached set
    streams = split_events(entry["events"], entry["counts"])
    for i in (0, 17, 539):
        np.testing.assert_array_equal(test.events[i], streams[idx_test[i]])
    for events in train.events[:50]:
        assert events.dtype == EVENT_DTYPE and np.all(np.diff(events["t"]) >= 0)
        assert events["x"].max() < 34 and events["y"].max() < 34 and events["t"].max() <= event_digits_mod.DURATION_US
        assert 0 < events["p"].mean() < 1 and len(events) > 50


@pytest.mark.parametrize("options, shape", [
    ({}, (10, 2, 34, 34)),
    ({"frames": 6}, (6, 2, 34, 34)),
    ({"time_window_us": 30_000}, (10, 2, 34, 34)),
    ({"time_window_us": 70_000}, (5, 2, 34, 34)),
    ({"size": 17, "frames": 4}, (4, 2, 17, 17)),
])
def test_event_digits_framing_options(cached_digits, options, shape):
    ds = get_dataset("event-digits", "train", train_limit=30, **options)
    assert len(ds) == 30 and ds.info.sample_shape == shape and ds.info.extra["frames"] == shape[0]
    x, y = ds[3]
    assert x.shape == shape and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.sum() == (ds.events[3]["t"] < event_digits_mod.DURATION_US).sum()  # each event in [0, 300 ms) counts


def test_event_digits_loader_is_time_major(cached_digits):
    ds = get_dataset("event-digits", "train", train_limit=40)
    xb, yb = next(iter(DataLoader(ds, batch_size=8, shuffle=False, collate_fn=ds.collate_fn)))
    assert xb.shape == (10, 8, 2, 34, 34) and yb.shape == (8,) and yb.dtype == torch.int64
    assert torch.equal(xb[:, 5], ds[5][0])
    assert len(np.unique(ds.labels.numpy())) == 10  # stratified subset


def test_event_digits_per_class_records_the_first_digits_of_each_class(digit_sets, data_home):
    """``per_class`` generates only the first digits of each class (their own cache entry, split like the whole set);
    the default entry keeps its parameters, so caches made before the option existed stay valid."""
    assert digit_sets[2].manifest["params"] == {"seed": 0, "noise_hz": 1.0}
    train, test = (get_dataset("event-digits", split, per_class=5) for split in ("train", "test"))
    _, labels = load_digit_images()
    kept = labels[np.sort(np.concatenate([np.flatnonzero(labels == c)[:5] for c in range(10)]))]
    assert (len(train), len(test)) == (35, 15) and np.bincount(kept).tolist() == [5] * 10
    for split, subset in (("train", train), ("test", test)):
        np.testing.assert_array_equal(subset.labels.numpy(), kept[stratified_split(kept, split, 0.3, 0)])
    assert train.info.extra["cache"]["file"] != digit_sets[0].info.extra["cache"]["file"]
    assert train[0][0].shape == (10, 2, 34, 34) and len(train.events[0]) > 50
    with pytest.raises(ValueError, match="per_class must be a positive number"):
        get_dataset("event-digits", "train", per_class=0)


def test_event_digits_generation_is_deterministic(monkeypatch):
    images, labels = load_digit_images()
    monkeypatch.setattr(event_digits_mod, "load_digit_images", lambda: (images[:24], labels[:24]))
    a = event_digits_mod.generate_event_digits(seed=0)
    b = event_digits_mod.generate_event_digits(seed=0)
    c = event_digits_mod.generate_event_digits(seed=1)
    assert len(a["counts"]) == 24 and a["counts"].sum() == len(a["events"])
    assert content_checksum(a) == content_checksum(b)
    assert content_checksum(a) != content_checksum(c)


def test_event_gestures_splits_and_balance(gesture_sets):
    train, test, _ = gesture_sets
    n_classes = len(gestures_mod.GESTURES)
    assert (len(train), len(test)) == (6 * n_classes, 3 * n_classes)
    assert np.bincount(train.labels.numpy(), minlength=n_classes).tolist() == [6] * n_classes
    assert np.bincount(test.labels.numpy(), minlength=n_classes).tolist() == [3] * n_classes
    assert train.info.num_classes == 10 and train.info.sample_shape == (8, 2, 32, 32)
    train_streams = {s.tobytes() for s in train.events}
    assert not train_streams & {s.tobytes() for s in test.events}  # disjoint recordings
    x, y = train[0]
    assert x.shape == (8, 2, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    xb, yb = next(iter(DataLoader(train, batch_size=5, collate_fn=train.collate_fn)))
    assert xb.shape == (8, 5, 2, 32, 32) and yb.dtype == torch.int64


@pytest.mark.parametrize("options, shape", [
    ({"time_window_us": 30_000}, (16, 2, 32, 32)),
    ({"frames": 12, "size": 16}, (12, 2, 16, 16)),
    ({"frames": 6, "size": 16, "polarity": "merge"}, (6, 1, 16, 16)),
])
def test_event_gestures_framing_options(gesture_sets, monkeypatch, options, shape):
    monkeypatch.setattr(gestures_mod, "cached_arrays", lambda *args, **kwargs: gesture_sets[2])
    ds = get_dataset("event-gestures", "test", **GESTURE_OPTIONS, **options)
    x, _ = ds[0]
    in_window = (ds.events[0]["t"] < gestures_mod.DURATION_US).sum()
    assert x.shape == shape == ds.info.sample_shape and x.sum() == in_window > 0


def test_event_gestures_time_order_matters(gesture_sets):
    train, test, _ = gesture_sets
    names = gestures_mod.GESTURES
    drift = {}
    for name in ("swipe right", "swipe left"):
        moves = []
        for ds in (train, test):
            for events, label in zip(ds.events, ds.labels.tolist()):
                if names[label] != name:
                    continue
                on = events[events["p"] == 1]
                third = len(on) // 3
                moves.append(on["x"][-third:].mean() - on["x"][:third].mean())  # centroid: last third - first third
        drift[name] = np.array(moves)
    # ON events mark the leading edge: their centroid follows the hand (noise and tremor blur single recordings)
    right, left = drift["swipe right"], drift["swipe left"]
    assert len(right) == len(left) == 9
    assert right.mean() > 1.0 and left.mean() < -1.0, drift
    assert (right > 0).mean() >= 2 / 3 and (left < 0).mean() >= 2 / 3, drift
    assert right.mean() - left.mean() > 2.0


def test_event_gestures_default_splits_are_large_and_balanced(monkeypatch):
    """The default split sizes (800 training / 2,000 test recordings), served from the shared cache."""
    monkeypatch.setenv("SNNLAB_DATA", str(SHARED_DATA))
    train, test = get_dataset("event-gestures", "train"), get_dataset("event-gestures", "test")
    assert (len(train), len(test)) == (800, 2000)
    assert np.bincount(train.labels.numpy(), minlength=10).tolist() == [80] * 10
    assert np.bincount(test.labels.numpy(), minlength=10).tolist() == [200] * 10
    assert Path(test.info.extra["cache"]["file"]).parent == SHARED_DATA / "cache"


def test_event_gestures_train_split_does_not_depend_on_the_test_size(gesture_sets):
    train = gesture_sets[0]
    other = get_dataset("event-gestures", "train", **{**GESTURE_OPTIONS, "test_per_class": 5})
    assert other.info.extra["cache"]["checksum"] != train.info.extra["cache"]["checksum"]  # another entry...
    assert torch.equal(other.labels, train.labels) and len(other.events) == len(train.events)
    for a, b in zip(other.events, train.events):                                          # ...same training data
        np.testing.assert_array_equal(a, b)
    assert len(get_dataset("event-gestures", "test", **{**GESTURE_OPTIONS, "test_per_class": 5})) == 50


def test_event_gestures_generation_is_deterministic():
    labels = np.tile(np.arange(10), 2)
    a = gestures_mod.generate_gestures(labels, seed=0)
    b = gestures_mod.generate_gestures(labels, seed=0)
    c = gestures_mod.generate_gestures(labels, seed=1)
    assert content_checksum(a) == content_checksum(b)
    assert content_checksum(a) != content_checksum(c)
    np.testing.assert_array_equal(a["labels"], labels)
    assert a["counts"].sum() == len(a["events"]) and np.all(a["counts"] > 0)
