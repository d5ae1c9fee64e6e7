"""Notebook conventions (static checks) and execution of every notebook at the ``smoke`` preset with papermill.

Conventions for ``notebooks/*.ipynb``:

* committed without outputs;
* one cell tagged ``parameters`` whose defaults are the ``book`` preset (``preset = "book"``), and a check that
  rejects a preset outside ``snnlab.repro.PRESETS``;
* a Colab install cell (first code cell) guarded by ``"google.colab" in sys.modules`` that installs snnlab from
  the repository named in ``_config.yml`` and never installs, upgrades or reinstalls torch;
* heavy cells (training, reproductions) show progress bars;
* every figure has axis labels and a caption (cell metadata ``mystnb.figure``).
* every chapter (every notebook but the Results page) opens with a learning-goals admonition that gives the reading
  time and what ``rerun = True`` costs (the wall-clock of the records it retrains), and ends with a summary and 2-4
  exercises, each with a hint, a worked solution in words and a collapsed solution cell that the build executes;
  an exercise refers to a place in the book only through a link or reference that resolves;
* plotting code is hidden (``hide-input``);
* every result a chapter states in prose is a number of the records its goals name (``snnlab_numbers`` in a cell's
  metadata says why a cell's numbers come from elsewhere).
"""
from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import math
import re
import statistics
import tomllib
from pathlib import Path

import nbformat
import pytest
from scipy import stats as scipy_stats

from snnlab import DISTRIBUTION
from snnlab.book_tables import goals_records, record_file, stale_places
from snnlab.energy import E_AC_PJ, E_MAC_PJ, MAC_AC_COST_RATIO
from snnlab.neurons import PRESETS as NEURON_PRESETS
from snnlab.repro import get_reproduction
from snnlab.repro.results import CONFIDENCE
from snnlab.scaffold import configured_repository, install_cell

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
PRESETS = ("smoke", "book", "paper")
HEAVY_CALLS = (".fit(", "repro.run(", "train_arm(")
FIGURE_CALL = re.compile(r"\bplt\.(subplots|figure|subplot_mosaic)\(")


def _ids(paths):
    return [p.stem for p in paths]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _repository_url() -> str:
    return configured_repository(ROOT)[0]


def test_there_are_notebooks():
    names = {p.stem for p in NOTEBOOKS}
    assert {"primer", "energy", "tet", "results", "datasets", "mskd", "lc-ttfs", "tssd", "ssnn", "joint-asnn", "deq", "spikingbert", "kdsnn",
            "lasnn"} <= names, names


CHECKED = "nbval-check-output"
"""The tag of the cells whose committed outputs nbval compares in every test run (their printed numbers are part of a
derivation's argument)."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_without_outputs_except_checked_cells(path):
    nb = _read(path)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and CHECKED not in _tags(cell)
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs; clear them before committing"
    empty = [i for i, cell in enumerate(nb.cells) if CHECKED in _tags(cell)
             and not any(o.get("output_type") == "stream" for o in cell.get("outputs", []))]
    assert not empty, f"{path.name}: cells {empty} are tagged {CHECKED} but hold no printed output to compare"


def test_nbval_checks_the_derivations_in_every_test_run():
    """The LC-TTFS spike times, the DEQ gradient comparisons and the HCKD/TCKD worked example keep their printed
    outputs, and the test command runs nbval (lax: only the tagged cells are compared) on every notebook that has such
    cells."""
    checked = {path.name for path in NOTEBOOKS if any(CHECKED in _tags(c) for c in _code_cells(_read(path)))}
    assert {"lc-ttfs.ipynb", "deq.ipynb", "mskd.ipynb"} <= checked
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--nbval-lax" in options["addopts"].split()
    assert {f"notebooks/{name}" for name in checked} <= set(options["testpaths"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_parameters_cell_defaults_to_book_preset(path):
    nb = _read(path)
    cells = [cell for cell in _code_cells(nb) if "parameters" in _tags(cell)]
    assert len(cells) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', found {len(cells)}"
    namespace: dict = {}
    exec(compile(cells[0].source, f"{path.name}:parameters", "exec"), {}, namespace)
    assert namespace.get("preset") == "book", f"{path.name}: the parameters cell must set preset = 'book'"
    # the parameters cell comes before any cell that uses the preset (only the install cell may precede it)
    code = _code_cells(nb)
    assert code.index(cells[0]) <= 1, f"{path.name}: the parameters cell must be the first or second code cell"
    # the cell after the parameters checks the preset: unknown ones are refused, "paper" without CUDA warns
    assert re.search(r"^(repro\.)?check_preset\(preset\)", code[code.index(cells[0]) + 1].source, re.MULTILINE), (
        f"{path.name}: the cell after the parameters must call check_preset(preset)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_colab_install_cell_keeps_torch(path):
    nb = _read(path)
    code = _code_cells(nb)
    install = [cell for cell in code if "google.colab" in cell.source]
    assert len(install) == 1, f"{path.name}: needs exactly one Colab install cell"
    cell = install[0]
    assert code[0] is cell, f"{path.name}: the Colab install cell must be the first code cell"
    tree = ast.parse(cell.source)  # plain Python (no ! or % magics): it must run under every runner
    assert any(isinstance(node, ast.If) and "google.colab" in ast.unparse(node.test) for node in ast.walk(tree)), (
        f"{path.name}: the install cell must be guarded by `if \"google.colab\" in sys.modules`")
    assert _repository_url() in cell.source, f"{path.name}: install from the repository named in _config.yml"
    assert f'"{DISTRIBUTION}[events,plot] @ file://' in cell.source, (
        f"{path.name}: install the distribution {DISTRIBUTION} (pip checks the clone's name against it)")
    words = {node.value.strip() for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not [w for w in words if re.match(r"(torch|torchvision|torchaudio)\b", w)], (
        f"{path.name}: the install cell must not install torch")
    assert not {"-U", "--upgrade", "--force-reinstall", "--ignore-installed", "-I"} & words, (
        f"{path.name}: the install cell must not upgrade or reinstall packages (Colab's torch would be replaced)")
    # and the package itself does not pull torch in
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if re.match(r"torch\b", d)], deps


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_install_cell_is_the_kits_one_install_cell(path):
    """Every notebook's install cell is :func:`snnlab.scaffold.install_cell`, hidden (``hide-cell``): one source,
    which ``.ci/set_repository.py`` writes into every notebook."""
    cell = _code_cells(_read(path))[0]
    assert cell.source == install_cell(_repository_url()), (
        f"{path.name}: the install cell differs from snnlab.scaffold.install_cell; run python .ci/set_repository.py")
    assert _tags(cell) == ["hide-cell"], f"{path.name}: tag the install cell hide-cell (and nothing else)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_open_in_colab_badge_under_the_title(path):
    first = _read(path).cells[0]
    repo = _repository_url().removeprefix("https://github.com/")
    badge = (f"[![Open in Colab](../book/images/open-in-colab.svg)]"
             f"(https://colab.research.google.com/github/{repo}/blob/main/notebooks/{path.name})")
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert first.source.splitlines()[2] == badge, f"{path.name}: the Colab badge must follow the title"
    assert (ROOT / "book" / "images" / "open-in-colab.svg").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_heavy_cells_show_progress(path):
    for cell in _code_cells(_read(path)):
        src = cell.source
        if not any(call in src for call in HEAVY_CALLS):
            continue
        assert "progress=False" not in src or "tqdm" in src, (
            f"{path.name}: a training cell turns its progress bars off without a tqdm bar of its own:\n{src}")
        if re.search(r"^\s*for .+:", src, re.MULTILINE):
            assert "tqdm(" in src, f"{path.name}: a loop over training runs needs a tqdm progress bar:\n{src}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_figures_are_labelled_and_captioned(path):
    for cell in _code_cells(_read(path)):
        src = cell.source
        n_figures = len(FIGURE_CALL.findall(src))
        if not n_figures:
            continue
        assert n_figures == 1, f"{path.name}: one figure per cell (each gets one caption):\n{src[:200]}"
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        caption, name = str(figure.get("caption", "")).strip(), str(figure.get("name", ""))
        assert len(caption) >= 30, f"{path.name}: figure cell without a caption (metadata mystnb.figure.caption)"
        assert name.startswith("fig-"), f"{path.name}: figure cell needs metadata mystnb.figure.name = 'fig-...'"
        assert re.search(r"set_xlabel\(|plt\.xlabel\(", src) and re.search(r"set_ylabel\(|plt\.ylabel\(", src), (
            f"{path.name}: figure {name} needs axis labels")


def test_figure_names_are_unique():
    names = []
    for path in NOTEBOOKS:
        for cell in _code_cells(_read(path)):
            name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
            if name:
                names.append(name)
    assert len(names) == len(set(names)), names


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_at_smoke_preset(path, tmp_path):
    """Execute the notebook with papermill at ``preset='smoke'``, from notebooks/ as the book build does."""
    papermill = pytest.importorskip("papermill")
    out = tmp_path / path.name
    nb = papermill.execute_notebook(str(path), str(out), parameters={"preset": "smoke"}, cwd=str(NOTEBOOK_DIR),
                                    kernel_name="python3", progress_bar=False, log_output=False)
    injected = [cell for cell in nb.cells if "injected-parameters" in _tags(cell)]
    assert injected and "smoke" in injected[0].source
    errors = [o for cell in _code_cells(nb) for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # every figure cell really drew its figure
    for cell in _code_cells(nb):
        if FIGURE_CALL.search(cell.source):
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert len(images) == 1, f"{path.name}: a figure cell produced {len(images)} images"
    # every exercise's solution ran and printed its answer
    for number, (_, solution) in enumerate(_exercises(nb), 1):
        printed = "".join(o.get("text", "") for o in solution.outputs if o.get("output_type") == "stream"
                          and o.get("name") == "stdout")
        assert printed.strip(), f"{path.name}: solution {number} printed nothing"


CHAPTERS = [p for p in NOTEBOOKS if p.stem != "results"]
"""Every notebook but the generated Results page is a chapter with the same scaffolding."""
HINT = "```{admonition} Hint"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_opens_with_goals_and_time(path):
    nb = _read(path)
    goals = "".join(nb.cells[1].source)
    assert nb.cells[1].cell_type == "markdown" and goals.startswith("```{admonition} Learning goals"), \
        f"{path.name}: the cell under the title must be the learning-goals admonition"
    assert len(re.findall(r"^\* ", goals, re.MULTILINE)) >= 3, f"{path.name}: fewer than 3 learning goals"
    assert re.search(r"\*\*Time:\*\* reading about \d+ min", goals), f"{path.name}: no reading time"


SOLUTION = "```{admonition} Solution"
SOLUTION_TAG = "hide-cell"
"""The tag of a solution cell: Jupyter Book shows it collapsed, code and output, under the exercise it solves."""


def _exercise_section(nb) -> list:
    """The cells from the chapter's ``## Exercises`` heading to the end of the notebook."""
    starts = [i for i, cell in enumerate(nb.cells)
              if cell.cell_type == "markdown" and "".join(cell.source).startswith("## Exercises")]
    return nb.cells[starts[0]:] if len(starts) == 1 else []


def _exercises(nb) -> list[tuple]:
    """``(exercise cell, solution cell or None)`` for every exercise of the section: a markdown cell that starts
    with its number, and the code cell right after it."""
    section = _exercise_section(nb)
    return [(cell, section[i + 1] if i + 1 < len(section) and section[i + 1].cell_type == "code" else None)
            for i, cell in enumerate(section) if cell.cell_type == "markdown" and re.match(r"\d+\. ", cell.source)]


def _admonition(text: str, opening: str) -> str:
    """The body of the fenced admonition of ``text`` that starts with ``opening`` (empty when there is none)."""
    start = text.find(opening)
    if start < 0:
        return ""
    body = text[start + len(opening):]
    return body[:body.find("```")] if "```" in body else body


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_ends_with_summary_and_exercises_with_solutions(path):
    """2-4 numbered exercises after the summary, each a markdown cell with one hint and one solution in words (both
    collapsed), followed by its solution cell: collapsed, printing its answer, executed by the book build. The
    solution's words state no number: the numbers are the cell's output, so they stay true when the code changes."""
    nb = _read(path)
    section = _exercise_section(nb)
    assert section, f"{path.name}: needs one `## Exercises` heading"
    assert section[0].get("id") == f"{path.stem}-exercises", f"{path.name}: the exercises heading's id"
    before = nb.cells[:len(nb.cells) - len(section)]
    assert any(c.cell_type == "markdown" and re.search(r"^## Summary$", c.source, re.MULTILINE) for c in before), (
        f"{path.name}: no summary before the exercises")
    exercises = _exercises(nb)
    assert 2 <= len(exercises) <= 4, f"{path.name}: {len(exercises)} exercises (2 to 4 expected)"
    assert len(section) == 1 + 2 * len(exercises), (
        f"{path.name}: after the exercises heading, each exercise cell is followed by its solution cell, no other cell")
    for number, (exercise, solution) in enumerate(exercises, 1):
        text = exercise.source
        assert text.startswith(f"{number}. "), f"{path.name}: exercise {number} is numbered {text[:4]!r}"
        assert exercise.get("id") == f"{path.stem}-exercise-{number}", f"{path.name}: exercise {number}'s id"
        assert text.count(HINT) == 1 and text.count(SOLUTION) == 1 and text.find(HINT) < text.find(SOLUTION), (
            f"{path.name}: exercise {number} needs one hint, then one solution in words")
        for opening in (HINT, SOLUTION):
            assert _admonition(text, opening).lstrip().startswith(":class: dropdown"), (
                f"{path.name}: exercise {number}'s {opening[3:]} must be collapsed (:class: dropdown)")
        words = _admonition(text, SOLUTION)
        assert len(words.split()) >= 15, f"{path.name}: exercise {number}'s solution needs its reasoning in words"
        assert not stated_numbers(words), (
            f"{path.name}: exercise {number}'s solution states numbers in words {stated_numbers(words)}: print them "
            "from the solution cell, whose output the build computes")
        assert solution is not None, f"{path.name}: exercise {number} has no solution cell after it"
        assert solution.get("id") == f"{path.stem}-solution-{number}", f"{path.name}: solution {number}'s id"
        assert SOLUTION_TAG in _tags(solution), f"{path.name}: solution {number} must be tagged {SOLUTION_TAG}"
        prompt = solution.get("metadata", {}).get("mystnb", {}).get("code_prompt_show", "")
        assert "solution" in prompt.lower(), f"{path.name}: solution {number}'s button must say it shows the solution"
        assert re.search(r"^\s*(print|display)\(", solution.source, re.MULTILINE), (
            f"{path.name}: solution {number} must print its answer")


LABEL = re.compile(r"^\(([\w-]+)\)=\s*$", re.MULTILINE)
REFERENCE = re.compile(r"\{(?:ref|numref)\}`(?:[^`<]*<)?([\w-]+)>?`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
UNLINKED_PLACE = re.compile(r"\bsections?\b|\b(?:cell|cells|figure|table|example|check|helper|plot|code)s? "
                            r"(?:above|below)\b|\b(?:above|below)\b[^.]*\b(?:cell|figure|table|example)\b",
                            re.IGNORECASE)
"""How an exercise may point to a place without naming it as a link: "section 5", "the worked example above"."""


def _labels(path: Path) -> set[str]:
    """The reference targets a book page defines: ``(label)=`` lines and figure names."""
    if path.suffix != ".ipynb":
        return set(LABEL.findall(path.read_text()))
    nb = _read(path)
    return ({label for c in nb.cells if c.cell_type == "markdown" for label in LABEL.findall(c.source)}
            | {c.metadata["mystnb"]["figure"]["name"] for c in _code_cells(nb)
               if c.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")})


def unresolved_places(text: str, page: Path, pages: list[Path]) -> list[str]:
    """The places ``text`` (on ``page``) points to that do not exist: ``{ref}``/``{numref}`` labels no page defines,
    local links to a missing file or label, and references to a section, cell or figure made without a link."""
    labels = {label for other in pages for label in _labels(other)}
    missing = [f"label {label!r}" for label in REFERENCE.findall(text) if label not in labels]
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.is_file():
            missing.append(f"file {target!r}")
        elif anchor and anchor not in _labels(linked):
            missing.append(f"label {target!r}")
    bare = UNLINKED_PLACE.findall(REFERENCE.sub(" ", re.sub(r"\[[^\]]*\]\([^)]*\)", " ", text)))
    return missing + [f"unlinked {phrase!r}" for phrase in bare]


BOOK_PAGES = NOTEBOOKS + sorted((ROOT / "book").glob("*.md"))


def test_unresolved_places_are_found():
    page = NOTEBOOK_DIR / "primer.ipynb"
    assert unresolved_places("as in [the TET chapter](tet.ipynb) and {term}`SDT`", page, BOOK_PAGES) == []
    assert unresolved_places("see [TET](tett.ipynb)", page, BOOK_PAGES) == ["file 'tett.ipynb'"]
    assert unresolved_places("{ref}`the first run <no-such-label>`", page, BOOK_PAGES) == ["label 'no-such-label'"]
    assert unresolved_places("the first run of section 5", page, BOOK_PAGES) == ["unlinked 'section'"]
    assert unresolved_places("Follow the worked example above.", page, BOOK_PAGES) == ["unlinked 'example above'"]
    assert unresolved_places("the student lies above the target", page, BOOK_PAGES) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_exercises_point_only_to_places_that_exist(path):
    """Every section, figure or chapter an exercise or its hint points to is a link or reference that resolves."""
    texts = {cell.get("id"): cell.source.replace(_admonition(cell.source, SOLUTION), "")
             for cell in _exercise_section(_read(path)) if cell.cell_type == "markdown"}
    unresolved = {name: places for name, text in texts.items() if (places := unresolved_places(text, path, BOOK_PAGES))}
    assert not unresolved, f"{path.name}: exercises point to places that do not exist: {unresolved}"


AWAITING_RECORD: set[str] = set()
"""Chapters whose book records are not written yet (none at present): their record tests are skipped with the
command that writes each record. A listed chapter whose records exist fails, so the set shrinks; an unlisted chapter
whose record is missing fails, naming the command."""


def _chapter_records(path: Path) -> tuple[list[Path], int | None]:
    """The record files a chapter's goals name as what ``rerun = True`` retrains and the minutes they announce
    (:func:`snnlab.book_tables.goals_records`, which reads the notebook only, so collection never depends on
    records); skips a chapter listed in :data:`AWAITING_RECORD` (failing one whose records exist) and fails one whose
    record is missing, each time naming the command that writes the record."""
    names, minutes = goals_records(path)
    records, missing = [], []
    for name in names:
        found = record_file(ROOT / "results", name)
        if found:
            records.append(found)
        else:
            missing.append(name)
    commands = "; ".join(f"`snnlab reproduce {name} --preset book`" for name in missing)
    if path.stem in AWAITING_RECORD:
        assert missing, f"{path.name}'s records exist now: remove it from AWAITING_RECORD"
        pytest.skip(f"{path.name} awaits its record(s) {missing}: {commands} (sweeps: `snnlab sweep`, demonstrations: "
                    "`snnlab demo`)")
    assert not missing, (f"{path.name}: no book record named {missing}; write it ({commands}) or list the chapter in "
                         "AWAITING_RECORD")
    return records, minutes


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_rerun_time_in_the_goals_is_the_records_wall_clock(path):
    """The time a chapter announces for ``rerun = True`` is the sum of its records' wall-clock times."""
    records, minutes = _chapter_records(path)
    if minutes is None:
        assert "nothing to retrain" in "".join(_read(path).cells[1].source), \
            f"{path.name}: the goals must say what rerun = True costs"
        assert "recorded_run(" not in path.read_text(), f"{path.name} reads records but announces no rerun time"
        return
    seconds = sum(json.loads(record.read_text())["wall_clock_s"] for record in records)
    assert minutes == round(seconds / 60), (
        f"{path.name} announces {minutes} min, its records took {seconds / 60:.1f}; run `snnlab book-tables`")


def test_running_page_and_goals_state_the_records_rerun_times():
    """The table of ``rerun = True`` times on *Running the code* and the time every chapter's goals announce are
    what the records give (:mod:`snnlab.book_tables`)."""
    stale = stale_places(ROOT)
    assert not stale, f"{stale} do not state the records' rerun times; run `snnlab book-tables`"


_NUMBER = r"[−+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
STATED_NUMBERS = {
    "level": (rf"({_NUMBER})\s*%", r"(\d+)–(\d+)\s*%", rf"({_NUMBER})\s*to\s*({_NUMBER})\s*%"),
    "difference": (rf"({_NUMBER})\s*points?", rf"({_NUMBER})\s*to\s*({_NUMBER})(?!\d|[.,]\d)(?!\s*%)",
                   rf"(?:minimum detectable effect|MDE)\s*(?:of\s*)?({_NUMBER})"),
    "any": (r"(?<![\w.$^{])([−+-]?\d+\.\d+)(?![\w.])",),
}
"""What a chapter's prose states as a result, by kind: a *level* (a percentage, a range or span of them: an
accuracy); a *difference* (a number of points, both ends of an interval such as "−2.6 to +2.6", a minimum detectable
effect); and *any* other decimal number. Math and code are skipped."""
NUMBERS_NOT_FROM_A_RECORD = "snnlab_numbers"
"""Cell metadata key whose value says why the numbers of a markdown cell are not a record's (a derivation's example,
a measurement made in the chapter)."""


STATED_INTERVAL = re.compile(rf"({_NUMBER})\s*points?[^()%.]*?\((?:95 % CI |interval )?\s*({_NUMBER})\s*to\s*"
                             rf"({_NUMBER})(?!\d|[.,]\d)(?!\s*%)")
"""A difference stated with its interval, "4.8 points above plain training (95 % CI +0.8 to +8.9": the three
numbers must be one paired difference's mean and bounds."""


def stated_numbers(text: str) -> list[tuple[str, str]]:
    """``(kind, number as printed)`` for every number of :data:`STATED_NUMBERS` in ``text``, and ``("interval",
    "mean|low|high")`` for a difference stated with its interval (:data:`STATED_INTERVAL`, whose numbers are not
    listed again)."""
    text = re.sub(r"\$[^$]*\$|`[^`]*`", " ", text)
    intervals = {("interval", "|".join(match.groups())) for match in STATED_INTERVAL.finditer(text)}
    text = STATED_INTERVAL.sub(" ", text)
    found = intervals | {(kind, group) for kind, patterns in STATED_NUMBERS.items() for pattern in patterns
             for match in re.finditer(pattern, text) for group in match.groups() if group is not None}
    specific = {token for kind, token in found if kind != "any"}
    return sorted((kind, token) for kind, token in found if kind != "any" or token not in specific)


def _seeds(values) -> list[float] | None:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return finite if len(finite) == len(values) else None


def _numbers_in(node) -> list[float]:
    if isinstance(node, dict):
        return [v for item in node.values() for v in _numbers_in(item)]
    if isinstance(node, list):
        return [v for item in node for v in _numbers_in(item)]
    if isinstance(node, str):                       # e.g. a paper result's note: "83.17 with augmentation"
        return [float(n) for n in re.findall(r"\d+\.\d+", node)]
    return [node] if isinstance(node, (int, float)) and not isinstance(node, bool) else []


def _paired_difference(a: list[float], b: list[float]) -> list[tuple[float, float, float]]:
    """``[(mean, low, high)]``: the 95 % Student-t interval of the per-seed differences ``a - b`` (empty unless paired
    over seeds)."""
    if len(a) != len(b) or len(a) < 2:
        return []
    diffs = [x - y for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    half = scipy_stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return [(mean, mean - half, mean + half)]


def sweep_against_record(sweep: dict, record: dict) -> list[float]:
    """The paired differences between every point of a sweep and every arm of its reproduction's record (a chapter
    sets a sweep's points against the record's baseline over the same seeds)."""
    points = [point["per_seed"] for series in sweep["series"].values() for point in series]
    arms = [summary["per_seed"] for summary in record["arms"].values()]
    return [v for point in points for arm in arms for v in _paired_difference(point, arm) + _paired_difference(arm, point)]


def record_values(record: dict) -> dict[str, list[float]]:
    """The numbers a chapter may state from ``record``, by kind (:data:`STATED_NUMBERS`). Levels: each arm's (or
    sweep point's) mean and per-seed values of its metric and of each further metric, and the paper's numbers.
    Differences: the mean and 95 % Student-t interval of the paired difference between two arms in the same metric
    (two series at the same sweep value), computed here independently of the package; each arm's std; the record's
    effect, premise, further claims, diagnostics and readings (their means, intervals and minimum detectable
    effects). Both: the record's setting and the presets of its reproduction. A demonstration's record
    gives every number it measured and its setting, of any kind."""
    if "measured" in record:
        numbers = _numbers_in([record["measured"], record["setting"]])
        return {"level": numbers, "difference": numbers, "any": numbers, "interval": []}
    if "series" in record:
        groups = {}                                            # a sweep: the series at each value
        for series, points in record["series"].items():
            for value, point in zip(record["values"], points):
                groups.setdefault(str(value), {})[series] = point["per_seed"]
    else:
        groups = {"": {arm: summary["per_seed"] for arm, summary in record["arms"].items()}}
        for arm, summary in record["arms"].items():
            for metric, values in summary.get("metrics", {}).items():
                groups.setdefault(metric, {})[arm] = values["per_seed"]
    measures = [record.get("effect"), record.get("premise"), *(record.get("further_claims") or {}).values(),
                *(record.get("diagnostics") or {}).values(),
                *(reading["effect"] for reading in (record.get("readings") or {}).values())]
    levels, differences = _numbers_in(record.get("paper_result")), _numbers_in(measures)
    effect = record.get("effect") or {}
    intervals = [(effect["mean"], *effect["ci"])] if effect.get("ci") else []
    paired = set(groups)
    for metric, arms in groups.items():
        arms = {arm: seeds for arm, seeds in ((a, _seeds(v)) for a, v in arms.items()) if seeds}
        for seeds in arms.values():
            levels += [sum(seeds) / len(seeds), *seeds]
            differences.append(statistics.stdev(seeds) if len(seeds) > 1 else 0.0)
        for a, b in itertools.permutations(arms.values(), 2) if metric in paired else ():
            intervals += _paired_difference(a, b)
    presets = get_reproduction(record.get("reproduction", record["name"])).presets     # the kit's settings
    settings = _numbers_in(record.get("setting")) + _numbers_in(json.loads(json.dumps(presets, default=str)))
    differences += [v for interval in intervals for v in interval]
    return {"level": levels + settings, "difference": differences + settings,
            "any": levels + differences + settings, "interval": intervals}


def _is_among(token: str, values: list[float]) -> bool:
    """``token`` as printed (its decimals give the rounding; the sign is often said in words) is one of ``values``."""
    number = abs(float(token.replace("−", "-").replace(",", "")))
    decimals = len(token.partition(".")[2])
    return any(abs(abs(value) - number) <= 0.5 * 10 ** -decimals + 1e-9 for value in values)


def _is_stated_from(kind: str, token: str, values: dict) -> bool:
    """A stated number (or, for an ``"interval"``, its three numbers at once) is among ``values`` of its kind."""
    if kind != "interval":
        return _is_among(token, values[kind])
    return any(all(_is_among(part, [value]) for part, value in zip(token.split("|"), interval))
               for interval in values["interval"])


GENERAL_VALUES = [100 * CONFIDENCE, E_MAC_PJ, E_AC_PJ, MAC_AC_COST_RATIO,
                  *_numbers_in([dataclasses.asdict(spec) for spec in NEURON_PRESETS.values()])]
"""Numbers of the kit itself that chapters state beside the records' (the interval's confidence, the energy model,
the neuron presets' constants)."""


def test_stated_numbers_are_read_by_kind_and_matched_as_printed():
    assert stated_numbers("TSSD ends 4.8 points above (95 % CI +0.8 to +8.9, MDE 5.5) at $T = 4.5$, `x = 1.5`, "
                          "89–91 %, rising from 59.4 to 62.5 %; ratio 0.87") == [
        ("any", "0.87"), ("difference", "5.5"), ("interval", "4.8|+0.8|+8.9"), ("level", "59.4"), ("level", "62.5"),
        ("level", "89"), ("level", "91")]
    assert _is_among("−2.6", [2.63]) and _is_among("13", [12.6]) and not _is_among("2.6", [2.66])
    assert _is_among("1,800", [1800]) and not _is_among("8.95", [8.9, 9.0])
    intervals = {"interval": [(4.83, 0.77, 8.86)]}
    assert _is_stated_from("interval", "4.8|+0.8|+8.9", intervals)
    assert not _is_stated_from("interval", "4.8|+0.8|+8.5", intervals)    # each number of the same difference


RECORD_CHAPTERS = [p for p in CHAPTERS if goals_records(p)[0]]


@pytest.mark.parametrize("path", RECORD_CHAPTERS, ids=_ids(RECORD_CHAPTERS))
def test_numbers_in_a_chapter_are_its_records_numbers(path):
    """Every result a chapter states in prose is a number of the records it reads or of the kit's settings, as
    printed (rounded to the decimals shown); exercises are proposals, not results, and a cell whose numbers come
    from elsewhere says so in its metadata, with the reason."""
    records, _ = _chapter_records(path)
    loaded = [json.loads(record.read_text()) for record in records]
    values = {**{kind: list(GENERAL_VALUES) for kind in STATED_NUMBERS}, "interval": []}
    for record in loaded:
        for kind, numbers in record_values(record).items():
            values[kind] += numbers
    for sweep, record in itertools.product(loaded, loaded):
        if "series" in sweep and sweep["reproduction"] == record["name"]:
            values["interval"] += sweep_against_record(sweep, record)
            values["difference"] += [v for interval in sweep_against_record(sweep, record) for v in interval]
    foreign = []
    nb = _read(path)
    exercises = _exercise_section(nb)           # proposals, and solutions whose numbers are their cells' output
    for cell in nb.cells:
        if cell.cell_type != "markdown" or any(cell is other for other in exercises):
            continue
        if NUMBERS_NOT_FROM_A_RECORD in cell.metadata:
            assert len(cell.metadata[NUMBERS_NOT_FROM_A_RECORD]) > 20, f"{path.name}: say why, in a sentence"
            continue
        foreign += [(cell.get("id"), kind, token) for kind, token in stated_numbers("".join(cell.source))
                    if not _is_stated_from(kind, token, values)]
    assert not foreign, f"{path.name}: numbers that are not in {[r.name for r in records]}: {foreign}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_plotting_code_is_hidden(path):
    for cell in _code_cells(_read(path)):
        if cell.get("metadata", {}).get("mystnb", {}).get("figure"):
            assert "hide-input" in _tags(cell), f"{path.name}: figure cell {cell.get('id')} shows its plotting code"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_has_a_diagram_of_its_method(path):
    diagrams = [cell for cell in _code_cells(_read(path))
                if cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name", "").endswith("-diagram")]
    assert len(diagrams) == 1, f"{path.name}: one diagram cell (figure name 'fig-<chapter>-diagram') expected"
    assert "hide-input" in _tags(diagrams[0])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_package_code_is_shown_with_rendered_docstrings(path):
    """Chapters show the package's functions with ``snnlab.source.show_source`` (docstrings rendered as math), not
    as raw source with Sphinx markup."""
    for cell in _code_cells(_read(path)):
        assert not re.search(r"^print\(inspect\.getsource\([^)]*\)\)$", cell.source, re.MULTILINE), \
            f"{path.name}: cell {cell.get('id')} prints raw source; use show_source"



RECORD_RULES = (test_rerun_time_in_the_goals_is_the_records_wall_clock, test_numbers_in_a_chapter_are_its_records_numbers)
"""The rules of one chapter that read its records; every other rule parametrised by ``path`` reads the notebook alone,
and the chapter template's skeleton is checked against those as written (tests/test_scaffold.py)."""
