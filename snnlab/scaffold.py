"""The chapter template: ``snnlab new-chapter NAME`` writes the skeletons of a new paper's loss, method, reproduction,
tests and chapter, and :func:`install_cell` is the Colab install cell every notebook opens with.

The skeletons run as written: the loss is a placeholder (the cross entropy of the time-averaged output) and every
text the paper must supply reads ``TODO: ...``. Registration refuses a protocol that still holds one
(:func:`snnlab.repro.registry.check_protocol`), so an unfilled skeleton can never be recorded. The notebook follows
the chapter template the notebook tests check (``CONTRIBUTING.md``, section 6).
"""
from __future__ import annotations

import json
import keyword
import os
import re
from pathlib import Path

from . import DISTRIBUTION

__all__ = ["PLACEHOLDER", "configured_repository", "install_cell", "chapter_files", "new_chapter"]

PLACEHOLDER = "TODO"
"""How every text a skeleton leaves to the contributor begins."""

GITHUB = r"https://github\.com/[\w.-]+/[\w.-]+?"

_INSTALL_CELL = '''\
# On Google Colab: fetch snnlab and install it (its distribution is __DISTRIBUTION__) with the extras every preset of a
# notebook needs (tonic and aedat for the real event-camera sets, matplotlib). Colab's own torch, torchvision and
# torchaudio are kept (snnlab does not depend on torch, and SpikingJelly accepts any torch >= 2.6). Elsewhere this
# cell does nothing: install with `python -m pip install -r requirements.txt` from the repository root.
import os
import subprocess
import sys

REPOSITORY = "__REPOSITORY__"
if "google.colab" in sys.modules and not os.path.exists("../snnlab/__init__.py"):
    if not os.path.isdir("snnlab-repo"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPOSITORY, "snnlab-repo"], check=True)
    package = f"__DISTRIBUTION__[events,plot] @ file://{os.path.abspath('snnlab-repo')}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)
    os.environ.setdefault("SNNLAB_DATA", os.path.abspath("snnlab-repo/data"))  # generated data cached in the clone
    os.chdir("snnlab-repo/notebooks")'''


def install_cell(repository: str) -> str:
    """The source of the Colab install cell (the first code cell of every notebook, tagged ``hide-cell``) for the
    GitHub ``repository`` URL: on Colab only, clone the repository and install the distribution with its extras,
    keeping Colab's torch. ``.ci/set_repository.py`` writes it into every notebook."""
    return _INSTALL_CELL.replace("__DISTRIBUTION__", DISTRIBUTION).replace("__REPOSITORY__", repository)


def configured_repository(root: str | os.PathLike) -> tuple[str, str]:
    """``(repository URL, branch)`` from ``root/_config.yml``'s ``repository`` block, the one place that names the
    repository; a ``ValueError`` when it is missing or not a GitHub URL."""
    text = (Path(root) / "_config.yml").read_text()
    block = re.search(r"^repository:\n((?:[ \t]+.*\n)+)", text, re.MULTILINE)
    if block is None:
        raise ValueError("_config.yml has no repository: block")
    fields = dict(re.findall(r"^[ \t]+(\w+):[ \t]*(\S*)", block.group(1), re.MULTILINE))
    url = fields.get("url", "").strip("\"'").rstrip("/")
    if not re.fullmatch(GITHUB, url):
        raise ValueError(f"_config.yml: repository.url must be https://github.com/OWNER/NAME, got {url!r}")
    return url, fields.get("branch", "main").strip("\"'")


_LOSS = '''\
r"""__TITLE__: TODO: the paper's loss (authors, "title", venue, year).

TODO: state the formula in LaTeX, say which layout each tensor has (SNN outputs are time-major ``[T, N, C]``) and
compute in log space where probabilities meet logarithms. Until then :func:`__MODULE___loss` is a placeholder: the
cross entropy of the time-averaged output,

.. math:: \\mathcal L = \\mathrm{CE}\\Big(\\frac1T\\sum_t O[t],\\ y\\Big).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["__MODULE___loss"]


def __MODULE___loss(out_seq: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """TODO: the paper's loss (module docstring) of the outputs ``out_seq`` ``[T, N, C]`` and the class indices
    ``targets`` ``[N]``, averaged over the batch."""
    if out_seq.dim() != 3 or targets.shape != out_seq.shape[1:2]:
        raise ValueError(f"need outputs [T, N, C] and targets [N], got {tuple(out_seq.shape)} and "
                         f"{tuple(targets.shape)}")
    return F.cross_entropy(out_seq.mean(0), targets)
'''

_METHOD = '''\
"""__TITLE__: TODO: the method (authors, "title", venue, year) and what it trains."""
from __future__ import annotations

from torch import nn

from ..layout import mean_over_time
from ..losses.__MODULE__ import __MODULE___loss
from .base import SpikingMethod

__all__ = ["__CLASS__"]


class __CLASS__(SpikingMethod):
    """TODO: the method in words. Loss terms: ``__MODULE__``."""

    def __init__(self, model: nn.Module, T: int, encoding: str = "direct"):
        super().__init__(model, T, encoding)

    def forward(self, inputs, targets):
        out_seq = self.output_sequence(inputs)
        return mean_over_time(out_seq), {"__MODULE__": __MODULE___loss(out_seq, targets)}
'''

_REPRODUCTION = '''\
"""__TITLE__: TODO: the paper's question, as the reproduction asks it.

TODO: the paper (authors, *title*, venue, year); what every arm trains and what they share (data, initial weights,
budget, seed); the recipe and where it comes from (the paper, its official code).
"""
from __future__ import annotations

from ...methods import MeanOutputCE, __CLASS__
from ..common import load_data, train_arm
from ..registry import BOOK_SEEDS, Contrast, Premise, Reproduction, register

__all__ = ["PRESETS", "ARMS", "run_seed"]

ARMS = ("__MODULE__", "baseline")
"""The method first, the baseline the paper sets itself against second (TODO: the paper's baseline)."""

_TRAIN = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)
"""TODO: the paper's (or its official code's) optimiser and schedule."""

PRESETS = {
    "smoke": dict(dataset="digits", data_options=dict(size=16, train_limit=200), model="small-cnn",
                  model_options=dict(in_channels=1, width=4, neuron="if"), T=2, seeds=1,
                  train=dict(_TRAIN, epochs=1)),
    # TODO: the paper's recipe scaled only in data, width and epochs (at most 30 minutes on 2 CPU cores), every
    # departure written here with its reason.
    "book": dict(dataset="fashion", data_options=dict(size=16, train_limit=1800), model="small-cnn",
                 model_options=dict(in_channels=1, width=8, neuron="if"), T=4, seeds=BOOK_SEEDS,
                 train=dict(_TRAIN, epochs=10)),
    # TODO: the paper's data, architecture and schedule.
    "paper": dict(dataset="cifar10", data_options=dict(augment=True, normalize=True), model="resnet18",
                  model_options=dict(in_channels=3, neuron="if"), T=4, seeds=1, train=dict(_TRAIN, epochs=200)),
}


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """Every arm of one seed, with the same data, initial weights and budget (module docstring)."""
    data = load_data(settings)
    T = settings["T"]
    return {
        "__MODULE__": train_arm(lambda model: __CLASS__(model, T), settings, seed, progress, data),
        "baseline": train_arm(lambda model: MeanOutputCE(model, T), settings, seed, progress, data),
    }


register(Reproduction(
    name="__NAME__",
    paper="TODO: Authors. Title. Venue Year",
    claim="TODO: the paper's claim in words",
    metric="test accuracy (%)",
    arms=ARMS,
    presets=PRESETS,
    run_seed=run_seed,
    against="TODO: the baseline the paper sets itself against, in words",
    premise=Premise("TODO: the condition the claim rests on, measured on arms that are not the method's output",
                    Contrast(100.0, "baseline"), 3.0),
    paper_result={"dataset": "TODO", "model": "TODO", "__MODULE__": None},
))
'''

_TEST = '''\
"""__TITLE__: the loss against an independent computation, the method's loss terms and a smoke run that learns.

TODO: golden values and identities of the paper's formula, gradients (``torch.autograd.gradcheck``), refusals of
bad input."""
from __future__ import annotations

import pytest
import torch

from snnlab.losses import __MODULE___loss
from snnlab.methods import __CLASS__
from snnlab.models import SmallCNN
from snnlab.repro.papers.__MODULE__ import ARMS, PRESETS, run_seed


def test_loss_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    out_seq = torch.randn(4, 8, 5, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 5, (8,), generator=g)
    mean = out_seq.mean(0)
    by_definition = sum(torch.logsumexp(mean[n], 0) - mean[n, targets[n]] for n in range(8)) / 8
    assert __MODULE___loss(out_seq, targets).item() == pytest.approx(by_definition.item(), rel=1e-12)


def test_loss_refuses_outputs_that_are_not_time_major():
    with pytest.raises(ValueError, match=r"\\[T, N, C\\]"):
        __MODULE___loss(torch.zeros(8, 5), torch.zeros(8, dtype=torch.long))


def test_method_returns_its_loss_terms():
    method = __CLASS__(SmallCNN(in_channels=1, num_classes=4, width=4, neuron="if"), T=2)
    outputs, terms = method(torch.rand(3, 1, 16, 16), torch.tensor([0, 1, 2]))
    assert outputs.shape == (3, 4) and set(terms) == {"__MODULE__"} and torch.isfinite(terms["__MODULE__"])


def test_smoke_run_learns_and_keeps_the_compared_networks():
    result = run_seed(PRESETS["smoke"], seed=0, progress=False)
    for arm in ARMS:
        assert result[arm]["final"] > 100 / 10 and "network" in result[arm]
'''

_TITLE_CELL = """\
# TODO: the chapter's title

[![Open in Colab](../book/images/open-in-colab.svg)](https://colab.research.google.com/github/__SLUG__/blob/__BRANCH__/notebooks/__NAME__.ipynb)

TODO: the paper (cite it with its key in `book/references.bib`), what it claims, and what this chapter does: the
four questions, the derivation, the package code with its checks, and the reproduction at book scale."""

_GOALS_CELL = """\
```{admonition} Learning goals
:class: tip

After this chapter you can:

* TODO: state the problem the paper solves and the idea of its method
* TODO: derive the loss and say what each of its terms does
* check `snnlab.losses.__MODULE___loss` against an independent computation
* read a reproduction's verdict: the paired interval, the {term}`MDE` and the {term}`premise`

**Time:** reading about 20 min. The page reads its reproduction from its committed record; `rerun = True` retrains `__NAME__`: about 30 min on 2 CPU cores.
```"""

_PARAMETERS_CELL = """\
preset = "book"  # smoke | book | paper (see "Running the code")
rerun = False  # True: train here instead of reading the committed record under results/"""

_SETUP_CELL = """\
import torch
from IPython.display import Markdown, display

from snnlab import repro
from snnlab.losses import __MODULE___loss
from snnlab.methods import __CLASS__
from snnlab.source import show_source

repro.check_preset(preset)  # refuses unknown presets; warns for 'paper' without CUDA
SETTING = repro.get_reproduction("__NAME__").settings(preset)
SETTING"""

_QUESTIONS_CELL = """\
## The four questions

What problem does it solve?
: TODO

Why does it matter?
: TODO

How do the authors solve it?
: TODO: the method and its loss, with the formula.

Highlights, limits and uses
: TODO: what the paper reports (the reproduction's `paper_result`), where the method helps and where it does not."""

_DIAGRAM_CELL = """\
import matplotlib.pyplot as plt

from snnlab.diagrams import Arrow, Box, block_diagram

fig, ax = block_diagram(
    {"x": Box(0, 0, "input", "data"), "snn": Box(2.2, 0, "SNN", "snn"), "o": Box(4.4, 0, "$O[t]$", "snn", 1.0),
     "loss": Box(6.6, 0, "TODO: the loss", "loss", 2.0)},
    [Arrow("x", "snn"), Arrow("snn", "o"), Arrow("o", "loss")])
plt.show()"""

_DERIVATION_CELL = """\
## Derivation

TODO: derive the loss (and its gradient where the paper argues by it), step by step."""

_IMPLEMENTATION_CELL = """\
## Implementation

The loss lives once, in `snnlab.losses.__MODULE__` (the docstring states the formula and cites the paper); the method
`snnlab.methods.__CLASS__` returns its terms separately so the trainer logs each."""

_SOURCE_CELL = "show_source(__MODULE___loss, __CLASS__.forward)"

_CHECKS_CELL = """\
**Checks.** TODO: the package loss against an independent computation written out from the definition."""

_CHECK_CELL = """\
torch.manual_seed(0)
out_seq, target = torch.randn(4, 8, 10, dtype=torch.float64), torch.randint(0, 10, (8,))
mean = out_seq.mean(0)
by_definition = sum(torch.logsumexp(mean[n], 0) - mean[n, target[n]] for n in range(8)) / 8
assert torch.allclose(__MODULE___loss(out_seq, target), by_definition)
print("the package loss equals its definition")"""

_REPRODUCTION_CELL = """\
## Reproduction at book scale

TODO: the arms the reproduction `__NAME__` trains per seed (with identical data, initial weights, budget and seed), the
claim, the premise it rests on, and how the verdict is read."""

_RECORD_CELL = """\
record = repro.recorded_run("__NAME__", preset, results="../results", rerun=rerun, progress=True)
print(f"source: {record['source']}; {record['effect']['n']} seed(s), {record['wall_clock_s']:.0f} s on "
      f"{record['hardware']['cpu']} ({record['hardware']['cpu_count']} cores, GPU: {record['hardware']['gpu']})")"""

_RECORD_TABLE_CELL = """\
rows = ["| arm | test accuracy (%) | per seed |", "|---|---|---|",
        *(f"| {arm} | {s['mean']:.2f} ± {s['std']:.2f} | {', '.join(f'{v:.2f}' for v in s['per_seed'])} |"
          for arm, s in record["arms"].items())]
display(Markdown("\\n".join(rows)))
display(Markdown(repro.conclusion(record)))"""

_MEANING_CELL = """\
## What the measurement says

TODO: the verdict with its interval and MDE, the premise with its interval, and what they mean. Every number the prose
states comes from the record."""

_SUMMARY_CELL = """\
## Summary

* TODO: the method in one sentence.
* TODO: the derivation's result.
* TODO: the reproduction's verdict."""

_EXERCISES_CELL = """\
## Exercises

TODO: what the exercises take (seconds on a CPU, or a few minutes of training). *Hint* gives a way in and *Solution*
the reasoning; the collapsed code that follows each exercise works the answer out, and the book build computes its
output."""

_EXERCISE_CELL = """\
__NUMBER__. TODO: an exercise that changes one quantity of `SETTING` (or of the derivation) and asks what follows.

   ```{admonition} Hint
   :class: dropdown

   TODO: a way in.
   ```

   ```{admonition} Solution
   :class: dropdown

   TODO: the reasoning in words, without numbers: the solution's code below prints them, so they stay true when the
   code changes.
   ```"""

_SOLUTION_CELL = """\
print("TODO: work exercise __NUMBER__ out here and print its answer")"""

EXERCISES = 2
"""The skeleton's exercises (a chapter has 2 to 4)."""


def _cell(cell_id: str, kind: str, source: str, metadata: dict | None = None) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": metadata or {},
            "source": source.splitlines(keepends=True)}
    return {**cell, "execution_count": None, "outputs": []} if kind == "code" else cell


def _notebook(name: str, fill, install: str) -> str:
    figure = {"caption": "TODO: the method in one diagram: what the network outputs and which terms the loss "
                         "compares.", "name": f"fig-{name}-diagram"}
    cells = [
        ("title", "markdown", _TITLE_CELL, None), ("goals", "markdown", _GOALS_CELL, None),
        ("install", "code", None, {"tags": ["hide-cell"]}), ("parameters", "code", _PARAMETERS_CELL,
                                                               {"tags": ["parameters"]}),
        ("setup", "code", _SETUP_CELL, None), ("questions", "markdown", _QUESTIONS_CELL, None),
        ("diagram", "code", _DIAGRAM_CELL, {"mystnb": {"figure": figure}, "tags": ["hide-input"]}),
        ("derivation", "markdown", _DERIVATION_CELL, None), ("implementation", "markdown", _IMPLEMENTATION_CELL, None),
        ("source", "code", _SOURCE_CELL, None), ("checks", "markdown", _CHECKS_CELL, None),
        ("check", "code", _CHECK_CELL, None), ("reproduction", "markdown", _REPRODUCTION_CELL, None),
        ("record", "code", _RECORD_CELL, None),
        ("record-table", "code", _RECORD_TABLE_CELL, {"tags": ["hide-input"]}),
        ("meaning", "markdown", _MEANING_CELL, None),
        ("summary", "markdown", _SUMMARY_CELL, None), ("exercises", "markdown", _EXERCISES_CELL, None),
    ]
    for number in range(1, EXERCISES + 1):
        prompts = {"code_prompt_show": f"Show the solution to exercise {number} (code and output)",
                   "code_prompt_hide": f"Hide the solution to exercise {number}"}
        cells += [(f"exercise-{number}", "markdown", _EXERCISE_CELL.replace("__NUMBER__", str(number)), None),
                  (f"solution-{number}", "code", _SOLUTION_CELL.replace("__NUMBER__", str(number)),
                   {"mystnb": prompts, "tags": ["hide-cell"]})]
    notebook = {
        "cells": [_cell(f"{name}-{cell_id}", kind, install if source is None else fill(source), metadata)
                  for cell_id, kind, source, metadata in cells],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
"""A chapter's name: lower-case words joined by hyphens (``lc-ttfs``); its module is the name with underscores."""


def chapter_files(name: str, root: str | os.PathLike) -> dict[Path, str]:
    """``{path: text}`` of the skeletons :func:`new_chapter` writes for the chapter ``name`` in the repository at
    ``root`` (whose ``_config.yml`` names the repository the notebook's badge and install cell point to)."""
    if not NAME.fullmatch(name):
        raise ValueError(f"a chapter's name is lower-case words joined by hyphens (e.g. 'lc-ttfs'), got {name!r}")
    module = name.replace("-", "_")
    if keyword.iskeyword(module):
        raise ValueError(f"{name!r} is a Python keyword; choose another name")
    root = Path(root)
    url, branch = configured_repository(root)
    words = {"__NAME__": name, "__MODULE__": module, "__CLASS__": "".join(w.title() for w in name.split("-")),
             "__TITLE__": name.upper(), "__SLUG__": url.removeprefix("https://github.com/"), "__BRANCH__": branch}

    def fill(text: str) -> str:
        for word in sorted(words, key=len, reverse=True):       # __MODULE___loss: the longest word first
            text = text.replace(word, words[word])
        return text

    return {root / "snnlab" / "losses" / f"{module}.py": fill(_LOSS),
            root / "snnlab" / "methods" / f"{module}.py": fill(_METHOD),
            root / "snnlab" / "repro" / "papers" / f"{module}.py": fill(_REPRODUCTION),
            root / "tests" / f"test_{module}.py": fill(_TEST),
            root / "notebooks" / f"{name}.ipynb": _notebook(name, fill, install_cell(url))}


def new_chapter(name: str, root: str | os.PathLike = ".") -> list[Path]:
    """Write the skeletons of :func:`chapter_files` into the repository at ``root`` and return their paths.

    Refuses (``ValueError``) a name that is taken: a reproduction registered under it, or any of the five files
    already there. The files appear together or not at all, and none is ever overwritten
    (:func:`snnlab.io.create_files`)."""
    from .io import create_files
    from .repro import reproduction_names

    root = Path(root)
    missing = [place for place in ("_config.yml", "snnlab/losses", "snnlab/methods", "snnlab/repro/papers", "tests",
                                   "notebooks") if not (root / place).exists()]
    if missing:
        raise ValueError(f"{root.resolve()} is not the root of an snnlab clone (it has no {', '.join(missing)}); run "
                         "new-chapter from the repository root")

    if name in reproduction_names():
        raise ValueError(f"a reproduction named {name!r} is registered already; choose another name")
    files = chapter_files(name, root)
    taken = [str(path.relative_to(root)) for path in files if path.exists()]
    if taken:
        raise ValueError(f"chapter {name!r} exists already ({', '.join(taken)}); choose another name")
    return create_files(files)
