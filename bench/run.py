"""Run every benchmark and write bench/out/bench.json; ``snnlab bench`` calls this script.

Usage: ``python bench/run.py [--quick] [--out DIR]``. Reports ratios measured side by side in one run; a full run
into the default folder also rewrites the README's performance tables from the record (``bench/report.py``).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import implicit_memory  # noqa: E402
import neuron_overhead  # noqa: E402
import report as readme_report  # noqa: E402
import scaling  # noqa: E402
import thread_load  # noqa: E402
import throughput  # noqa: E402
from peers import snntorch_available  # noqa: E402
from snnlab.io import atomic_write_json  # noqa: E402
from snnlab.reproducibility import environment_info  # noqa: E402
from snnlab.threads import fixed_threads, usable_cores  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def _print_summary(report: dict) -> None:
    print(f"{'model':10s} {'T':>2s} {'snnlab':>9s} {'ANN':>9s} {'/(T*ANN)':>9s} {'lif':>6s}  vs peers")
    for row in report["neuron_overhead"]:
        peers = ", ".join(f"{peer} {ratio:.2f}" for peer, ratio in row["vs_peers"].items())
        print(f"{row['model']:10s} {row['T']:2d} {row['snn_step_s'] * 1e3:7.1f}ms {row['ann_step_s'] * 1e3:7.1f}ms "
              f"{row['ratio']:9.2f} {row['ratio_lif']:6.2f}  {peers}, spikingjelly {row['vs_spikingjelly']:.2f}")
    for key in ("time_steps", "batch_size"):
        fit = report["scaling"][key]["fit"]
        print(f"scaling in {key}: {fit['slope_s'] * 1e3:.2f} ms per unit + {fit['intercept_s'] * 1e3:.2f} ms "
              f"(R2 {fit['r2']:.3f})")
    for row in report["threads_under_load"]:
        steps = ", ".join(f"{count} thread(s) {seconds * 1e3:.1f} ms" for count, seconds in row["step_s"].items())
        print(f"beside {row['busy_processes']} busy process(es): {steps}; policy picks {row['policy_threads']} "
              f"({row['policy_vs_all']:.2f} x all cores)")
    speed = report["throughput"]
    print(f"throughput {speed['preset']} (T={speed['T']}): {speed['samples_per_s']:.0f} samples/s")
    print(f"{'t_conv':>6s} {'BPTT saved':>11s} {'implicit saved':>15s} {'memory ratio':>13s} {'time ratio':>11s}")
    for row in report["implicit_vs_bptt"]:
        print(f"{row['t_conv']:6d} {row['bptt_saved_mib']:9.2f}MB {row['implicit_saved_mib']:13.3f}MB "
              f"{row['memory_ratio']:13.1f} {row['time_ratio']:11.2f}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions: checks the code, not the numbers")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--threads", type=int, default=usable_cores(),
                        help="torch threads for every measurement but the thread sweep (default: all usable cores)")
    args = parser.parse_args(argv)
    if args.quick:
        repeats, steps, sweep = 1, (2,), dict(steps=(1, 2), batches=(4, 8))
    else:
        repeats, steps, sweep = 11, (4, 8), {}
    with fixed_threads(args.threads):                        # the Trainer keeps this count too
        if not snntorch_available():
            print("snnTorch is not installed (pip install 'snnlab-kd[bench]'): its peer is left out")
        report = {"neuron_overhead": [neuron_overhead.measure(name, T, repeats)
                                      for name in neuron_overhead.CASES for T in steps],
                  "scaling": scaling.measure(repeats, **sweep),
                  "threads_under_load": thread_load.measure(repeats, loads=(0, 1) if args.quick else None),
                  "throughput": throughput.measure(epochs=1 if args.quick else 2),
                  "implicit_vs_bptt": implicit_memory.measure((10, 20) if args.quick else (30, 100, 300), repeats),
                  "quick": args.quick, **environment_info(), "torch_threads": torch.get_num_threads(),
                  "snntorch": importlib.metadata.version("snntorch") if snntorch_available() else None}
    _print_summary(report)
    path = Path(args.out) / "bench.json"
    atomic_write_json(report, path)
    print(f"written to {path}")
    if not args.quick and path.resolve() == (DEFAULT_OUT / "bench.json").resolve():
        readme_report.write_readme(report)
        print(f"README performance tables rewritten from {path}")
    return report


if __name__ == "__main__":
    main()
