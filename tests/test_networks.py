"""The trained networks a record keeps: the first seed's compared arms, saved weights-only beside the record, listed
with their SHA-256 and loaded back only when the file is the one the record names."""
from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from snnlab.energy import NEURON_TYPES
from snnlab.models.registry import build_model
from snnlab.repro import registry, reproduction_names, trained_network
from snnlab.repro.common import load_data
from snnlab.repro.papers.lasnn import accuracy_by_steps
from snnlab.repro.networks import NETWORK, THRESHOLD, keep_networks, load_network, with_network


def test_a_run_keeps_the_first_seeds_compared_networks_and_loads_them_back(tmp_path):
    record = registry.run("tet", "smoke", out=str(tmp_path), progress=False)
    assert set(record["networks"]) == {"tet", "mean_ce"}
    entry = record["networks"]["tet"]
    assert entry["file"] == "networks/tet-smoke/tet.pt" and entry["seed"] == 0 and entry["bytes"] > 0
    assert not any(NETWORK in arm for arm in record["arms"].values())
    history = record["arms"]["tet"]["histories"][0]                  # the loss curves are kept, and written as CSV
    assert [epoch["epoch"] for epoch in history] == [1] and "loss/ce" in history[0] and "lr" in history[0]
    assert "loss/ce" in (tmp_path / "tet-smoke.history.csv").read_text().splitlines()[0]
    setting = record["setting"]
    fresh = build_model(setting["model"], num_classes=10, **setting["model_options"])
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    loaded = load_network(record, "tet", fresh, results=tmp_path)
    saved = torch.load(tmp_path / entry["file"], weights_only=True)
    assert all(torch.equal(value, saved[k]) for k, value in loaded.state_dict().items())
    assert any(not torch.equal(before[k], saved[k]) for k in before)            # trained weights, not the init
    (tmp_path / entry["file"]).write_bytes(b"not the saved network")
    with pytest.raises(ValueError, match="SHA-256 differs"):
        load_network(record, "tet", fresh, results=tmp_path)
    with pytest.raises(ValueError, match="keeps no network for arm 'teacher'.*kept: tet, mean_ce"):
        load_network(record, "teacher", fresh, results=tmp_path)


def test_networks_never_reach_the_results_and_only_the_first_seeds_compared_ones_are_saved(tmp_path):
    def run_seed(settings, seed, progress):
        return {"method": with_network({"final": 1.0}, torch.nn.Linear(2, 2)),
                "baseline": with_network({"final": 0.0}, torch.nn.Linear(2, 2)),
                "teacher": with_network({"final": 2.0}, torch.nn.Linear(2, 2))}

    wrapped = keep_networks(run_seed, tmp_path / "nets", ("method", "baseline"), first_seed=5)
    assert wrapped({}, 6, False) == {"method": {"final": 1.0}, "baseline": {"final": 0.0}, "teacher": {"final": 2.0}}
    assert not (tmp_path / "nets").exists()                                   # not the first seed
    wrapped({}, 5, False)
    assert sorted(p.name for p in (tmp_path / "nets").iterdir()) == ["baseline.pt", "method.pt"]


@pytest.mark.parametrize("name", reproduction_names())
def test_every_reproduction_builds_the_networks_its_record_keeps(name, tmp_path):
    """The network a reproduction builds from a record's setting takes the kept file as it is (every weight, buffer
    and saved threshold, nothing left over), for both compared arms and every explored one."""
    record = registry.run(name, "smoke", out=str(tmp_path), progress=False)
    reproduction = registry.get_reproduction(name)
    assert set(record["networks"]) == {*reproduction.arms[:2], *reproduction.explored}
    for arm, entry in record["networks"].items():
        saved = torch.load(tmp_path / entry["file"], weights_only=True)
        network = trained_network(record, arm, results=tmp_path)
        state, modules = network.state_dict(), dict(network.named_modules())
        assert not network.training
        for key, value in saved.items():
            if key in state:
                assert torch.equal(state[key], value.to(state[key].dtype)), (arm, key)
            else:
                assert modules[key.removesuffix(THRESHOLD)].v_threshold == float(value), (arm, key)


def test_a_reproduction_explores_only_declared_arms():
    lasnn = registry.get_reproduction("lasnn")
    assert lasnn.explored == ("teacher",)
    with pytest.raises(ValueError, match="keeps networks of undeclared arms \\['ghost'\\]"):
        registry.register(dataclasses.replace(lasnn, name="lasnn-ghost", explored=("ghost",)))
    assert "lasnn-ghost" not in reproduction_names()


def test_a_converted_network_comes_back_with_its_balanced_thresholds(tmp_path):
    """LaSNN's student carries the thresholds of threshold balancing, which its state_dict does not hold: the kept
    network gives the arm's recorded accuracies again, and a file without them is refused rather than run with the
    default threshold."""
    record = registry.run("lasnn", "smoke", out=str(tmp_path), progress=False)
    setting, seed = record["setting"], record["seeds"][0]
    network = trained_network(record, "lasnn", results=tmp_path)
    thresholds = [module.v_threshold for module in network.modules() if isinstance(module, NEURON_TYPES)]
    assert thresholds and all(threshold != 1.0 for threshold in thresholds)
    test_set = load_data(setting)[1]
    assert accuracy_by_steps(network, test_set, setting["student_sweep"], seed=seed) == \
        record["arms"]["lasnn"]["curves"][0]
    path = tmp_path / record["networks"]["lasnn"]["file"]
    torch.save({k: v for k, v in torch.load(path, weights_only=True).items() if not k.endswith(THRESHOLD)}, path)
    record["networks"]["lasnn"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="saved without the thresholds of .*snnlab reproduce lasnn"):
        trained_network(record, "lasnn", results=tmp_path)


def test_a_run_that_is_not_written_keeps_its_networks_in_memory():
    record = registry.run("tet", "smoke", out=None, progress=False)
    assert record["networks"] == {} and set(record["trained"]) == {"tet", "mean_ce"}
    network = trained_network(record, "tet")
    assert network is record["trained"]["tet"] and not network.training

