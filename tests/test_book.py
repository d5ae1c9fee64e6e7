"""Build the book with ``-W`` (every notebook executed at its ``book`` preset) and check it as a reader's browser sees it.

The book is built once per test session into ``_build/`` (``jupyter-book build . -W --keep-going``). Checks:
every page of ``_toc.yml`` exists; no page loads a script or a stylesheet from another site (the book must work
offline); every ``<img>`` points to an image file that exists and decodes; every notebook figure has a caption;
headless Chromium renders the math (MathJax's ``mjx-container`` elements appear in the DOM); screenshots of the
index and of a chapter are saved to ``_build/screenshots/``.
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


def test_no_page_shows_a_path_of_the_machine_that_built_it(built_book):
    """No page prints where the book was built (a data folder, the package's install path, a home directory)."""
    machine_paths = {str(ROOT), str(ROOT.resolve()), str(Path.home()), tempfile.gettempdir()}
    offenders = {}
    for page in _pages(built_book):
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        found = sorted({path for path in machine_paths if len(path) > 4 and path + "/" in text})
        if found:
            offenders[page.relative_to(built_book).as_posix()] = found
    assert not offenders, f"pages showing build-machine paths: {offenders}"


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
  const column = document.querySelector(".bd-article");
  const right = Math.min(column.getBoundingClientRect().right, window.innerWidth);
  const tables = [...column.querySelectorAll("table")];
  const clipped = tables.filter(t => t.scrollWidth > t.clientWidth + 1 || t.scrollWidth > column.clientWidth + 1
                                     || t.getBoundingClientRect().right > right + 1)
                        .map(t => (t.querySelector("th, td") || t).textContent.trim().slice(0, 40));
  const out = document.createElement("pre");
  out.id = "snnlab-table-check";
  out.textContent = JSON.stringify({tables: tables.length, clipped: clipped});
  document.body.appendChild(out);
});
</script>"""
"""Measures, once the page has laid out, every table of the text column that is wider than the column (whether it
would scroll inside a wrapper or run past it) or runs past the window."""


@pytest.mark.parametrize("page", [p for p in ALL_PAGES if p.startswith("notebooks/")])
def test_tables_fit_the_text_column_at_1280_px(built_book, page):
    source = built_book / page
    html = source.read_text(encoding="utf-8")
    if "<table" not in html:
        pytest.skip(f"{page} has no table")
    probe = source.with_name(f".table-check-{source.name}")
    probe.write_text(html.replace("</body>", TABLE_CHECK + "</body>"), encoding="utf-8")
    try:
        dom = _run_chromium("--window-size=1280,900", "--dump-dom", probe.as_uri()).stdout
    finally:
        probe.unlink()
    match = re.search(r'<pre id="snnlab-table-check"[^>]*>(.*?)</pre>', dom, re.DOTALL)
    assert match, f"{page}: the table check did not run"
    result = json.loads(html_lib.unescape(match.group(1)))
    assert result["tables"] > 0
    assert not result["clipped"], f"{page}: tables wider than the text column at 1280 px: {result['clipped']}"
