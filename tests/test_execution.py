"""Which implementation runs each spiking neuron, and the run options around it (device, AMP, overrides)."""
from __future__ import annotations

import importlib
import json

import pytest
import torch
from spikingjelly.activation_based import neuron as sj_neuron
from torch import nn

from snnlab.execution import NeuronPathProbe, collect_execution, fused_profile, implementation, neuron_kind
from snnlab.neurons import PRESETS, make_neuron, neuron_spec, preset_implementations
from snnlab.repro.settings import apply_overrides, parse_override, with_train_options

_REFERENCE_MODULES = {"if": "spikingjelly._ops.if_.reference", "lif": "spikingjelly._ops.lif.reference",
                      "plif": "spikingjelly._ops.plif.reference"}


def _cpu_implementation(preset: str) -> str:
    """What a float32 call of ``preset`` runs on a CPU: snnlab's path for IF/LIF, SpikingJelly's operator for PLIF."""
    return "snnlab-cpu" if neuron_spec(preset).kind in ("if", "lif") else "custom-op"


def _currents_under_autocast(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    conv = nn.Conv2d(2, 4, 3, padding=1)
    return conv, torch.rand(3, 2, 2, 6, 6) * 2            # [T, N, C, H, W]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_state_stays_float32_under_autocast_and_spikes_are_unchanged(preset):
    conv, x = _currents_under_autocast()
    node = make_neuron(preset)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        currents = conv(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        assert currents.dtype == torch.bfloat16                      # what autocast hands a neuron
        spikes = node(currents)
    assert node.v.dtype == torch.float32
    reference = make_neuron(preset)                                  # the same currents, given as float32 directly
    torch.testing.assert_close(spikes.float(), reference(currents.detach().float()), rtol=0, atol=0)
    # without snnlab's float32 input, SpikingJelly keeps the state in the input's precision
    plain = sj_neuron.LIFNode(step_mode="m")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain(conv(x.flatten(0, 1)).unflatten(0, x.shape[:2]))
    assert plain.v.dtype == torch.bfloat16 and not fused_profile(plain.surrogate_function, torch.bfloat16,
                                                                  plain.v.dtype)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("autocast", [False, True])
def test_fused_profile_agrees_with_spikingjelly_dispatch(preset, autocast, monkeypatch):
    """SpikingJelly's own dispatch decides: its PyTorch reference loop is called exactly when our predicate says the
    call is not fused, and the fusable presets (fusable surrogate) are fused under autocast too."""
    kind = neuron_kind(make_neuron(preset))
    module = importlib.import_module(_REFERENCE_MODULES[kind])
    calls = []
    original = module.multi_step

    def spy(*args, **kwargs):
        calls.append(args[0].dtype)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "multi_step", spy)
    conv, x = _currents_under_autocast()
    node = make_neuron(preset, cpu_path=False)                       # SpikingJelly's own node and dispatch
    with NeuronPathProbe(node) as probe, torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        node(conv(x.flatten(0, 1)).unflatten(0, x.shape[:2]))
    fused = fused_profile(node.surrogate_function, torch.float32, node.v.dtype)
    assert fused == neuron_spec(preset).fusable
    assert (not calls) == fused
    assert probe.paths == {"<root>": "custom-op" if fused else "torch-reference"}


def test_double_precision_input_is_left_alone():
    node = make_neuron("lif")
    spikes = node(torch.rand(3, 2, 5, dtype=torch.float64) * 3)
    assert spikes.dtype == node.v.dtype == torch.float64


def test_implementation_names_the_cuda_provider_only_for_a_fused_call():
    fusable, rect = make_neuron("tet"), make_neuron("tssd")
    assert implementation("lif", rect.surrogate_function, torch.float16, torch.float32, "cuda") == "torch-reference"
    assert implementation("lif", fusable.surrogate_function, torch.float16, torch.float16, "cuda") == "torch-reference"
    assert implementation("lif", fusable.surrogate_function, torch.float32, torch.float32, "cpu") == "custom-op"
    assert preset_implementations("cpu") == {name: _cpu_implementation(name) for name in PRESETS}
    assert preset_implementations("cpu", amp=True) == preset_implementations("cpu")


def test_trainer_reports_what_it_ran(tmp_path, monkeypatch):
    from snnlab.data import get_dataset
    from snnlab.methods import MeanOutputCE
    from snnlab.models import SmallCNN
    from snnlab.train import TrainConfig, Trainer

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path))
    data = get_dataset("digits", "train", size=16, train_limit=64)
    model = SmallCNN(num_classes=10, in_channels=1, width=4, neuron="tssd")
    with collect_execution() as seen:
        trainer = Trainer(MeanOutputCE(model, 2), data, None, TrainConfig(epochs=2, batch_size=32, progress=False))
        trainer.fit()
    neurons = {f"model.{name}" for name, module in model.named_modules() if neuron_kind(module)}   # method.model
    assert len(neurons) >= 3
    assert seen == [{"device": "cpu", "amp": False, "neurons": {name: "snnlab-cpu" for name in neurons}}]


def test_overrides_and_train_options():
    assert parse_override("train.epochs=2") == ("train.epochs", 2)
    assert parse_override("train.optimizer=sgd") == ("train.optimizer", "sgd")
    assert parse_override("steps=[8, 5, 3]") == ("steps", [8, 5, 3])
    with pytest.raises(ValueError, match="key=value"):
        parse_override("train.epochs")
    setting = {"T": 4, "train": {"epochs": 10, "lr": 0.1}, "teacher": {"train": {"epochs": 5}}}
    changed = apply_overrides(setting, {"train.epochs": 2, "T": 2, "train.grad_clip": 1.0})
    assert changed == {"T": 2, "train": {"epochs": 2, "lr": 0.1, "grad_clip": 1.0}, "teacher": {"train": {"epochs": 5}}}
    assert setting["train"]["epochs"] == 10                          # the preset is not touched
    with pytest.raises(ValueError, match="no group 'trian'.*groups there: teacher, train"):
        apply_overrides(setting, {"trian.epochs": 2})
    placed = with_train_options(setting, device="cuda", amp=None)
    assert placed["train"]["device"] == placed["teacher"]["train"]["device"] == "cuda"
    assert "amp" not in placed["train"] and "device" not in setting["train"]
    assert with_train_options(setting) is setting


def test_cli_records_overrides_and_execution(tmp_path, capsys, monkeypatch):
    from snnlab.cli import main

    monkeypatch.setenv("SNNLAB_DATA", str(tmp_path / "data"))
    assert main(["reproduce", "tet", "--preset", "smoke", "--seeds", "1", "--out", str(tmp_path), "--quiet",
                 "--set", "train.epochs=1", "--device", "cpu", "--no-amp"]) == 0
    out = capsys.readouterr().out
    assert "ran on: cpu, AMP [False], spiking neurons: snnlab-cpu" in out
    record = json.loads((tmp_path / "tet-smoke.json").read_text())
    assert record["overrides"] == {"train.epochs": 1} and record["setting"]["train"]["epochs"] == 1
    assert "device" not in record["setting"]["train"]                # where it ran is not part of the setting
    assert record["execution"] == {"devices": ["cpu"], "amp": [False], "neuron_implementations": ["snnlab-cpu"],
                                   "training_runs": 2}
    assert main(["reproduce", "tet", "--preset", "smoke", "--set", "trian.epochs=1", "--out", str(tmp_path)]) == 2
    assert "no group 'trian'" in capsys.readouterr().err


def test_cli_version_and_env(capsys):
    from snnlab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("snnlab 0.")
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "spikingjelly  2.0.0" in out and "neuron presets on cpu" in out
    for name in PRESETS:
        expected = _cpu_implementation(name)
        assert any(line.split() == [name, expected, expected] for line in out.splitlines())


def test_gpu_check_says_no_cuda_and_runs_its_code_on_tiny_sizes(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import gpu_check

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--out", str(tmp_path)]) is None
    assert "no CUDA device is present" in capsys.readouterr().out and not (tmp_path / "gpu.json").exists()
    monkeypatch.undo()
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    report = gpu_check.main(["--device", "cpu", "--tiny", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "gpu.json").read_text())["throughput"] == report["throughput"]
    assert report["neuron_presets"]["float32"] == preset_implementations("cpu")
    for row in report["throughput"]:
        assert set(row["images_per_s"]) == {"fused", "sj-torch", "plain-loop"}
        assert row["ratio_to_fused"]["fused"] == 1.0 and all(v > 0 for v in row["images_per_s"].values())
        # on a CPU the "fused" variant (snnlab's neurons) runs snnlab's CPU path, the other SpikingJelly's reference loop
        assert row["neuron_paths"] == {"fused": ["snnlab-cpu"], "sj-torch": ["torch-reference"]}
    epoch = report["tet_paper_epoch"]
    assert epoch["steps_per_epoch"] == 2 and epoch["timed_steps"] == 1 and epoch["epoch_s"] > 0


def test_plain_lif_loop_matches_the_tet_neuron():
    """The benchmark's plain loop (the official TET code's neuron) is the same neuron as the ``tet`` preset: spikes and
    input gradients agree."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        from peers import PlainLIF
    finally:
        sys.path.pop(0)
    torch.manual_seed(0)
    x = (torch.rand(6, 3, 20) * 2.4).requires_grad_()
    spec = neuron_spec("tet")
    ours, plain = make_neuron("tet"), PlainLIF(1 - 1 / spec.tau, spec.v_threshold)
    spikes, reference = ours(x), plain(x)
    torch.testing.assert_close(spikes, reference, rtol=0, atol=0)
    weights = torch.randn_like(spikes)
    grad_ours, = torch.autograd.grad((spikes * weights).sum(), x)
    grad_plain, = torch.autograd.grad((reference * weights).sum(), x)
    torch.testing.assert_close(grad_ours, grad_plain, rtol=1e-6, atol=1e-6)


def test_check_preset_refuses_unknown_presets_and_warns_for_paper_without_cuda(capsys, monkeypatch):
    from snnlab.repro import check_preset

    with pytest.raises(ValueError, match="preset must be one of .*did you mean 'paper'"):
        check_preset("papr")
    check_preset("book")
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check_preset("paper")
    assert capsys.readouterr().out.startswith("WARNING: preset = 'paper' on a machine without a CUDA GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_preset("paper")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("preset, writes", [("smoke", False), ("book", True), ("paper", True)])
def test_notebook_runs_are_written_and_resumed_except_at_smoke(preset, writes, tmp_path, monkeypatch):
    """A notebook that trains (``rerun=True``, or no record yet) saves its seeds as they finish and resumes them after
    a lost connection; a smoke run only checks the code."""
    import snnlab.repro.registry as registry

    calls = []
    monkeypatch.setattr(registry, "run", lambda name, preset, **kwargs: calls.append(kwargs) or {"name": name})
    record = registry.recorded_run("tet", preset, results=tmp_path, rerun=True, progress=False)
    assert record["source"] == "run now" and len(calls) == 1
    assert calls[0]["out"] == (tmp_path if writes else None) and calls[0]["resume"] == writes
