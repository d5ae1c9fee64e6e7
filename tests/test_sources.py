"""What a reader sees comes from sources that render and stand on their own.

* No control characters in notebooks, book pages, package sources or records: a stray ``\\a`` (the start of
  ``\\alpha`` in a Python string without ``r``) renders as "Math input error" in the book.
* No reference to documents a reader of the book cannot open (the project's planning and reading notes): chapters,
  docstrings (rendered by the API reference) and records (shown on the Results page) cite the papers instead.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("book/*.md"), *ROOT.glob("snnlab/**/*.py"),
                  *ROOT.glob("results/**/*.json"), ROOT / "README.md"])
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
OUTSIDE_DOCUMENTS = re.compile(r"seed\s+00\d|seeds?/|reading[ -]notes?|seed[ -]notes?|design[ -]notes?|design\.md|"
                               r"methods\.md|toolchain\.md|spikingjelly-2\.0\.md|\.\./shared", re.IGNORECASE)


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _text(path: Path) -> str:
    """The text a reader can be shown: a notebook's cell sources and committed outputs, a file's whole text."""
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in notebook["cells"]:
        parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append(json.dumps(output, ensure_ascii=False))
    return "\n".join(parts)


def test_the_scan_covers_every_kind_of_source():
    kinds = {p.suffix for p in SOURCES}
    assert {".ipynb", ".md", ".py", ".json"} <= kinds, kinds


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_no_control_characters(path):
    text = _text(path)
    found = [(text.count("\n", 0, m.start()) + 1, repr(m.group())) for m in CONTROL.finditer(text)]
    assert not found, f"{path.name}: control characters at (line, char) {found[:5]} (a raw string r'...' avoids \\a, \\b, \\f)"


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_no_reference_to_documents_outside_the_book(path):
    found = sorted({m.group() for m in OUTSIDE_DOCUMENTS.finditer(_text(path))})
    assert not found, f"{path.name} refers to documents a reader cannot open: {found}; cite the paper instead"


@pytest.mark.parametrize("text, control, outside", [
    ("With $\alpha = 0.9$", True, False),
    (r"With $\alpha = 0.9$", False, False),
    ("as derived in seed 001 §4", False, True),
    ("not given in the reading notes", False, True),
    ("Xu et al., CVPR 2023", False, False),
])
def test_the_patterns_catch_the_defects_they_name(text, control, outside):
    assert bool(CONTROL.search(text)) is control
    assert bool(OUTSIDE_DOCUMENTS.search(text)) is outside
