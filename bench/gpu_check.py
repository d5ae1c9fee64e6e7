"""GPU check: what runs on a CUDA device, and what SpikingJelly's fused neuron kernels buy there.

Usage: ``python bench/gpu_check.py [--out DIR]`` on a machine with a CUDA GPU (about 2-4 minutes on one GPU); writes
``DIR/gpu.json`` (default ``bench/out``). Without CUDA it says so and exits with status 0. ``--device cpu --tiny``
runs the same code on tiny sizes, which checks the code, not the numbers.

It reports, in one run:

1. per neuron preset, the implementation SpikingJelly runs (:func:`snnlab.neurons.preset_implementations`), with
   float32 input and under AMP;
2. training throughput (images/s) of SmallCNN and VGG-9 SNNs at T = 4 with TET's neuron (``mem = 0.5 mem + x``,
   threshold 1, hard reset, triangle surrogate), AMP on as the Trainer trains on CUDA, three ways on the same
   weights and batch, timed interleaved: SpikingJelly's fused kernels; SpikingJelly's PyTorch reference loop (the
   same neuron with its surrogate's ``alpha`` given as a tensor, which SpikingJelly does not fuse); and a plain
   PyTorch LIF loop written as the official TET code writes it (time folded into the batch for the layers, a Python
   loop with a custom triangle-surrogate autograd function for the neuron). Ratios are throughput ÷ the fused one's;
3. the peak GPU memory of one training step of each;
4. one training epoch of TET's paper preset (VGGSNN on CIFAR10-DVS's shape: 9,000 samples of 10 × 2 × 48 × 48,
   batch 128, Adam, AMP) on synthetic tensors of that size: measured over its first steps and extrapolated to the
   epoch when the whole epoch would take longer than ``--epoch-budget`` seconds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from snnlab.execution import NeuronPathProbe  # noqa: E402
from snnlab.io import atomic_write_json  # noqa: E402
from snnlab.losses.tet import tet_loss  # noqa: E402
from snnlab.models.registry import build_model  # noqa: E402
from snnlab.neurons import make_neuron, preset_implementations  # noqa: E402
from snnlab.reproducibility import environment_info, seed_everything  # noqa: E402

from peers import build_variant, replace_neurons  # noqa: E402
from timing import interleaved_median  # noqa: E402

T = 4
CASES = {
    "small-cnn": dict(model=dict(in_channels=1, width=16), input=(1, 28, 28), batch=128),
    "vgg9": dict(model=dict(in_channels=3, input_size=32), input=(3, 32, 32), batch=64),
}
TINY = {
    "small-cnn": dict(model=dict(in_channels=1, width=2), input=(1, 8, 8), batch=4),
    "vgg9": dict(model=dict(in_channels=3, input_size=16, width_mult=0.0625), input=(3, 16, 16), batch=2),
}
PAPER_EPOCH = dict(samples=9000, T=10, input=(2, 48, 48), batch=128, model={})
TINY_EPOCH = dict(samples=8, T=2, input=(2, 16, 16), batch=4, model=dict(width_mult=0.0625))


def _reference_path(_node: nn.Module) -> nn.Module:
    """A replacement for a ``tet`` neuron: SpikingJelly's own node with its surrogate's ``alpha`` as a tensor, which
    SpikingJelly then runs with its PyTorch reference, on any device."""
    node = make_neuron("tet", cpu_path=False)
    node.surrogate_function.alpha = torch.tensor(float(node.surrogate_function.alpha))
    return node


def _variants(name: str, case: dict, device) -> dict[str, nn.Module]:
    """The three implementations of one SNN, from the same initial weights (see ``peers.py``)."""
    return {"fused": build_variant(name, "snnlab", **case["model"]).to(device),
            "sj-torch": replace_neurons(build_variant(name, "snnlab", **case["model"]), _reference_path).to(device),
            "plain-loop": build_variant(name, "plain-loop", **case["model"]).to(device)}


def _step_fn(model, x, y, amp: bool):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler(x.device.type, enabled=amp)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, enabled=amp):
            loss = F.cross_entropy(model(x).mean(0), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return step


def _synchronize(device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def _peak_memory_mib(step, device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def throughput(name: str, case: dict, device, amp: bool, repeats: int) -> dict:
    """Images per second of one training step of each implementation, side by side (see the module docstring)."""
    models = _variants(name, case, device)
    x = torch.rand(T, case["batch"], *case["input"], device=device)
    y = torch.randint(0, 10, (case["batch"],), device=device)
    steps = {variant: _step_fn(model, x, y, amp) for variant, model in models.items()}
    with NeuronPathProbe(models["fused"]) as fused, NeuronPathProbe(models["sj-torch"]) as reference:
        steps["fused"](), steps["sj-torch"]()
    times = interleaved_median(steps, repeats=repeats, warmup=2, synchronize=_synchronize(device))
    rate = {variant: case["batch"] / seconds for variant, seconds in times.items()}
    return {"model": name, "T": T, "batch": case["batch"], "input": list(case["input"]), "amp": amp,
            "neuron_paths": {"fused": sorted(set(fused.paths.values())),
                             "sj-torch": sorted(set(reference.paths.values()))},
            "images_per_s": rate, "ratio_to_fused": {v: r / rate["fused"] for v, r in rate.items()},
            "peak_memory_mib": {variant: _peak_memory_mib(step, device) for variant, step in steps.items()}}


def paper_epoch(shape: dict, device, amp: bool, budget_s: float) -> dict:
    """One epoch of TET's paper preset on synthetic tensors of CIFAR10-DVS's size (see the module docstring)."""
    seed_everything(0)
    model = build_model("vggsnn", num_classes=10, in_channels=shape["input"][0], input_size=shape["input"][1],
                        neuron="tet", **shape["model"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    x = torch.rand(shape["T"], shape["batch"], *shape["input"], device=device)
    y = torch.randint(0, 10, (shape["batch"],), device=device)
    n_steps = -(-shape["samples"] // shape["batch"])
    sync = _synchronize(device)
    done, start = 0, None
    for step in range(n_steps):
        if step == 1:                           # the first step compiles kernels: not timed
            sync()
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=amp):
            loss = tet_loss(model(x), y, lam=1e-3, phi=1.0)       # the paper preset's lambda and phi
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        done = step
        if start is not None and time.perf_counter() - start > budget_s:
            break
    sync()
    per_step = (time.perf_counter() - start) / max(done, 1) if start is not None else float("nan")
    return {"model": "vggsnn", **shape, "amp": amp, "steps_per_epoch": n_steps, "timed_steps": done,
            "step_s": per_step, "epoch_s": per_step * n_steps, "extrapolated": done + 1 < n_steps}


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    parser.add_argument("--device", default="cuda", help="cuda (default) or, with --tiny, cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks the code, not the numbers")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions per case (default 20, tiny 1)")
    parser.add_argument("--epoch-budget", type=float, default=60.0,
                        help="seconds of the paper epoch to time before extrapolating (default 60)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is present (torch.cuda.is_available() is False); nothing to measure.")
        return None
    if device.type != "cuda" and not args.tiny:
        parser.error("measurements need a CUDA device; --device cpu is only for --tiny code checks")
    cases, epoch = (TINY, TINY_EPOCH) if args.tiny else (CASES, PAPER_EPOCH)
    repeats = args.repeats or (1 if args.tiny else 20)
    amp = device.type == "cuda"
    start = time.perf_counter()
    report = {"device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
              "tiny": args.tiny,
              "neuron_presets": {"float32": preset_implementations(device, amp=False),
                                 "amp": preset_implementations(device, amp=True)},
              "throughput": [throughput(name, case, device, amp, repeats) for name, case in cases.items()],
              "tet_paper_epoch": paper_epoch(epoch, device, amp, args.epoch_budget if not args.tiny else 5.0),
              **environment_info()}
    report["wall_clock_s"] = time.perf_counter() - start
    print(f"gpu_check on {report['gpu'] or device} ({report['wall_clock_s']:.0f} s)")
    print(f"{'preset':12s} {'float32':16s} AMP")
    for name, path in report["neuron_presets"]["float32"].items():
        print(f"{name:12s} {path:16s} {report['neuron_presets']['amp'][name]}")
    for row in report["throughput"]:
        print(f"{row['model']} T={row['T']} batch {row['batch']}: "
              + ", ".join(f"{v} {row['images_per_s'][v]:.0f} img/s (x{row['ratio_to_fused'][v]:.2f}"
                          + (f", {row['peak_memory_mib'][v]:.0f} MiB)" if row['peak_memory_mib'][v] else ")")
                          for v in row["images_per_s"]))
    ep = report["tet_paper_epoch"]
    print(f"TET paper epoch (VGGSNN, {ep['samples']} x {ep['T']}x{'x'.join(map(str, ep['input']))}, batch "
          f"{ep['batch']}): {ep['epoch_s']:.1f} s" + (" (extrapolated)" if ep["extrapolated"] else ""))
    path = Path(args.out) / "gpu.json"
    atomic_write_json(report, path)
    print(f"written to {path}")
    return report


if __name__ == "__main__":
    main()
