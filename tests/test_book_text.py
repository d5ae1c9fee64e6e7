"""The book's text teaches: static checks of ``notebooks/*.ipynb`` and the pages of ``book/`` (no build needed).

* A result is shown without the code that formats it: a code cell that displays markdown built from a committed
  record (a table, a list of findings) is tagged ``hide-input``, so the reader sees the table, not its f-strings.
  The cell that loads the record stays visible, and so does a cell whose only display is the package's verdict
  (``repro.conclusion``).
* Every figure drawn from a record has a caption that says what to look for (a sentence starting "Look for").
* Every abbreviation the prose uses is a term of the glossary (``book/glossary.md``) or a name in :data:`NAMES`.
* On every page, the first use of a glossary term is a link to its entry (``{term}``) or its definition, written
  out beside it in parentheses: "minimum detectable effect (MDE)", "MDE (the minimum detectable effect)".
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAGES = NOTEBOOKS + [ROOT / "book" / f"{name}.md" for name in ("intro", "reading", "running")]
"""The pages whose prose is checked: every notebook and the introduction's pages (the reference pages — glossary,
API, contributing, bibliography — are generated or define the terms themselves)."""


def _ids(paths):
    return [p.stem for p in paths]


def _code_cells(path: Path) -> list:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


# -- results without their formatting code --------------------------------------------------------------------------
RECORD_SOURCE = re.compile(r"\b(?:recorded_run|recorded_demonstration|recorded_sweep|recorded_comparison|"
                           r"load_results)\(|\bjson\.loads?\(")
"""A call that reads a committed record (results/, bench/): what it returns, and everything computed from that, is
record data."""


def record_data(cells) -> list[set[str]]:
    """For each code cell, the names bound to record data once it has run: assigned (or looped over) from a
    :data:`RECORD_SOURCE` call or from an expression that reads record data, in this or an earlier cell."""
    names: set[str] = set()
    per_cell = []
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:                     # IPython magics: no Python to follow
            per_cell.append(set(names))
            continue
        changed = True
        while changed:
            changed = False
            for node in ast.walk(tree):
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                    targets, value = (node.targets if isinstance(node, ast.Assign) else [node.target]), node.value
                elif isinstance(node, (ast.For, ast.comprehension)):
                    targets, value = [node.target], node.iter
                else:
                    continue
                if value is None or not _reads_records(value, names):
                    continue
                for target in targets:
                    for leaf in ast.walk(target):
                        if isinstance(leaf, ast.Name) and leaf.id not in names:
                            names.add(leaf.id)
                            changed = True
        per_cell.append(set(names))
    return per_cell


def _reads_records(node: ast.AST, names: set[str]) -> bool:
    return bool(RECORD_SOURCE.search(ast.unparse(node))) or any(
        isinstance(leaf, ast.Name) and leaf.id in names for leaf in ast.walk(node))


def reads_record_data(source: str, names: set[str]) -> bool:
    """Whether the code ``source`` reads a record: calls a :data:`RECORD_SOURCE` or reads one of ``names``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return _reads_records(tree, names)


def displays_record_markdown(source: str, names: set[str]) -> bool:
    """Whether the cell displays markdown (``display(Markdown(...))``) built from record data, other than the
    package's verdict text (an argument that calls ``conclusion``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return reads_record_data(source, names) and any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Markdown" and node.args
        and "conclusion(" not in ast.unparse(node.args[0]) for node in ast.walk(tree))


def test_record_markdown_is_recognised():
    cells = [nbformat.v4.new_code_cell(src) for src in (
        'record = repro.recorded_run("tet", preset)\narms = record["arms"]',
        'rows = [f"| {a} | {s[\'mean\']:.2f} |" for a, s in arms.items()]\ndisplay(Markdown("\\n".join(rows)))',
        "display(Markdown(repro.conclusion(record)))",
        'display(Markdown("| a | b |\\n|---|---|\\n| 1 | 2 |"))',
        'bench = json.loads(Path("bench.json").read_text())\ndisplay(Markdown(f"{bench[\'cpu\']}"))')]
    names = record_data(cells)
    assert {"record", "arms"} <= names[0]
    shown = [displays_record_markdown(cell.source, n) for cell, n in zip(cells, names)]
    assert shown == [False, True, False, False, True]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_results_are_shown_without_the_code_that_formats_them(path):
    cells = _code_cells(path)
    shown = [cell.get("id") for cell, names in zip(cells, record_data(cells))
             if displays_record_markdown(cell.source, names) and not {"hide-input", "hide-cell"} & set(_tags(cell))]
    assert not shown, (f"{path.name}: cells {shown} display a table or findings built from a record with their "
                       "formatting code in view; tag them hide-input (split the loading line into a visible cell)")


# -- figures say what to look for -----------------------------------------------------------------------------------
LOOK_FOR = re.compile(r"(?:^|[.:]\s+)Look for\b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_figures_of_records_say_what_to_look_for(path):
    cells = _code_cells(path)
    silent = []
    for cell, names in zip(cells, record_data(cells)):
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if not figure:
            continue
        if reads_record_data(cell.source, names) and not LOOK_FOR.search(figure.get("caption", "")):
            silent.append(figure.get("name"))
    assert not silent, (f"{path.name}: captions of figures drawn from records say what is plotted but not what to "
                        f"look for (a sentence starting 'Look for'): {silent}")


# -- glossary -------------------------------------------------------------------------------------------------------
GLOSSARY = ROOT / "book" / "glossary.md"
NAMES = {
    # software, formats and hardware
    "CPU", "GPU", "CUDA", "CSV", "JSON", "IDX", "JPG", "MB", "MD5", "SHA-256", "MIT", "PyPI",
    "PyTorch", "NumPy", "README", "SpikingJelly", "TensorBoard", "CMOS", "DAVIS346", "ATIS", "AMP",
    # data sets and benchmarks
    "CIFAR", "CIFAR-10", "CIFAR-100", "CIFAR10-DVS", "MNIST", "DVS128", "DVS-Gesture", "SST-2", "GLUE",
    "UCI",
    # architectures and the package's models
    "BERT", "BERT-base", "TinyBERT", "ResNet", "ResNet8", "ResNet32", "ResNet-18", "VGG", "VGG-9", "VGGSNN", "SmallCNN", "SmallCNN-8", "SmallCNN-16",
    # the methods the chapters are named after (each chapter defines its own)
    "KDSNN", "LaSNN", "LC-TTFS", "SSNN", "TSSD", "MSKD", "SpikingBERT", "DKD",
    # event polarity
    "ON", "OFF",
}
"""Names, not terms: software, file formats and hardware, data sets, network architectures, and the methods the
chapters are named after. An abbreviation of the prose that is neither one of these nor a glossary term fails."""
ABBREVIATION = re.compile(r"(?<![\w/.#$\\-])([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*(?:[-#][A-Za-z0-9]+)*)")
"""A word with at least two capitals (MDE, Layer#OPS, ResNet-18, CIFAR10-DVS)."""
PLURAL = re.compile(r"s$")


def glossary_terms() -> dict[str, str]:
    """Every term of the glossary (an entry line may name several, comma-separated), mapped to its entry line."""
    body = GLOSSARY.read_text().split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms = {}
    for entry in re.findall(r"^(\S.*)$", body, re.MULTILINE):
        for term in re.split(r",\s*", entry):
            terms[re.sub(r"\s*\(.*\)$", "", term).strip()] = entry
    return terms


def _page_markdown(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text()]
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]


TERM_ROLE = re.compile(r"\{term\}`([^`<]*?)\s*(?:<([^>`]+)>)?`")


PROSE_DIRECTIVES = r"admonition|note|tip|warning|important|seealso|dropdown"
"""Fenced directives whose body is prose; every other fenced block is code (or math) and is skipped."""


FENCE = re.compile(rf"^[ \t]*(`{{3,}}|~{{3,}})\s*(\{{(?:{PROSE_DIRECTIVES})\}})?")


def _without_code_blocks(text: str) -> str:
    """``text`` without its fenced code blocks and without the fence lines of its prose directives, whose bodies
    stay: a fence closes the innermost open block with the same fence, else opens one."""
    kept, open_blocks = [], []                       # open_blocks: (fence, is_code)
    for line in text.split("\n"):
        match = FENCE.match(line)
        if match and open_blocks and open_blocks[-1][0] == match.group(1) and not match.group(2) \
                and not line.strip()[len(match.group(1)):].strip():
            open_blocks.pop()
        elif match and not (open_blocks and open_blocks[-1][1]):
            open_blocks.append((match.group(1), match.group(2) is None))
        elif not any(is_code for _, is_code in open_blocks):
            kept.append(line)
    return "\n".join(kept)


def prose(text: str) -> str:
    """``text`` without what is not prose: code blocks, inline code, math, citations, link texts and targets, HTML
    tags and headings; each ``{term}`` link becomes ``⟦text⟧`` (``⟦text ‹entry›⟧`` where it names its entry)."""
    text = TERM_ROLE.sub(lambda m: "⟦" + m.group(1).strip() + (f" ‹{m.group(2)}›" if m.group(2) else "") + "⟧", text)
    text = _without_code_blocks(text)
    text = re.sub(r"^[ \t]*:[\w-]+:.*$", " ", text, flags=re.MULTILINE)       # a directive's options
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", " ", text, flags=re.DOTALL)
    text = re.sub(r"\{cite[^}]*\}`[^`]*`|`[^`]*`|<[^>\n]+>", " ", text)
    text = re.sub(r"\[[^\]]*\]\([^)]*\)", " ", text)          # a link's text names a page: not a use of a term
    text = text.replace("*", "")                                     # emphasis
    return re.sub(r"^#+ .*$", " ", text, flags=re.MULTILINE)


def test_prose_keeps_only_what_a_reader_reads_as_text():
    text = "# Title with MDE\n\nThe {term}`MDE` and `CODE` and $T_{avg}$ and [TET](tet.ipynb) and a BN layer."
    assert ABBREVIATION.findall(prose(text)) == ["MDE", "BN"]
    assert "⟦MDE⟧" in prose(text)
    fenced = "```{admonition} Goals\n* the MDE\n```\n\n```python\nSAM = 1\n```\nthe CI"
    assert ABBREVIATION.findall(prose(fenced)) == ["MDE", "CI"]


def _known(word: str, known: set[str]) -> bool:
    """A known word, its singular, or a compound of known words ("ANN-to-SNN", "CE-only")."""
    word = re.sub(r"(?:-[a-z]+)+$", "", word)                       # "CE-only", "SST-2-like", "VGG-style"
    return word in known or PLURAL.sub("", word) in known or "-" in word and all(
        _known(part, known) for part in word.split("-") if re.search(r"[A-Z].*[A-Z]", part))


@pytest.mark.parametrize("path", PAGES, ids=_ids(PAGES))
def test_every_abbreviation_is_in_the_glossary(path):
    known = set(glossary_terms()) | NAMES
    unknown = sorted({word for text in _page_markdown(path) for word in ABBREVIATION.findall(prose(text))
                      if not _known(word, known)})
    assert not unknown, (f"{path.name}: abbreviations that are neither glossary terms (book/glossary.md) nor names "
                         f"(NAMES): {unknown}")


ASSUMED = {"ANN", "SNN", "BN", "CE", "CNN", "FC", "KL", "MLP", "MSE", "ReLU", "SGD", "SVD"}
"""Glossary terms a reader meets without a link: the book's two subjects (spelled out on the introduction page) and
the deep-learning terms its readers know ("Who it is for"); the glossary holds them for reference."""


def first_uses_left_undefined(text: str, terms) -> list[str]:
    """The terms (those with a capital: abbreviations) whose first use in ``text`` is neither inside a ``{term}``
    link, nor written out beside a parenthesis — "(MDE)" or "MDE (" —, nor a definition list's term; the context
    of each."""
    text = prose(text)
    undefined = []
    for term in terms:
        if not re.search(r"[A-Z]", term) or term.startswith("$"):
            continue
        use = re.search(r"(?<![\w#-])" + re.escape(term) + r"s?(?![\w#-])", text)
        if use is None:
            continue
        before, after = text[:use.start()], text[use.end():]
        linked = before.rfind("⟦") > before.rfind("⟧")
        defined = (before.rstrip().endswith("(") or after.lstrip().startswith("(")
                   or re.match(r"[^\n]*\n: ", after) is not None)              # a definition list's term
        if not (linked or defined):
            undefined.append(f"{term}: …{text[max(0, use.start() - 50):use.end() + 30]}…".replace("\n", " "))
    return undefined


def test_first_uses_are_found():
    terms = ["MDE", "CI", "SAM"]
    assert first_uses_left_undefined("the {term}`MDE` and the MDE", terms) == []
    assert first_uses_left_undefined("minimum detectable effect (MDE), then MDE", terms) == []
    assert first_uses_left_undefined("the 95 % CI (confidence interval)", terms) == []
    assert [u.split(":")[0] for u in first_uses_left_undefined("its MDE, then {term}`MDE`", terms)] == ["MDE"]
    assert first_uses_left_undefined("# The SAM\n\nthe {term}`SAM`", terms) == []
    assert first_uses_left_undefined("the {term}`SAMs <NCS, SAM>` and the NCS", terms) == []
    assert first_uses_left_undefined("MDE\n: the minimum detectable effect", terms) == []
    assert first_uses_left_undefined("{term}`CI` and then SAM", terms)[0].startswith("SAM")


@pytest.mark.parametrize("path", PAGES, ids=_ids(PAGES))
def test_terms_are_linked_or_defined_at_first_use(path):
    """A reader who opens any page meets each glossary abbreviation first as a link to its entry or with its
    definition beside it; the deep-learning terms the reader is assumed to know are exempt."""
    terms = [term for term in glossary_terms() if term not in ASSUMED]
    undefined = first_uses_left_undefined("\n\n".join(_page_markdown(path)), terms)
    assert not undefined, (f"{path.name}: glossary terms used before they are linked ({{term}}`...`) or defined in "
                           f"parentheses: {undefined}")
