"""CLI errors, the TET smoke reproduction end to end, the results file, and import hygiene."""
import json
import subprocess
import sys

import pytest

from snnlab.cli import main
from snnlab.data import dataset_names, get_dataset
from snnlab.repro import reproduction_names, run
from snnlab.repro.results import paired_effect, summarise


def test_import_does_not_pull_torchvision():
    code = "import sys, snnlab, snnlab.train, snnlab.repro, snnlab.energy, snnlab.hooks, snnlab.cli; " \
           "print('torchvision' in sys.modules, 'spikingjelly.datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("argv,message", [
    (["reproduce", "tett"], "unknown reproduction 'tett'; available: " + ", ".join(reproduction_names())),
    (["data", "nope"], "unknown dataset 'nope'; available: " + ", ".join(dataset_names())),
])
def test_cli_unknown_names_list_valid_ones(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_unknown_preset_lists_choices(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "tet", "--preset", "huge"])
    assert "choose from 'smoke', 'book', 'paper'" in capsys.readouterr().err


def test_cli_list_and_data(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tet" in out and "digits" in out and "smoke, book, paper" in out
    assert main(["data", "digits"]) == 0
    assert "1257 samples" in capsys.readouterr().out


def test_tet_smoke_reproduction_writes_complete_record(tmp_path):
    record = run("tet", preset="smoke", seeds=2, out=str(tmp_path), progress=False)
    saved = json.loads((tmp_path / "tet-smoke.json").read_text())
    for key in ("paper", "setting", "preset", "metric", "data", "arms", "effect", "premise", "wall_clock_s", "hardware",
                "versions", "git_sha"):
        assert key in saved
    assert saved["data"]["test_size"] == 540 and saved["effect"]["test_size"] == 540
    assert saved["effect"]["ci"][0] <= saved["effect"]["mean"] <= saved["effect"]["ci"][1]
    assert saved["effect"]["mde"] is not None and saved["premise"]["statement"].startswith("the baseline leaves room")
    for arm in ("tet", "mean_ce"):
        values = saved["arms"][arm]["per_seed"]
        assert len(values) == 2 and all(0 <= v <= 100 for v in values)
        assert saved["arms"][arm]["mean"] == pytest.approx(sum(values) / 2)
    assert saved["effect"]["per_seed"] == pytest.approx(
        [a - b for a, b in zip(saved["arms"]["tet"]["per_seed"], saved["arms"]["mean_ce"]["per_seed"])])
    assert record["arms"] == saved["arms"]


def test_summary_statistics_golden_values():
    s = summarise([1.0, 2.0, 4.0])
    assert s["mean"] == pytest.approx(7 / 3) and s["std"] == pytest.approx(1.5275252, rel=1e-6)
    e = paired_effect([3.0, 4.0, 5.0], [1.0, 1.5, 2.0])  # diffs 2, 2.5, 3: t = 2.5 / (0.5 / sqrt 3) = 8.66
    assert e["t"] == pytest.approx(8.660254, rel=1e-6) and e["verdict"] == "reproduced"
    assert paired_effect([1.0, 2.0], [2.0, 1.0])["verdict"] == "inconclusive"


def test_digits_split_is_fixed_disjoint_and_validated():
    a, b = get_dataset("digits", "train"), get_dataset("digits", "train")
    test = get_dataset("digits", "test")
    assert len(a) + len(test) == 1797 and a.tensors[0].shape[1:] == (1, 16, 16)
    assert (a.tensors[0] == b.tensors[0]).all()
    assert 0.0 <= float(a.tensors[0].min()) and float(a.tensors[0].max()) <= 1.0
    assert len(get_dataset("digits", "train", train_limit=300)) == 300
    with pytest.raises(ValueError, match="unknown option"):
        get_dataset("digits", "train", resolution=16)
    with pytest.raises(ValueError, match="unknown split"):
        get_dataset("digits", "val")


def test_bench_quick_reports_positive_ratios(tmp_path, capsys):
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "bench.json").read_text())
    assert {row["model"] for row in report["neuron_overhead"]} == {"small-cnn", "vgg9"}
    for row in report["neuron_overhead"]:
        assert row["ratio"] == pytest.approx(row["snn_step_s"] / (row["T"] * row["ann_step_s"]))
        assert row["vs_peers"]["plain-loop"] == pytest.approx(row["snn_step_s"] / row["step_s"]["plain-loop"])
        assert all(seconds > 0 for seconds in row["step_s"].values())
    for sweep in (report["scaling"]["time_steps"], report["scaling"]["batch_size"]):
        assert len(sweep["points"]) == len(sweep["step_s"]) == 2
        assert set(sweep["fit"]) == {"slope_s", "intercept_s", "r2"}
    loads = report["threads_under_load"]
    assert [row["busy_processes"] for row in loads] == [0, 1]
    assert all(1 <= row["policy_threads"] <= len(row["step_s"]) for row in loads)
    assert report["throughput"]["samples_per_s"] > 0
    short, long = report["implicit_vs_bptt"]                         # t_conv 10 and 20
    assert long["implicit_saved_mib"] == pytest.approx(short["implicit_saved_mib"])      # O(1) in the steps
    assert long["bptt_saved_mib"] > 1.8 * short["bptt_saved_mib"] and long["memory_ratio"] > 1


def test_text_baseline_learns_and_writes_its_record(tmp_path, monkeypatch):
    """The order-blind spiking MLP of ``snnlab data text --baseline`` beats chance after 3 epochs."""
    from snnlab.repro import baselines

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path / "data"))
    settings = baselines.BASELINES["text"]
    monkeypatch.setitem(baselines.BASELINES, "text", {
        **settings, "data_options": {**settings["data_options"], "test_size": 400},
        "train": {**settings["train"], "epochs": 3}})
    record = baselines.run_baseline("text", seeds=1, progress=False, out=tmp_path / "results")
    assert record["accuracy"]["mean"] > 60.0                                 # chance: 50 %
    written = json.loads((tmp_path / "results" / "baselines" / "text.json").read_text())
    assert written["accuracy"] == record["accuracy"] and written["test_size"] == 400
    with pytest.raises(ValueError, match="available: .*event-digits"):
        baselines.run_baseline("cifar10")


def test_paper_variants_are_run_at_the_paper_preset_and_recorded_apart(tmp_path, monkeypatch):
    from snnlab.repro import registry

    def run_seed(settings, seed, progress):
        return {"method": {"final": settings["value"] + seed, "curve": []}, "baseline": {"final": 0.0, "curve": []}}

    toy = registry.Reproduction(
        name="toy", paper="p", claim="c", metric="m", arms=("method", "baseline"), run_seed=run_seed,
        presets={preset: {"dataset": "digits", "value": 1.0, "seeds": 2} for preset in ("smoke", "book", "paper")},
        paper_result={"method": 1.0},
        premise=registry.Premise("baseline above 0", registry.Contrast("baseline", 0.0), 0.0), against="baseline",
        variants={"other": registry.PaperVariant({"dataset": "digits", "value": 5.0, "seeds": 2}, {"method": 5.0})})
    monkeypatch.setitem(registry._REGISTRY, "toy", toy)
    record = run("toy", preset="paper", variant="other", out=str(tmp_path), progress=False)
    assert record["arms"]["method"]["per_seed"] == [5.0, 6.0] and record["paper_result"] == {"method": 5.0}
    assert json.loads((tmp_path / "toy-paper-other.json").read_text())["variant"] == "other"
    assert run("toy", preset="paper", out=str(tmp_path), progress=False)["arms"]["method"]["per_seed"] == [1.0, 2.0]
    assert (tmp_path / "toy-paper.json").exists()
    with pytest.raises(ValueError, match="settings of the paper preset"):
        run("toy", preset="book", variant="other", out=None)
    with pytest.raises(ValueError, match="unknown variant 'cifar'.*available: other"):
        run("toy", preset="paper", variant="cifar", out=None)


@pytest.mark.parametrize("name", reproduction_names())
def test_every_paper_setting_names_a_known_dataset_and_a_buildable_model(name):
    from snnlab.models.registry import build_model
    from snnlab.repro import get_reproduction

    reproduction = get_reproduction(name)
    for setting in [reproduction.settings("paper")] + [v.settings for v in reproduction.variants.values()]:
        if setting["dataset"] not in dataset_names():            # documented only: it must say what is missing
            with pytest.raises(FileNotFoundError, match=setting["dataset"]):
                reproduction.run_seed(setting, 0, False)
            continue
        if "model_options" in setting:
            assert build_model(setting["model"], num_classes=10, **setting["model_options"]) is not None
