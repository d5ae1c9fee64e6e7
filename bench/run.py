"""Run every benchmark and write bench/out/bench.json; ``snnlab bench`` calls this script.

Usage: ``python bench/run.py [--quick] [--out DIR]``. Reports ratios measured side by side in one run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import implicit_memory  # noqa: E402
import neuron_overhead  # noqa: E402
import throughput  # noqa: E402
from snnlab.io import atomic_write_json  # noqa: E402
from snnlab.reproducibility import environment_info  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions: checks the code, not the numbers")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    args = parser.parse_args(argv)
    repeats, T = (1, 2) if args.quick else (7, 4)
    overhead = [neuron_overhead.measure(name, T, repeats) for name in neuron_overhead.CASES]
    speed = throughput.measure(epochs=1 if args.quick else 2)
    implicit = implicit_memory.measure((10, 20) if args.quick else (30, 100, 300), repeats)
    report = {"neuron_overhead": overhead, "throughput": speed, "implicit_vs_bptt": implicit, "quick": args.quick,
              **environment_info(),
              "torch_threads": torch.get_num_threads()}
    print(f"{'model':10s} {'T':>2s} {'SNN step':>10s} {'ANN step':>10s} {'SNN/(T*ANN)':>12s}")
    for row in overhead:
        print(f"{row['model']:10s} {row['T']:2d} {row['snn_step_s'] * 1e3:8.1f}ms {row['ann_step_s'] * 1e3:8.1f}ms "
              f"{row['ratio']:12.2f}")
    print(f"throughput {speed['preset']} (T={speed['T']}): {speed['samples_per_s']:.0f} samples/s")
    print(f"{'t_conv':>6s} {'BPTT saved':>11s} {'implicit saved':>15s} {'memory ratio':>13s} {'time ratio':>11s}")
    for row in implicit:
        print(f"{row['t_conv']:6d} {row['bptt_saved_mib']:9.2f}MB {row['implicit_saved_mib']:13.3f}MB "
              f"{row['memory_ratio']:13.1f} {row['time_ratio']:11.2f}")
    path = Path(args.out) / "bench.json"
    atomic_write_json(report, path)
    print(f"written to {path}")
    return report


if __name__ == "__main__":
    main()
