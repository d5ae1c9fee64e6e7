"""The trained networks a record keeps: the first seed's compared arms, saved weights-only beside the record, listed
with their SHA-256 and loaded back only when the file is the one the record names."""
from __future__ import annotations

import pytest
import torch

from snnlab.models.registry import build_model
from snnlab.repro import registry
from snnlab.repro.networks import NETWORK, keep_networks, load_network, with_network


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
    assert all(torch.equal(loaded.state_dict()[k], saved[k]) for k in saved)
    assert any(not torch.equal(before[k], saved[k]) for k in saved)             # trained weights, not the init
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
