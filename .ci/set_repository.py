"""Write the repository that `_config.yml` names (`repository.url`, `repository.branch`) into every file that
links to it: the notebooks' Colab badges and install cells (each the kit's one install cell,
`snnlab.scaffold.install_cell`), the README's and "Running the code"'s install
commands, CITATION.cff and pyproject.toml's project URLs.

    python .ci/set_repository.py            # after editing repository.url in _config.yml (e.g. in a fork)
    python .ci/set_repository.py --check    # exit 1 and list the files that do not name it (tests run this)
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from snnlab.scaffold import GITHUB, configured_repository, install_cell

ROOT = Path(__file__).resolve().parents[1]


def configured(root: Path = ROOT) -> tuple[str, str]:
    """``(repository URL, branch)`` from ``_config.yml``'s ``repository`` block."""
    try:
        return configured_repository(root)
    except ValueError as err:
        raise SystemExit(str(err)) from None


def rules(url: str, branch: str) -> list[tuple[str, re.Pattern, str]]:
    """``(file glob, pattern, replacement)``: every place a file names the repository, and what it must say."""
    slug = url.removeprefix("https://github.com/")
    return [
        ("notebooks/*.ipynb", re.compile(r"colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/"),
         f"colab.research.google.com/github/{slug}/blob/{branch}/"),
        ("README.md", re.compile(rf"git\+{GITHUB}(?=[\"'\s])"), f"git+{url}"),
        ("book/running.md", re.compile(rf"git\+{GITHUB}(?=[\"'\s])"), f"git+{url}"),
        ("CITATION.cff", re.compile(rf'^repository-code: "{GITHUB}"$', re.MULTILINE), f'repository-code: "{url}"'),
        ("pyproject.toml", re.compile(rf'^Homepage = "{GITHUB}"$', re.MULTILINE), f'Homepage = "{url}"'),
        ("pyproject.toml", re.compile(rf'^Changelog = "{GITHUB}/blob/[\w.-]+/', re.MULTILINE),
         f'Changelog = "{url}/blob/{branch}/'),
    ]


def with_install_cell(notebook: str, source: str) -> str:
    """The text of ``notebook`` (JSON, as the notebooks are stored: indent 1, unescaped Unicode, a final newline)
    with its Colab install cell (the first code cell) holding ``source``."""
    content = json.loads(notebook)
    cell = next(cell for cell in content["cells"] if cell["cell_type"] == "code")
    cell["source"] = source.splitlines(keepends=True)
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def stale_files(root: Path = ROOT, write: bool = False) -> list[str]:
    """The files (relative to ``root``) that do not name the configured repository, rewritten when ``write``.
    A file whose pattern is missing altogether is listed too: the place that should name the repository is gone."""
    url, branch = configured(root)
    texts: dict[Path, str] = {}
    stale = set()
    for pattern_glob, pattern, replacement in rules(url, branch):
        paths = sorted(root.glob(pattern_glob))
        if not paths:
            stale.add(f"{pattern_glob} (no such file)")
        for path in paths:
            text = texts.setdefault(path, path.read_text())
            new, count = pattern.subn(lambda _, value=replacement: value, text)
            if count == 0 or new != text:
                stale.add(str(path.relative_to(root)))
            texts[path] = new
    for path in sorted(root.glob("notebooks/*.ipynb")):
        text = texts.setdefault(path, path.read_text())
        new = with_install_cell(text, install_cell(url))
        if new != text:
            stale.add(str(path.relative_to(root)))
        texts[path] = new
    if write:
        for path, text in texts.items():
            if path.read_text() != text:
                path.write_text(text)
    return sorted(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = stale_files(write=not args.check)
    url, branch = configured()
    if args.check and stale:
        print(f"these files do not name {url} (branch {branch}); run python .ci/set_repository.py:\n  "
              + "\n  ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print(f"{len(stale)} file(s) now name {url} (branch {branch})" + (": " + ", ".join(stale) if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
