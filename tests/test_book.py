"""Build the book with ``-W`` (every notebook executed at its ``book`` preset) and check it as a reader's browser sees it.

The book is built once per test session into ``_build/`` (``jupyter-book build . -W --keep-going``). Checks:
every page of ``_toc.yml`` exists; no page shows a path of the machine that built it or a printed ``Path``; no
printed output longer than 30 lines stands uncollapsed; no page loads a script or a stylesheet from another site
(the book must work offline); every ``<img>`` points to an image file that exists and decodes; every notebook figure
has a caption; headless Chromium renders the math (MathJax's ``mjx-container`` elements appear in the DOM); at a
1280 px wide window every table fits the text column without a word broken inside a cell, and every figure's
smallest text is at least 8 px high; screenshots of the index and of a chapter are saved to ``_build/screenshots/``.
"""
from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"
BUILD_TIMEOUT_S = 15 * 60
CHROMIUM_HELP = "install it with `apt-get install -y chromium` (.ci/run does this when it is missing)"

pytestmark = pytest.mark.slow


def _toc_files() -> list[str]:
    """Every file named in _toc.yml (root and chapters), without extension."""
    text = (ROOT / "_toc.yml").read_text()
    return re.findall(r"^\s*(?:root|-?\s*file):\s*(\S+)\s*$", text, re.MULTILINE)


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book from scratch once per session; fail with the build log's tail if the build fails."""
    if not _module_available("jupyter_book"):
        pytest.fail("jupyter-book is not installed: python -m pip install -r requirements.txt")
    for stale in (HTML, BUILD / "jupyter_execute", BUILD / ".jupyter_cache", BUILD / ".doctrees"):
        shutil.rmtree(stale, ignore_errors=True)
    start = time.perf_counter()
    cli = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"   # the jupyter-book command
    proc = subprocess.run([sys.executable, "-c", cli, "build", str(ROOT), "-W", "--keep-going"],
                          cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    elapsed = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (BUILD).mkdir(exist_ok=True)
    (BUILD / "build.log").write_text(log)
    if proc.returncode != 0:
        problems = [line for line in log.splitlines() if re.search(r"WARNING|ERROR|Error|Traceback", line)
                    and "IPKernelApp" not in line]
        pytest.fail(f"jupyter-book build -W failed (exit {proc.returncode}) after {elapsed:.0f} s; full log in "
                    f"_build/build.log. Problems:\n" + "\n".join(problems[-40:]) + "\n--- tail ---\n" + log[-3000:])
    print(f"\nbook built in {elapsed:.0f} s")
    return HTML


def _module_available(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


class _Assets(HTMLParser):
    """Collect script sources, stylesheet links, image sources and figure captions of one page."""

    def __init__(self):
        super().__init__()
        self.scripts, self.stylesheets, self.images, self.figcaptions = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "link" and "stylesheet" in (attrs.get("rel") or "").split() and attrs.get("href"):
            self.stylesheets.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs.get("src") or "")
        elif tag == "figcaption":
            self.figcaptions += 1


def _parse(page: Path) -> _Assets:
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _is_external(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url.strip(), re.IGNORECASE))


def _pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


def test_every_toc_page_is_built(built_book):
    missing = [f for f in _toc_files() if not (built_book / f"{f}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML: {missing}"
    assert (built_book / "index.html").is_file()


PATH_REPR = re.compile(r"\b(?:Posix|Windows|PurePosix|PureWindows)Path\(['\"]")
"""A printed ``pathlib`` path (``PosixPath('...')``): a value of the machine that ran the cell, not of the reader's."""


def machine_paths() -> set[str]:
    """Folders of the machine that builds the book: the repository, the data folder (``$SNNLAB_DATA`` or its
    default), the installed package, the home and temporary folders."""
    import snnlab
    from snnlab.data.cache import data_root

    folders = {ROOT, Path.home(), Path(tempfile.gettempdir()), data_root(), Path(snnlab.__file__).parent}
    return {str(path) for folder in folders for path in (folder, folder.resolve()) if len(str(path)) > 4}


def leaked_paths(text: str, paths) -> list[str]:
    """The machine paths (followed by a separator or a quote) and printed ``Path(...)`` values in ``text``."""
    found = {path for path in paths if re.search(re.escape(path) + r"(?:[/'\"]|$)", text, re.MULTILINE)}
    return sorted(found) + [match.group(0) for match in PATH_REPR.finditer(text)]


def test_leaked_paths_are_found():
    paths = {"/home/builder/snnlab", "/home/builder/snnlab/data"}
    assert leaked_paths("PosixPath('/x/y')", paths) == ["PosixPath('"]
    assert leaked_paths("under /home/builder/snnlab/data/cifar10", paths) == ["/home/builder/snnlab",
                                                                              "/home/builder/snnlab/data"]
    assert leaked_paths("the data folder: $SNNLAB_DATA, else data/", paths) == []
    assert leaked_paths('RESULTS = Path("..") / "results"', paths) == []


def test_no_page_shows_a_path_of_the_machine_that_built_it(built_book):
    """No page prints where the book was built (a data folder, the package's install path, a home directory) or a
    ``Path`` object's repr."""
    paths = machine_paths()
    offenders = {}
    for page in _pages(built_book):
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        found = leaked_paths(text, paths)
        if found:
            offenders[page.relative_to(built_book).as_posix()] = found
    assert not offenders, f"pages showing build-machine paths: {offenders}"


LONG_OUTPUT_LINES = 30
"""The most lines a printed output may show in the flow of a page; a longer one (a model's repr, a settings dict,
per-seed values) is collapsed with the ``hide-output`` tag."""


class _Outputs(HTMLParser):
    """The text of every printed output (stream or plain-text result) of a page, and whether it is collapsed
    (inside a ``<details>``)."""

    VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack, self.outputs, self._current = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self.stack.append(tag)
        if self._current is None and tag == "div" and "output" in classes and {"stream", "text_plain"} & set(classes):
            self._current = [len(self.stack), "details" in self.stack[:-1], ""]

    def handle_endtag(self, tag):
        if tag in self.VOID or tag not in self.stack:
            return
        while self.stack and self.stack.pop() != tag:
            pass
        if self._current is not None and len(self.stack) < self._current[0]:
            self.outputs.append((self._current[1], self._current[2]))
            self._current = None

    def handle_data(self, data):
        if self._current is not None:
            self._current[2] += data


def printed_outputs(html: str) -> list[tuple[bool, str]]:
    """``(collapsed, text)`` for every printed output of a page."""
    parser = _Outputs()
    parser.feed(html)
    return parser.outputs


def test_printed_outputs_are_found():
    html = ('<div class="cell_output"><div class="output stream"><pre>a\nb</pre></div></div>'
            '<details><summary>show</summary><div class="output text_plain"><pre>c</pre></div></details>')
    assert printed_outputs(html) == [(False, "a\nb"), (True, "c")]


def test_long_outputs_are_collapsed(built_book):
    """No printed output longer than LONG_OUTPUT_LINES lines stands in the flow of a page."""
    long = {}
    for page in _pages(built_book):
        sizes = [len(text.strip().splitlines()) for collapsed, text in printed_outputs(page.read_text(encoding="utf-8"))
                 if not collapsed]
        if any(n > LONG_OUTPUT_LINES for n in sizes):
            long[page.relative_to(built_book).as_posix()] = [n for n in sizes if n > LONG_OUTPUT_LINES]
    assert not long, f"printed outputs longer than {LONG_OUTPUT_LINES} lines in the flow (lines per output): {long}"


def test_no_external_scripts_or_stylesheets(built_book):
    offenders = {}
    for page in _pages(built_book):
        assets = _parse(page)
        external = [u for u in assets.scripts + assets.stylesheets if _is_external(u)]
        if external:
            offenders[str(page.relative_to(built_book))] = external
    for css in built_book.rglob("*.css"):
        imports = re.findall(r"@import\s+(?:url\()?['\"]?((?:https?:)?//[^'\")\s]+)", css.read_text(errors="ignore"))
        if imports:
            offenders[str(css.relative_to(built_book))] = imports
    assert not offenders, f"pages load scripts/styles from other sites (the book must work offline): {offenders}"


def test_images_resolve_and_decode(built_book):
    from matplotlib import image as mpimg

    broken, checked = [], 0
    for page in _pages(built_book):
        for src in _parse(page).images:
            if src.startswith("data:"):
                continue
            if not src or _is_external(src):
                broken.append(f"{page.name}: {src!r}")
                continue
            target = (page.parent / unquote(urlparse(src).path)).resolve()
            if not target.is_file():
                broken.append(f"{page.name}: {src} (missing)")
                continue
            checked += 1
            if target.suffix.lower() == ".png":
                pixels = mpimg.imread(target)
                if pixels.size == 0 or pixels.std() == 0:
                    broken.append(f"{page.name}: {src} (blank image)")
            elif target.suffix.lower() == ".svg" and b"<svg" not in target.read_bytes()[:2000]:
                broken.append(f"{page.name}: {src} (not an SVG)")
    assert not broken, f"broken images: {broken}"
    assert checked > 0, "the book has no images at all: notebook figures were not rendered"


def test_notebook_figures_are_rendered_with_captions(built_book):
    import nbformat

    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        expected = sum(1 for cell in nb.cells if cell.cell_type == "code"
                       and cell.get("metadata", {}).get("mystnb", {}).get("figure"))
        page = built_book / "notebooks" / f"{nb_path.stem}.html"
        assets = _parse(page)
        figure_images = [s for s in assets.images if "_images/" in s]
        assert len(figure_images) >= expected, f"{page.name}: {len(figure_images)} images for {expected} figures"
        assert assets.figcaptions >= expected, f"{page.name}: {assets.figcaptions} captions for {expected} figures"


@pytest.mark.parametrize("page", ["notebooks/results.html", "notebooks/tet.html", "notebooks/energy.html"])
def test_generated_tables_render(built_book, page):
    """Tables printed by notebooks as markdown (e.g. the results generated from results/) become HTML tables."""
    html = (built_book / page).read_text(encoding="utf-8")
    assert "<table" in html, f"{page}: no HTML table; markdown outputs are not rendered as tables"
    assert not re.search(r"<p>\|[^<]*\|", html), f"{page}: a markdown table was rendered as plain text"


def test_bibliography_and_api_reference(built_book):
    bib = (built_book / "book" / "bibliography.html").read_text(encoding="utf-8")
    for title in ("temporal efficient training", "computing's energy problem", "spikingjelly"):
        assert title in bib.lower().replace("’", "'"), f"bibliography lacks {title!r}"
    api = (built_book / "book" / "api.html").read_text(encoding="utf-8")
    for name in ("snnlab.neurons.make_neuron", "snnlab.energy.energy_report", "snnlab.train.Trainer",
                 "snnlab.losses.tet_loss", "snnlab.repro.run"):
        assert f'id="{name}"' in api, f"API reference lacks {name}"


def test_colab_launch_button_on_notebook_pages(built_book):
    config = (ROOT / "_config.yml").read_text()
    repo = re.search(r"^\s+url:\s*https://github\.com/(\S+)", config, re.MULTILINE).group(1).strip("\"'")
    page = (built_book / "notebooks" / "primer.html").read_text(encoding="utf-8")
    assert f"colab.research.google.com/github/{repo}" in page


# -- in a real browser ----------------------------------------------------------------------------------------------
def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"headless Chromium is needed to check the rendered book; {CHROMIUM_HELP}")


def _run_chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=15000", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


MATH_PAGES = ["notebooks/primer.html", "notebooks/tet.html", "notebooks/energy.html", "book/api.html"]
"""Pages that must hold math (the API reference renders the docstrings' formulas)."""
ALL_PAGES = sorted({f"{name}.html" for name in _toc_files()} | set(MATH_PAGES))


@pytest.mark.parametrize("page", ALL_PAGES)
def test_math_renders_in_chromium(built_book, page):
    """MathJax renders every formula of every page without a TeX error ("Math input error")."""
    source = (built_book / page).read_text(encoding="utf-8")
    has_math = bool(re.search(r"\\\(|\\\[|class=\"math", source))
    assert has_math or page not in MATH_PAGES, f"{page} has no math to render"
    proc = _run_chromium("--dump-dom", (built_book / page).as_uri())
    dom = proc.stdout
    assert "<html" in dom, f"chromium could not load {page}: {proc.stderr[-1000:]}"
    rendered = dom.count("<mjx-container")
    assert rendered > 0 or not has_math, f"{page}: MathJax rendered no math (0 mjx-container elements)"
    assert "<mjx-merror" not in dom, f"{page}: MathJax reports a TeX error"


def test_screenshots(built_book):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    from matplotlib import image as mpimg

    for page, name in [("index.html", "index.png"), ("notebooks/primer.html", "primer.png"),
                       ("notebooks/results.html", "results.png")]:
        out = SCREENSHOTS / name
        out.unlink(missing_ok=True)
        proc = _run_chromium("--window-size=1280,900", f"--screenshot={out}", (built_book / page).as_uri())
        assert out.is_file(), f"no screenshot of {page}: {proc.stderr[-1000:]}"
        pixels = mpimg.imread(out)
        assert pixels.shape[0] >= 800 and pixels.std() > 0.02, f"screenshot of {page} looks blank"


TABLE_CHECK = """<script>
window.addEventListener("load", () => {
  document.querySelectorAll("details").forEach(d => { d.open = true; });   // collapsed tables are read too
  const column = document.querySelector(".bd-article");
  const right = Math.min(column.getBoundingClientRect().right, window.innerWidth);
  const tables = [...column.querySelectorAll("table")];
  const clipped = tables.filter(t => t.scrollWidth > t.clientWidth + 1 || t.scrollWidth > column.clientWidth + 1
                                     || t.getBoundingClientRect().right > right + 1)
                        .map(t => (t.querySelector("th, td") || t).textContent.trim().slice(0, 40));
  // a word (a run of characters up to a space, or up to and including a hyphen, dash or slash) whose letters lie
  // on more than one line of its cell is broken inside the word
  const broken = [];
  for (const cell of column.querySelectorAll("table td, table th")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const words = /[^\\s\\-\\u2010-\\u2014\\/]+[\\-\\u2010-\\u2014\\/]?/g;
      for (let m = words.exec(node.textContent); m; m = words.exec(node.textContent)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  const out = document.createElement("pre");
  out.id = "snnlab-table-check";
  out.textContent = JSON.stringify({tables: tables.length, clipped: clipped, broken: broken});
  document.body.appendChild(out);
});
</script>"""
"""Measures, once the page has laid out and with every collapsed block opened, every table of the text column that
is wider than the column (whether it would scroll inside a wrapper or run past it) or runs past the window, and
every word of a table cell that is broken across lines."""


def _probe(built_book: Path, page: str, script: str, marker: str) -> dict:
    """Load ``page`` at 1280 × 900 px in headless Chromium with ``script`` added, and return the JSON the script
    writes into the ``<pre id=marker>`` it appends."""
    source = built_book / page
    html = source.read_text(encoding="utf-8")
    probe = source.with_name(f".{marker}-{source.name}")
    probe.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    try:
        dom = _run_chromium("--window-size=1280,900", "--dump-dom", probe.as_uri()).stdout
    finally:
        probe.unlink()
    match = re.search(rf'<pre id="{marker}"[^>]*>(.*?)</pre>', dom, re.DOTALL)
    assert match, f"{page}: the check {marker} did not run"
    return json.loads(html_lib.unescape(match.group(1)))


@pytest.mark.parametrize("page", ALL_PAGES)
def test_tables_fit_the_text_column_at_1280_px(built_book, page):
    """Every table fits the text column, and no word of a cell is broken across lines (wrapping happens between
    words only)."""
    if "<table" not in (built_book / page).read_text(encoding="utf-8"):
        pytest.skip(f"{page} has no table")
    result = _probe(built_book, page, TABLE_CHECK, "snnlab-table-check")
    assert result["tables"] > 0
    assert not result["clipped"], f"{page}: tables wider than the text column at 1280 px: {result['clipped']}"
    assert not result["broken"], f"{page}: words broken inside table cells at 1280 px: {result['broken']}"


FIGURE_CHECK = """<script>
window.addEventListener("load", () => {
  const figures = [...document.querySelectorAll(".bd-article figure[id]")].filter(f => f.querySelector("img"))
    .map(f => { const img = f.querySelector("img");
                return {id: f.id, src: img.getAttribute("src"), natural: img.naturalWidth,
                        shown: img.getBoundingClientRect().width}; });
  const out = document.createElement("pre");
  out.id = "snnlab-figure-check";
  out.textContent = JSON.stringify(figures);
  document.body.appendChild(out);
});
</script>"""
"""The natural width of every figure's image and the width it is shown at, once the page has laid out."""
MIN_TEXT_PX = 8
RELATIVE_FONT_SIZES = {"xx-small": 0.579, "x-small": 0.694, "small": 0.833, "smaller": 0.833, "medium": 1.0,
                       "large": 1.2, "larger": 1.2, "x-large": 1.44, "xx-large": 1.728}
"""Matplotlib's named font sizes, relative to ``font.size``."""
FONT_KEYWORDS = {"fontsize", "labelsize", "title_fontsize", "size"}
TEXT_CALLS = {"text", "annotate", "set_title", "suptitle", "title", "set_xlabel", "set_ylabel", "xlabel", "ylabel",
              "legend", "tick_params", "set_xticks", "set_yticks", "set_xticklabels", "set_yticklabels", "table",
              "colorbar", "set_label", "supxlabel", "supylabel", "bar_label", "clabel"}
"""The calls whose ``size=`` is a font size (elsewhere ``size`` means an image size)."""


def smallest_font_pt(source: str, diagrams: bool = True) -> float:
    """The smallest font size, in points, that the plotting code ``source`` asks matplotlib for: every literal
    ``fontsize=``, ``labelsize=``, ``title_fontsize=``, a text call's ``size=`` and a ``prop`` dict's ``"size"``,
    named sizes relative to ``font.size``; ticks, labels and legends left at their default use ``font.size``
    itself. A figure drawn by :func:`snnlab.diagrams.block_diagram` also uses that module's sizes. Refuses a size it
    cannot read (a variable, a change of ``rcParams``), which the check could not measure."""
    import ast

    import matplotlib

    base = float(matplotlib.rcParamsDefault["font.size"])
    if re.search(r"\brcParams\b|\brc_context\(|\b(?:plt|mpl|matplotlib)\.rc\(", source):
        raise ValueError("the figure changes matplotlib's rcParams: set font sizes per call so they can be measured")
    sizes = [base]
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        values = [kw.value for kw in node.keywords if kw.arg in FONT_KEYWORDS - {"size"}
                  or (kw.arg == "size" and name in TEXT_CALLS)]
        values += [v for kw in node.keywords if kw.arg == "prop" and isinstance(kw.value, ast.Dict)
                   for k, v in zip(kw.value.keys, kw.value.values) if isinstance(k, ast.Constant) and k.value == "size"]
        for value in values:
            literal = ast.literal_eval(value) if isinstance(value, ast.Constant) else None
            if isinstance(literal, (int, float)):
                sizes.append(float(literal))
            elif literal in RELATIVE_FONT_SIZES:
                sizes.append(base * RELATIVE_FONT_SIZES[literal])
            else:
                raise ValueError(f"font size {ast.unparse(value)!r} is not a literal the check can read")
    if diagrams and "block_diagram(" in source:
        import snnlab.diagrams

        sizes.append(smallest_font_pt(Path(snnlab.diagrams.__file__).read_text(), diagrams=False))
    return min(sizes)


def test_smallest_font_is_read():
    assert smallest_font_pt("fig, ax = plt.subplots()\nax.plot(x, y)") == 10.0
    assert smallest_font_pt("ax.legend(fontsize=8)\nax.text(0, 0, 'a', size=7)\nget_dataset(size=3)") == 7.0
    assert smallest_font_pt("ax.legend(prop={'size': 6})") == 6.0
    assert smallest_font_pt("ax.set_title('a', fontsize='small')") == pytest.approx(8.33)
    with pytest.raises(ValueError):
        smallest_font_pt("ax.text(0, 0, 'a', fontsize=fs)")
    with pytest.raises(ValueError):
        smallest_font_pt("plt.rcParams['font.size'] = 6")


def _figure_sources() -> dict[str, str]:
    """The plotting code of every notebook figure, by figure name."""
    import nbformat

    return {cell.metadata["mystnb"]["figure"]["name"]: cell.source
            for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
            for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code" and cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")}


def rendered_text_px(font_pt: float, dpi: float, natural_px: float, shown_px: float) -> float:
    """The height in CSS pixels of a ``font_pt`` font in a figure saved at ``dpi`` and shown ``shown_px`` wide
    although its image is ``natural_px`` wide."""
    return font_pt * dpi / 72 * shown_px / natural_px


@pytest.mark.parametrize("page", [p for p in ALL_PAGES if p.startswith("notebooks/")])
def test_figure_text_is_readable_at_1280_px(built_book, page):
    """The smallest font each figure asks for is at least MIN_TEXT_PX pixels high as the browser shows the figure
    (a figure wider than the text column is scaled down with its text)."""
    from PIL import Image

    sources = _figure_sources()
    figures = _probe(built_book, page, FIGURE_CHECK, "snnlab-figure-check")
    small = []
    for figure in figures:
        assert figure["id"] in sources, f"{page}: figure {figure['id']} has no notebook cell of that name"
        image = (built_book / page).parent / unquote(urlparse(figure["src"]).path)
        dpi = Image.open(image).info.get("dpi", (72, 72))[0]
        px = rendered_text_px(smallest_font_pt(sources[figure["id"]]), dpi, figure["natural"], figure["shown"])
        if px < MIN_TEXT_PX:
            small.append(f"{figure['id']}: {px:.1f} px ({figure['natural']} px wide, shown at {figure['shown']:.0f})")
    assert not small, f"{page}: figure text below {MIN_TEXT_PX} px at 1280 px: {small}"
