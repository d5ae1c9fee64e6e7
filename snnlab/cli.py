"""The ``snnlab`` command: list, reproduce, sweep, compare, demo, data, export, bench, env, new-chapter,
book-tables."""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

__all__ = ["main"]


def _version() -> str:
    from . import DISTRIBUTION, __version__

    return f"{__version__} ({DISTRIBUTION})"


def _cmd_list(args) -> int:
    from .data import dataset_names
    from .methods import __all__ as methods
    from .models.registry import MODELS
    from .neurons import PRESETS as NEURONS
    from .repro import (PRESETS, comparison_names, demonstration_names, get_reproduction, reproduction_names,
                        sweep_names)

    print("reproductions:")
    for name in reproduction_names():
        reproduction = get_reproduction(name)
        print(f"  {name:12s} {reproduction.paper}")
        if reproduction.variants:
            print(f"  {'':12s} paper variants: {', '.join(sorted(reproduction.variants))}")
    print("sweeps:       " + ", ".join(sweep_names()))
    print("comparisons:  " + ", ".join(comparison_names()))
    print("demos:        " + ", ".join(demonstration_names()))
    print("presets:      " + ", ".join(PRESETS))
    print("methods:      " + ", ".join(m for m in methods if m not in ("Method", "SpikingMethod")))
    print("datasets:     " + ", ".join(dataset_names()))
    print("models:       " + ", ".join(sorted(MODELS)))
    print("neurons:      " + ", ".join(sorted(NEURONS)))
    return 0


def _cmd_sweep(args) -> int:
    from .repro import run_sweep

    record = run_sweep(args.name, preset=args.preset, seeds=args.seeds, out=args.out, progress=not args.quiet)
    print(f"{record['name']} [{record['preset']}] over {record['parameter']}, {record['seeds']} seed(s), "
          f"{record['wall_clock_s']:.1f} s")
    for series, points in record["series"].items():
        print(f"  {series:10s} " + ", ".join(f"{v}: {p['mean']:.2f} ± {p['std']:.2f}"
                                             for v, p in zip(record["values"], points)))
    if "path" in record:
        print(f"written to {record['path']}")
    return 0


def _cmd_compare(args) -> int:
    from .repro import run_comparison

    record = run_comparison(args.name, preset=args.preset, seeds=args.seeds, out=args.out, progress=not args.quiet,
                            resume=args.resume)
    n_seeds = record["arms"][record["baseline"]]["n"]
    print(f"{record['name']} [{record['preset']}] {record['metric']}, {n_seeds} seed(s), "
          f"{record['wall_clock_s']:.1f} s")
    for arm, summary in record["arms"].items():
        difference = record["differences"].get(arm)
        versus = "" if difference is None else (f"   vs {record['baseline']}: {difference['mean']:+.2f}"
                                                + ("" if difference["ci"] is None else
                                                   f" [{difference['ci'][0]:+.2f}, {difference['ci'][1]:+.2f}]"))
        print(f"  {arm:12s} {summary['mean']:6.2f} ± {summary['std']:.2f}{versus}")
    if "path" in record:
        print(f"written to {record['path']}")
    return 0


def _cmd_demo(args) -> int:
    from .repro import run_demonstration

    record = run_demonstration(args.name, preset=args.preset, out=args.out, progress=not args.quiet)
    print(f"{record['name']} [{record['preset']}]: {record['description']}; {record['wall_clock_s']:.1f} s")
    if "path" in record:
        print(f"written to {record['path']}")
    return 0


def _cmd_reproduce(args) -> int:
    from .repro import effect_text, run
    from .repro.report import premise_text

    from .repro.settings import parse_override

    overrides = dict(parse_override(text) for text in args.set)
    record = run(args.name, preset=args.preset, seeds=args.seeds, out=args.out, progress=not args.quiet,
                 variant=args.variant, resume=args.resume, overrides=overrides, device=args.device, amp=args.amp)
    label = record["preset"] if record["variant"] is None else f"{record['preset']}: {record['variant']}"
    print(f"{record['name']} [{label}] {record['metric']}, {record['effect']['n']} seed(s), "
          f"{record['wall_clock_s']:.1f} s")
    for arm, summary in record["arms"].items():
        print(f"  {arm:14s} {summary['mean']:6.2f} ± {summary['std']:.2f}   per seed: "
              + ", ".join(f"{v:.2f}" for v in summary["per_seed"]))
    effect, premise = record["effect"], record["premise"]
    interval = "" if effect["ci"] is None else f", 95% CI [{effect['ci'][0]:+.2f}, {effect['ci'][1]:+.2f}]"
    mde = "" if effect["mde"] is None else f", MDE {effect['mde']:.2f}"
    print(f"  effect ({effect['of']}): {effect['mean']:+.2f} ± {effect['std']:.2f}{interval}{mde}")
    print(f"  premise: {premise_text(premise)}".replace("**", ""))
    for name, reading in record["readings"].items():
        print(f"  reading {name} ({reading['of']}): {effect_text(reading['effect'])} -> {reading['effect']['verdict']}")
    for name, claim in record["further_claims"].items():
        print(f"  further claim {name} ({claim['of']}): {effect_text(claim)} -> {claim['verdict']}")
    print(f"  verdict: {effect['verdict']} ({record['protocol_status']}; protocol {record['protocol_hash'][:12]})")
    execution = record["execution"]
    print(f"  ran on: {', '.join(execution['devices']) or '-'}, AMP {execution['amp'] or '-'}, spiking neurons: "
          f"{', '.join(execution['neuron_implementations']) or 'none'}")
    if "path" in record:
        print(f"written to {record['path']}")
    return 0


def _describe(sample) -> str:
    if isinstance(sample, dict):
        return ", ".join(f"{key} {tuple(value.shape)} {value.dtype}" for key, value in sample.items())
    return f"{tuple(sample.shape)} {sample.dtype}"


def _cmd_data(args) -> int:
    import time

    from .data import get_dataset

    start = time.perf_counter()
    for split in ("train", "test"):
        dataset = get_dataset(args.name, split)
        info = dataset.info
        print(f"{args.name} [{split}]: {len(dataset)} samples, {info.num_classes} classes, sample "
              f"{_describe(dataset[0][0])}")
    print(info.description)
    cache = info.extra.get("cache")
    if cache:
        print(f"cache: {cache['file']} ({cache['bytes'] / 2**20:.1f} MiB, generated in {cache['generation_s']:.1f} s,"
              f" checksum {cache['checksum'][:16]})")
    print(f"ready in {time.perf_counter() - start:.1f} s")
    if args.baseline:
        from .repro.baselines import run_baseline

        record = run_baseline(args.name, seeds=args.seeds, progress=not args.quiet)
        acc = record["accuracy"]
        print(f"baseline SNN ({record['settings']['model']}, T={record['settings']['T']}): test accuracy "
              f"{acc['mean']:.2f} ± {acc['std']:.2f} over {acc['n']} seed(s), {record['snn_wall_clock_s']:.1f} s")
        if "ann" in record:
            ann = record["ann"]
            print(f"baseline ANN twin: test accuracy {ann['accuracy']['mean']:.2f} ± {ann['accuracy']['std']:.2f}, "
                  f"{ann['wall_clock_s']:.1f} s")
        print(f"written to {record['path']}")
    return 0


def bench_dir() -> Path:
    """The repository's ``bench/`` folder (benchmarks live beside the package in a clone, not inside it)."""
    for candidate in (Path(__file__).resolve().parents[1] / "bench", Path.cwd() / "bench"):
        if (candidate / "run.py").exists():
            return candidate
    raise FileNotFoundError("snnlab bench runs the scripts in the repository's bench/ folder; run it from a clone "
                            "of the snnlab repository (pip install -e .)")


def _cmd_bench(args) -> int:
    folder = bench_dir()
    sys.argv = [str(folder / "run.py"), *(["--quick"] if args.quick else []), "--out", args.out]
    runpy.run_path(str(folder / "run.py"), run_name="__main__")
    return 0


def _cmd_env(args) -> int:
    import torch

    from .neurons import preset_implementations
    from .reproducibility import environment_info

    env = environment_info()
    for package, version in env["versions"].items():
        print(f"{package:13s} {version or 'not installed'}")
    print(f"{'python':13s} {env['python']}")
    hardware = env["hardware"]
    print(f"{'cpu':13s} {hardware['cpu']} ({hardware['cpu_count']} cores, {hardware['torch_threads']} torch threads)")
    print(f"{'gpu':13s} {hardware['gpu'] or 'none (CUDA unavailable)'}")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    plain, mixed = preset_implementations(device, amp=False), preset_implementations(device, amp=True)
    print(f"\nneuron presets on {device} (implementation each runs: 'snnlab-cpu' is snnlab's CPU path, 'custom-op' "
          "SpikingJelly's CPU operator, 'cuda'/'triton' its fused kernels):")
    print(f"  {'preset':12s} {'float32':16s} AMP (half-precision input)")
    for name in plain:
        print(f"  {name:12s} {plain[name]:16s} {mixed[name]}")
    return 0


def _cmd_export(args) -> int:
    from .io import atomic_path
    from .repro.export import COLUMNS, history_rows, records_named, table_text, tidy_rows

    rows_of = history_rows if args.history else tidy_rows
    rows = [row for record in records_named(args.name, args.results) for row in rows_of(record)]
    text = table_text(rows, args.format, None if args.history else list(COLUMNS))
    if args.output is None:
        sys.stdout.write(text)
    else:
        with atomic_path(args.output) as tmp:
            tmp.write_text(text)
        print(f"{len(rows)} rows -> {args.output}", file=sys.stderr)
    return 0


def _cmd_protocol(args) -> int:
    import json

    from .repro import get_reproduction
    from .repro.protocol import protocol_hash

    protocol = get_reproduction(args.name).protocol(args.preset, args.variant)
    print(json.dumps(protocol, indent=2, ensure_ascii=False))
    print(f"protocol_hash {protocol_hash(protocol)}")
    return 0


def _cmd_new_chapter(args) -> int:
    from .scaffold import new_chapter

    root = Path(args.root)
    written = new_chapter(args.name, root)
    module, cls = args.name.replace("-", "_"), "".join(word.title() for word in args.name.split("-"))
    print("written (fill every TODO; CONTRIBUTING.md says what each piece needs):")
    for path in written:
        print(f"  {path.relative_to(root)}")
    print(f"""the reproduction registers itself (snnlab/repro/papers/ imports every module in it) once its protocol has
no TODO left; register the rest, one line each:
  snnlab/losses/__init__.py   from .{module} import {module}_loss   (and in __all__)
  snnlab/methods/__init__.py  from .{module} import {cls}   (and in __all__)
  _toc.yml                    - file: notebooks/{args.name}
  book/references.bib         the paper's entry, cited in the chapter
freeze the protocol (snnlab protocol {args.name}), commit, record (snnlab reproduce {args.name} --preset book), then
write the rerun times from the record: snnlab book-tables""")
    return 0


def _cmd_book_tables(args) -> int:
    from .book_tables import stale_places, write_tables

    if args.check:
        stale = stale_places(args.root)
        if stale:
            print("these files do not state what the records give; run snnlab book-tables:\n  " + "\n  ".join(stale),
                  file=sys.stderr)
            return 1
        print("the rerun times of the chapters and of book/running.md are the records'")
        return 0
    written = write_tables(args.root)
    print(f"{len(written)} file(s) rewritten from the records" + (": " + ", ".join(written) if written else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .repro import BOOK_SEEDS, PRESETS

    parser = argparse.ArgumentParser(prog="snnlab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list reproductions, sweeps, comparisons, demos, presets, methods, datasets, models and "
                                "neuron presets")
    rep = sub.add_parser("reproduce", help="run a paper reproduction and write results/<name>-<preset>.json")
    rep.add_argument("name")
    rep.add_argument("--preset", default="book", choices=PRESETS)
    rep.add_argument("--variant", default=None,
                     help="another of the paper's settings, at --preset paper (see `snnlab list`)")
    rep.add_argument("--seeds", type=int, default=None,
                     help="number of seeds (default: the preset's; with --resume, the interrupted run's own)")
    rep.add_argument("--out", default="results", help="folder for the results file (default: results)")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.add_argument("--resume", action="store_true",
                     help="continue an interrupted run from its finished seeds (OUT/NAME-PRESET.partial/)")
    rep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="change the preset's setting by a dotted key, e.g. --set train.epochs=2 (repeatable; "
                          "recorded, and the record then reads as stale against the preset)")
    rep.add_argument("--device", default=None, help="where every training run goes: cpu, cuda, cuda:1 "
                                                    "(default: cuda when available)")
    rep.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                     help="mixed precision on CUDA (default: on; the neurons keep a float32 state either way)")
    swp = sub.add_parser("sweep", help="vary one quantity of a reproduction's setting and write "
                                       "results/sweeps/<name>-<preset>.json")
    swp.add_argument("name")
    swp.add_argument("--preset", default="book", choices=PRESETS)
    swp.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the preset's)")
    swp.add_argument("--out", default="results/sweeps", help="folder for the results file (default: results/sweeps)")
    swp.add_argument("--quiet", action="store_true", help="no progress bars")
    cmp = sub.add_parser("compare", help="train several methods under one setting and write "
                                         "results/comparisons/<name>-<preset>.json")
    cmp.add_argument("name")
    cmp.add_argument("--preset", default="book", choices=PRESETS)
    cmp.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the preset's)")
    cmp.add_argument("--out", default="results/comparisons",
                     help="folder for the results file (default: results/comparisons)")
    cmp.add_argument("--quiet", action="store_true", help="no progress bars")
    cmp.add_argument("--resume", action="store_true",
                     help="continue an interrupted run from its finished seeds (OUT/NAME-PRESET.partial/)")
    demo = sub.add_parser("demo", help="train the networks a chapter measures and write "
                                       "results/demos/<name>-<preset>.json")
    demo.add_argument("name")
    demo.add_argument("--preset", default="book", choices=PRESETS)
    demo.add_argument("--out", default="results/demos", help="folder for the results file (default: results/demos)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    data = sub.add_parser("data", help="prepare (generate or load) a dataset and describe it")
    data.add_argument("name")
    data.add_argument("--baseline", action="store_true",
                      help="also train the small SNN baseline (and, where it has one, its ANN twin) at the book "
                           "preset (results/baselines/NAME.json)")
    data.add_argument("--seeds", type=int, default=BOOK_SEEDS, help=f"baseline seeds (default {BOOK_SEEDS})")
    data.add_argument("--quiet", action="store_true", help="no progress bars")
    bench = sub.add_parser("bench", help="run the benchmarks in bench/ (ratios measured side by side)")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke check of the benchmark code)")
    bench.add_argument("--out", default="bench/out", help="folder for the benchmark JSON (default: bench/out)")
    export = sub.add_parser("export", help="a reproduction's records as a tidy table: reproduction, preset, "
                                           "variant, reading, arm, seed, metric, value")
    export.add_argument("name")
    export.add_argument("--format", default="csv", choices=("csv", "json"), help="csv (default) or json")
    export.add_argument("--history", action="store_true",
                        help="the per-epoch training history instead (loss terms, accuracies, learning rate, time)")
    export.add_argument("--results", default="results", help="folder holding the records (default: results)")
    export.add_argument("-o", "--output", default=None, help="file to write (default: standard output)")
    protocol = sub.add_parser("protocol", help="the frozen protocol a reproduction runs under (claim, comparison, "
                                               "premise, readings, analysis, setting, seeds) and its hash")
    protocol.add_argument("name")
    protocol.add_argument("--preset", default="book", choices=PRESETS)
    protocol.add_argument("--variant", default=None, help="another of the paper's settings, at --preset paper")
    chapter = sub.add_parser("new-chapter", help="write the skeletons of a new paper's loss, method, reproduction, "
                                                 "tests and chapter notebook (run from the repository root)")
    chapter.add_argument("name", help="the chapter's and reproduction's name: lower-case words joined by hyphens")
    chapter.add_argument("--root", default=".", help="the repository root (default: the current folder)")
    tables = sub.add_parser("book-tables", help="write the rerun times of the chapters' goals and of book/running.md's "
                                               "table from the records (run from the repository root)")
    tables.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    tables.add_argument("--root", default=".", help="the repository root (default: the current folder)")
    env = sub.add_parser("env", help="versions, devices and the implementation each neuron preset runs with")
    env.add_argument("--device", default=None, help="device to inspect (default: cuda when available, else cpu)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"list": _cmd_list, "reproduce": _cmd_reproduce, "sweep": _cmd_sweep,
               "compare": _cmd_compare, "demo": _cmd_demo, "data": _cmd_data,
               "bench": _cmd_bench, "env": _cmd_env, "export": _cmd_export,
               "protocol": _cmd_protocol, "new-chapter": _cmd_new_chapter,
               "book-tables": _cmd_book_tables}[args.command]
    try:
        return handler(args)
    except (ValueError, OSError, FloatingPointError) as err:  # bad names, settings or data; missing or unwritable files
        print(f"snnlab {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
