"""One notation for the whole book: the table of ``book/notation.md`` is the list of its symbols.

Every page of ``_toc.yml`` is read as a reader sees it: the math of markdown cells and pages, figure captions, the
strings code cells draw into figures and tables, and the docstrings a chapter shows with ``show_source``. The math is
split into symbols (a letter with its subscript: ``\\lambda_{TET}``, ``z_s``); a symbol is the table's row of the
same letter and subscript, or else the row of its bare letter. Checks:

* the notation page is in the table of contents right after the reading guide;
* every Greek or calligraphic symbol of every page has a row (a new symbol is declared before it is used);
* each row's symbol appears on exactly the pages the row names (``throughout`` lifts this for the time steps), and
  the page the row says introduces it is the first of them in the book's order: a symbol used with another meaning
  on another page fails here (a distillation temperature written as the membrane constant's :math:`\\tau`);
* student and teacher are the subscripts ``s`` and ``t``, never the spikes' ``S`` or the steps' ``T``;
* a quantity of a discrete time step is written with brackets, ``O[t]``, never ``O(t)``.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTATION = "book/notation"
THROUGHOUT = "throughout"

GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi rho "
         "varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi "
         "Psi Omega").split()
_GROUP = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
_SUBSCRIPT = rf"\s*_\s*(?P<sub>{_GROUP}|\\[A-Za-z]+|[A-Za-z0-9])"
SYMBOL = re.compile(
    rf"(?P<base>\\mathcal\s*(?:\{{\s*[A-Za-z]\s*\}}|[A-Za-z])|\\(?:{'|'.join(GREEK)})(?![A-Za-z])"
    rf"|(?<![\\A-Za-z])[A-Za-z](?![A-Za-z]))(?:{_SUBSCRIPT})?")
"""A symbol: a calligraphic letter, a Greek letter or a lone Latin letter, with its subscript if it has one."""
WORDS = re.compile(rf"\\(?:mathrm|text|operatorname|textbf|textit|mathbf|mathit|texttt|mathbb)\s*(?:{_GROUP}|[A-Za-z])")
"""Upright words and blackboard letters (:math:`\\mathbb R`), which are not symbols."""
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.DOTALL)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def _toc_pages() -> list[str]:
    text = (ROOT / "_toc.yml").read_text()
    return re.findall(r"^\s*(?:root|-?\s*file):\s*(\S+)\s*$", text, re.MULTILINE)


def _path(page: str) -> Path:
    notebook = ROOT / f"{page}.ipynb"
    return notebook if notebook.is_file() else ROOT / f"{page}.md"


def _strings(source: str) -> list[str]:
    """The string constants of a code cell (figure labels, table headers, captions it writes)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


@cache
def _package_objects() -> dict:
    """Every class and function of snnlab by name, to find what a chapter's ``show_source`` shows."""
    import snnlab

    objects = {}
    for module in pkgutil.walk_packages(snnlab.__path__, "snnlab."):
        if module.name.endswith("__main__"):
            continue
        for name, value in vars(importlib.import_module(module.name)).items():
            if inspect.isclass(value) or inspect.isfunction(value):
                objects.setdefault(name, value)
    return objects


def _shown_docstrings(code: str) -> list[str]:
    """The docstrings, as rendered, of the objects a code cell shows with ``show_source``."""
    from snnlab.source import docstring_markdown

    shown = []
    for call in re.findall(r"show_source\(([^)]*)\)", code):
        for name in (n.strip() for n in call.split(",") if n.strip()):
            head, *attributes = name.split(".")
            obj = _package_objects()[head]
            for attribute in attributes:
                obj = getattr(obj, attribute)
            obj = inspect.unwrap(obj)
            if obj.__doc__:
                shown.append(docstring_markdown(obj.__doc__))
    return shown


def page_texts(page: str) -> list[str]:
    """What a reader of ``page`` reads as text: markdown (without code), figure captions, the strings its code
    cells draw, and the docstrings it shows."""
    path = _path(page)
    if path.suffix == ".md":
        return [CODE.sub(" ", path.read_text(encoding="utf-8"))]
    texts = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            texts.append(CODE.sub(" ", source))
        elif cell["cell_type"] == "code":
            texts += _strings(source) + _shown_docstrings(source)
        caption = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption")
        if caption:
            texts.append(CODE.sub(" ", caption))
    return texts


def _unicode_greek(text: str) -> list[str]:
    """A Greek letter typed as a character (a figure label's "τ") as the math it stands for; μ is left out, as the
    micro prefix of a unit."""
    variants = {"ϑ": "\\vartheta", "ϕ": "\\phi", "φ": "\\varphi", "ε": "\\varepsilon", "ς": "\\varsigma"}
    letters = []
    for char in re.findall(r"[\u0391-\u03a9\u03b1-\u03c9\u03d1\u03d5]", text):
        name = unicodedata.name(char).split()[-1]
        if name != "MU":
            letters.append(variants.get(char) or "\\" + (name.lower() if char.islower() else name.capitalize()))
    return letters


def page_math(page: str) -> list[str]:
    """The formulas of ``page``, and every Greek letter it types as a character outside them."""
    texts = page_texts(page)
    return ([m.group(1) or m.group(2) for text in texts for m in MATH.finditer(text)]
            + [letter for text in texts for letter in _unicode_greek(MATH.sub(" ", text))])


def _normal(text: str) -> str:
    """A subscript or letter as compared: without braces, spaces and upright-font commands."""
    text = re.sub(r"\\(?:mathrm|text|operatorname)\s*", "", text or "")
    return re.sub(r"[{}\s]", "", text)


def symbols(math: str) -> list[tuple[str, str]]:
    """``(letter, subscript)`` of every symbol of one formula (subscript ``""`` when there is none)."""
    words = [(w.start(), w.end()) for w in WORDS.finditer(math)]
    found = []
    for match in SYMBOL.finditer(math):
        if any(start <= match.start() < end for start, end in words):
            continue
        base = re.sub(r"\\mathcal\s*\{?\s*([A-Za-z])\s*\}?", r"\\mathcal{\1}", match.group("base"))
        found.append((base, _normal(match.group("sub"))))
    return found


# -- the table ------------------------------------------------------------------------------------------------------
ROW = re.compile(r"^\|\s*\$(?P<symbol>[^$]+)\$\s*\|(?P<meaning>[^|]+)\|(?P<first>[^|]+)\|(?P<also>[^|]*)\|\s*$",
                 re.MULTILINE)
LINK = re.compile(r"\]\(\.\./((?:notebooks|book)/[\w-]+)\.(?:ipynb|md)\)")


@cache
def notation() -> dict[tuple[str, str], dict]:
    """The rows of the notation table: ``{(letter, subscript): {"first": page, "also": {pages} or None}}``."""
    rows = {}
    for match in ROW.finditer((ROOT / f"{NOTATION}.md").read_text(encoding="utf-8")):
        found = symbols(match.group("symbol"))
        assert len(found) == 1, f"a row of the notation table names one symbol: {match.group('symbol')!r}"
        first = LINK.findall(match.group("first"))
        assert len(first) == 1, f"row {match.group('symbol')!r}: 'introduced in' links one page"
        also = None if THROUGHOUT in match.group("also") else set(LINK.findall(match.group("also")))
        assert found[0] not in rows, f"{match.group('symbol')!r} has two rows"
        rows[found[0]] = {"first": first[0], "also": also, "meaning": match.group("meaning").strip()}
    assert len(rows) > 30, "the notation table was not found"
    return rows


def row_of(symbol: tuple[str, str]) -> tuple[str, str] | None:
    """The table row a symbol belongs to: the row of its letter and subscript, else the row of its bare letter."""
    rows = notation()
    if symbol in rows:
        return symbol
    return (symbol[0], "") if (symbol[0], "") in rows else None


def _is_declared_kind(base: str) -> bool:
    """Greek and calligraphic letters must all be in the table; Latin letters only where it names them."""
    return base.startswith("\\")


BOOK_PAGES = [page for page in _toc_pages() if page != NOTATION]


@cache
def usage() -> dict[tuple[str, str], list[str]]:
    """For every row, the pages (in the book's order) whose math uses its symbol."""
    used: dict[tuple[str, str], list[str]] = {}
    for page in BOOK_PAGES:
        for math in page_math(page):
            for symbol in symbols(math):
                row = row_of(symbol)
                if row is not None and page not in used.setdefault(row, []):
                    used[row].append(page)
    return used


# -- checks ---------------------------------------------------------------------------------------------------------
def test_symbols_are_read_with_their_subscripts():
    assert symbols(r"\lambda_{TET}\,\frac1T\sum_t \mathrm{CE}(O[t], y) + \mathcal T^2 z_{\mathrm s}") == [
        ("\\lambda", "TET"), ("T", ""), ("t", ""), ("O", ""), ("t", ""), ("y", ""), ("\\mathcal{T}", ""), ("z", "s")]
    assert symbols(r"\mathbb R^{N_c}, \text{hard reset } V_{th}, \mathrm{softmax}(x)") == [
        ("N", "c"), ("V", "th"), ("x", "")]
    assert symbols(r"\tau^2 \mathrm{KL}\big(\sigma(z_T/\tau)\big)") == [
        ("\\tau", ""), ("\\sigma", ""), ("z", "T"), ("\\tau", "")]
    assert _unicode_greek("temperature τ (α = 0.9), 2.80 µJ, 3 μs, Θ, φ") == ["\\tau", "\\alpha", "\\Theta", "\\varphi"]


def test_the_notation_page_follows_the_reading_guide():
    pages = _toc_pages()
    assert NOTATION in pages, "book/notation is not in _toc.yml"
    assert pages.index(NOTATION) == pages.index("book/reading") + 1


def test_every_greek_and_calligraphic_symbol_is_in_the_table():
    """Greek and calligraphic letters all have a row; so does any letter subscripted by a Greek one (the DEQ map's
    :math:`f_\\theta` is a symbol of its own, and another letter subscripted by :math:`\\theta` would be another)."""
    undeclared = {}
    for page in BOOK_PAGES:
        for math in page_math(page):
            for base, sub in symbols(math):
                own_row = sub.startswith("\\") and row_of((base, sub)) != (base, sub)
                if own_row or (_is_declared_kind(base) and row_of((base, sub)) is None):
                    undeclared.setdefault(f"{base}_{sub}" if sub else base, set()).add(page)
    assert not undeclared, f"symbols missing from the notation table (add a row with their one meaning): {undeclared}"


RETIRED = {
    r"temperature\s+\$\\tau": "a distillation temperature is \\mathcal T; \\tau is the membrane time constant",
    r"current\s+\$I\b": "an input current is X; I is the identity matrix",
    r"\$\\lambda_l\s*=\s*\\max": "the largest activation of a layer is a_l^max; \\lambda weighs a loss term",
    r"\(S,\s*T\)": "student and teacher features are F_s and F_t; S are spikes and T time steps",
}
"""Phrases of the notation the book left behind, with the book's symbol: clashes that the page lists of the table
cannot see because both meanings met on one page."""


@pytest.mark.parametrize("page", BOOK_PAGES)
def test_retired_notation_is_not_used(page):
    found = [f"{m.group(0)!r}: {why}" for text in page_texts(page) for pattern, why in RETIRED.items()
             for m in re.finditer(pattern, text)]
    assert not found, f"{page}: {found}"


def test_each_symbol_has_one_meaning_on_the_pages_the_table_names():
    order = {page: i for i, page in enumerate(BOOK_PAGES)}
    problems = []
    for symbol, row in notation().items():
        pages = usage().get(symbol, [])
        name = symbol[0] + (f"_{{{symbol[1]}}}" if symbol[1] else "")
        if not pages:
            problems.append(f"{name}: in the table but used on no page")
            continue
        first = min(pages, key=order.get)
        if first != row["first"]:
            problems.append(f"{name}: introduced in {first}, not in {row['first']}")
        if row["also"] is not None:
            named = row["also"] | {row["first"]}
            if set(pages) - named:
                problems.append(f"{name} ({row['meaning']}) is also used in {sorted(set(pages) - named)}: another "
                                "meaning there, or a page to add to its row")
            if named - set(pages):
                problems.append(f"{name}: its row names {sorted(named - set(pages))}, which do not use it")
    assert not problems, "\n".join(problems)


STUDENT_TEACHER = {"S", "T", "stu", "tea"}
"""Subscripts that marked student and teacher before the book took ``s`` and ``t``."""


@pytest.mark.parametrize("page", BOOK_PAGES)
def test_student_and_teacher_are_subscripts_s_and_t(page):
    found = [f"{base}_{sub}" for math in page_math(page) for base, sub in symbols(math) if sub in STUDENT_TEACHER]
    assert not found, f"{page}: student and teacher are the subscripts s and t (the spikes are S, the steps T): {found}"


DISCRETE_TIME = re.compile(r"(?:(?<![\\A-Za-z])[OSHXfs]|\\mathrm\{NCS\})(?:_\{?[^\s(){}]*\}?)?(?:\^\{?[^\s(){}]*\}?)?\((?:t|t'|t-1)\)")


@pytest.mark.parametrize("page", BOOK_PAGES)
def test_a_time_step_is_written_in_brackets(page):
    found = [m.group(0) for math in page_math(page) for m in DISCRETE_TIME.finditer(math)]
    assert not found, f"{page}: write a step's quantity as O[t] (parentheses are for continuous time): {found}"
