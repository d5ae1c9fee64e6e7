"""The trained networks a record keeps: the first seed's network of the method arm and of the baseline arm (and of
any arm the reproduction explores beyond them, e.g. a teacher), saved as weights-only ``state_dict`` files beside
the record so that a chapter can explore trained networks without training.

A reproduction's ``run_seed`` returns each arm's trained network under ``"network"`` (:func:`with_network`);
:func:`keep_networks` wraps ``run_seed`` so that the networks never reach the per-seed results (which are JSON), and
saves the kept arms' networks of the run's first seed to ``<out>/networks/<record>/<arm>.pt``. The record lists
each file with its SHA-256 (:func:`network_entries`), and :func:`load_network` refuses a file whose hash differs
before it loads it with ``torch.load(..., weights_only=True)``.

A file holds the network's ``state_dict`` and, under ``<neuron path>.v_threshold``, the threshold of every spiking
neuron whose threshold is a number rather than a tensor of the ``state_dict`` (set after construction, e.g. by
threshold balancing); :func:`load_network` restores both.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..energy import NEURON_TYPES
from ..io import atomic_torch_save

__all__ = ["NETWORK", "THRESHOLD", "with_network", "keep_networks", "network_folder", "network_entries",
           "load_network"]

NETWORK = "network"
"""The key under which an arm's result carries its trained network (never written to JSON)."""
THRESHOLD = ".v_threshold"
"""The suffix of a saved neuron threshold's key (``features.1.v_threshold``)."""


def with_network(result: dict, network: nn.Module) -> dict:
    """``result`` (one arm's ``{"final", "curve", ...}``) with its trained ``network``."""
    return {**result, NETWORK: network}


def network_folder(record_path: str | Path) -> Path:
    """Where the networks of the record at ``record_path`` (``<out>/<name>-<preset>.json``) are saved:
    ``<out>/networks/<name>-<preset>/``."""
    record_path = Path(record_path)
    return record_path.parent / "networks" / record_path.stem


def _thresholds(network: nn.Module) -> dict[str, torch.Tensor]:
    """``{"<path>.v_threshold": threshold}`` of every spiking neuron of ``network`` whose threshold is a number."""
    return {f"{path}{THRESHOLD}": torch.tensor(float(module.v_threshold), dtype=torch.float64)
            for path, module in network.named_modules()
            if isinstance(module, NEURON_TYPES) and isinstance(getattr(module, "v_threshold", None), (int, float))}


def _save(network: nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().clone() for key, value in network.state_dict().items()}
    atomic_torch_save({**state, **_thresholds(network)}, path)


def keep_networks(run_seed: Callable[[dict, int, bool], dict], folder: Path | None, arms: tuple[str, ...],
                  first_seed: int, kept: dict | None = None) -> Callable[[dict, int, bool], dict]:
    """``run_seed`` whose results carry no networks; for ``first_seed``, the networks that ``run_seed`` returned
    for ``arms`` are saved to ``folder/<arm>.pt`` first (unless ``folder`` is None) and put in ``kept`` (when
    given: a run that is not written keeps them in memory)."""
    def run(settings: dict, seed: int, progress: bool) -> dict:
        result = run_seed(settings, seed, progress)
        networks = {arm: outcome.pop(NETWORK) for arm, outcome in result.items()
                    if isinstance(outcome, dict) and NETWORK in outcome}
        if seed == first_seed:
            for arm in (arm for arm in arms if arm in networks):
                if folder is not None:
                    _save(networks[arm], folder / f"{arm}.pt")
                if kept is not None:
                    kept[arm] = networks[arm]
        return result

    return run


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def network_entries(folder: Path, arms: tuple[str, ...], seed: int, out: str | Path) -> dict:
    """``{arm: {"file": path relative to out, "sha256", "bytes", "seed"}}`` for each saved network of ``arms``."""
    entries = {}
    for arm in arms:
        path = folder / f"{arm}.pt"
        if not path.is_file():
            continue
        entries[arm] = {"file": path.relative_to(out).as_posix(), "sha256": _sha256(path),
                        "bytes": path.stat().st_size, "seed": seed}
    return entries


def load_network(record: dict, arm: str, network: nn.Module, results: str | Path = "results") -> nn.Module:
    """``network`` (built with the record's setting) with the weights and neuron thresholds the record kept for
    ``arm``, after checking the file's SHA-256 against the record; ``ValueError`` naming the file and the fix
    otherwise. A file without thresholds leaves the network's own."""
    entry = record.get("networks", {}).get(arm)
    if entry is None:
        kept = ", ".join(record.get("networks", {})) or "none"
        raise ValueError(f"the record of {record.get('name')!r} keeps no network for arm {arm!r} (kept: {kept}); "
                         f"run `snnlab reproduce {record.get('name')} --preset {record.get('preset')}` to write them")
    path = Path(results) / entry["file"]
    if not path.is_file() or _sha256(path) != entry["sha256"]:
        raise ValueError(f"{path} is missing or is not the file the record names (SHA-256 differs); restore it "
                         f"(git checkout -- {path}) or run the reproduction again")
    state = torch.load(path, map_location="cpu", weights_only=True)
    own, modules = network.state_dict(), dict(network.named_modules())
    thresholds = {key.removesuffix(THRESHOLD): state.pop(key) for key in list(state)
                  if key.endswith(THRESHOLD) and key not in own}
    unknown = sorted(set(thresholds) - set(modules))
    if unknown:
        raise ValueError(f"{path} holds thresholds of neurons {unknown} that the network has not; build the network "
                         "with the record's setting")
    network.load_state_dict(state)
    for module_path, threshold in thresholds.items():
        modules[module_path].v_threshold = float(threshold)
    return network
