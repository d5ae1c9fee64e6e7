"""The README's performance tables, rendered from ``bench/out/bench.json`` (never typed by hand).

``python bench/report.py`` rewrites the part of README.md between :data:`START` and :data:`END` from the recorded
benchmark; ``bench/run.py`` does so after a full run, and a test checks that the README matches the record.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "bench" / "out" / "bench.json"
README = ROOT / "README.md"
START = "<!-- performance tables: generated from bench/out/bench.json by bench/report.py -->"
END = "<!-- end of generated performance tables -->"
MODELS = {"small-cnn": "SmallCNN (w=16, 16×16, batch 32)", "vgg9": "VGG-9 (32×32, batch 16)"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _overhead_table(rows: list[dict]) -> list[str]:
    peers = [peer for peer in ("plain-loop", "snntorch") if any(peer in row["vs_peers"] for row in rows)]
    lines = ["| model | T | snnlab step | ANN-twin step | snnlab ÷ (T × ANN) | `lif` preset ÷ (T × ANN) | "
             + " | ".join(f"snnlab ÷ {peer}" for peer in peers) + " | snnlab ÷ SpikingJelly |",
             "|---|---|---|---|---|---|" + "---|" * len(peers) + "---|"]
    for row in rows:
        ratios = " | ".join(f"{row['vs_peers'][peer]:.2f}" if peer in row["vs_peers"] else "—" for peer in peers)
        lines.append(f"| {MODELS.get(row['model'], row['model'])} | {row['T']} | {_ms(row['snn_step_s'])} | "
                     f"{_ms(row['ann_step_s'])} | {row['ratio']:.2f} | {row['ratio_lif']:.2f} | {ratios} | "
                     f"{row['vs_spikingjelly']:.2f} |")
    return lines


def _scaling_lines(scaling: dict) -> list[str]:
    lines = []
    for key, unit, fixed in (("time_steps", "time step", f"batch {scaling['time_steps']['batch']}"),
                             ("batch_size", "sample", f"T = {scaling['batch_size']['T']}")):
        sweep = scaling[key]
        fit = sweep["fit"]
        points = ", ".join(f"{p}: {_ms(s)}" for p, s in zip(sweep["points"], sweep["step_s"]))
        lines.append(f"- {'T' if key == 'time_steps' else 'batch'} ({fixed}) — {points}; fitted "
                     f"{_ms(fit['slope_s'])} per {unit} + {_ms(fit['intercept_s'])} (R² = {fit['r2']:.3f}).")
    return lines


def _thread_table(rows: list[dict]) -> list[str]:
    counts = list(rows[0]["step_s"])
    lines = ["| busy processes beside it | " + " | ".join(f"{c} thread{'s' if c != '1' else ''}" for c in counts)
             + " | snnlab's choice | its step ÷ all cores' |", "|---|" + "---|" * (len(counts) + 2)]
    for row in rows:
        lines.append(f"| {row['busy_processes']} | " + " | ".join(_ms(row["step_s"][c]) for c in counts)
                     + f" | {row['policy_threads']} | {row['policy_vs_all']:.2f} |")
    return lines


def performance_markdown(report: dict) -> str:
    """The tables and lines the README shows for one benchmark record."""
    hardware = report["hardware"]
    lines = [f"Measured by `snnlab bench` on {hardware['cpu']} ({hardware['cpu_count']} cores, "
             f"{report['torch_threads']} torch threads), torch {report['versions']['torch']}, "
             f"SpikingJelly {report['versions']['spikingjelly']}"
             + (f", snnTorch {report['snntorch']}" if report.get("snntorch") else "") + "; one training step "
             "(SGD), timed interleaved, medians. TET's neuron in every variant; ratios below 1 mean snnlab is faster.",
             "", *_overhead_table(report["neuron_overhead"]), "",
             f"Training step of snnlab's {MODELS[report['scaling']['model']]} as T and the batch grow:", "",
             *_scaling_lines(report["scaling"]), "",
             "SmallCNN training step (T = 4) beside busy processes, by torch thread count (`bench/thread_load.py`; "
             "the Trainer picks the count with `snnlab.threads`):", "", *_thread_table(report["threads_under_load"]),
             "",
             f"Training throughput at the TET book preset (T={report['throughput']['T']}, through the full Trainer): "
             f"{report['throughput']['samples_per_s']:,.0f} samples/s.", "",
             "Implicit gradient against BPTT on a spiking equilibrium network (`SpikingEquilibriumMLP`, 2 IF layers "
             "of 64, batch 32; memory = bytes autograd saves for backward, time = one forward + backward, BPTT ÷ "
             "implicit):", "",
             "| simulated steps t_conv | BPTT saved | implicit saved | memory ratio | time ratio |",
             "|---|---|---|---|---|"]
    for row in report["implicit_vs_bptt"]:
        lines.append(f"| {row['t_conv']} | {row['bptt_saved_mib']:.2f} MiB | {row['implicit_saved_mib']:.3f} MiB | "
                     f"{row['memory_ratio']:.1f} | {row['time_ratio']:.2f} |")
    return "\n".join(lines)


def readme_section(text: str) -> str:
    """The generated part of a README's text (between the markers)."""
    try:
        start, end = text.index(START) + len(START), text.index(END)
    except ValueError:
        raise ValueError(f"README.md has no generated performance section (markers {START!r} ... {END!r})") from None
    return text[start:end].strip("\n")


def write_readme(report: dict, readme: Path = README) -> None:
    """Replace the README's generated section with :func:`performance_markdown` of ``report`` (atomically)."""
    from snnlab.io import atomic_path

    text = readme.read_text()
    readme_section(text)                                              # both markers are there
    start, end = text.index(START) + len(START), text.index(END)
    with atomic_path(readme) as tmp:
        tmp.write_text(f"{text[:start]}\n{performance_markdown(report)}\n{text[end:]}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    write_readme(json.loads(RECORD.read_text()))
    print(f"{README} performance tables rewritten from {RECORD}")
