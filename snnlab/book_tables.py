"""The book's numbers that come from the records, written from them: ``snnlab book-tables`` sets the time each
chapter's learning goals announce for ``rerun = True`` (the wall-clock of the records it retrains, rounded to
minutes) and rewrites the table of those times on *Running the code* (``book/running.md``, between its markers).

A chapter's goals name the records it retrains ("retrains `tssd`, `tssd-events`: about 59 min"); the names are the
chapter's, the minutes the records'. ``--check`` changes nothing and lists what is out of date.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .repro.comparisons import COMPARISON_DIR
from .repro.demos import DEMO_DIR
from .repro.sweeps import SWEEP_DIR

__all__ = ["BOOK_RECORD_FOLDERS", "RERUN", "TABLE_START", "TABLE_END", "ChapterRerun", "goals_records", "record_file",
           "chapters", "rerun_table", "stale_places", "write_tables"]

BOOK_RECORD_FOLDERS = ("", SWEEP_DIR.name, DEMO_DIR.name, COMPARISON_DIR.name)
"""Where under ``results/`` a book record lives: reproductions, sweeps, demonstrations, comparisons."""

RERUN = re.compile(r"(retrains (.+?): about )(\d+)( min)", re.DOTALL)
"""What a chapter's goals say ``rerun = True`` costs: the records it retrains (in backticks) and the minutes."""

TABLE_START = ("% rerun-table: written from the records by `snnlab book-tables` (change a chapter's goals or its "
               "records, then run it)")
TABLE_END = "% end of rerun-table"
"""The markers of the table on ``book/running.md`` (MyST comments: they do not render)."""

RUNNING_PAGE = Path("book") / "running.md"


def _goals(notebook: dict) -> str:
    return "".join(notebook["cells"][1]["source"])


def goals_records(notebook: str | Path | dict) -> tuple[list[str], int | None]:
    """The book records a chapter's learning goals (the cell under its title) name as what ``rerun = True``
    retrains, and the minutes they announce; ``([], None)`` when the chapter retrains nothing."""
    content = notebook if isinstance(notebook, dict) else json.loads(Path(notebook).read_text())
    match = RERUN.search(_goals(content))
    if match is None:
        return [], None
    return re.findall(r"`([\w-]+)`", match.group(2)), int(match.group(3))


def record_file(results: str | Path, name: str) -> Path | None:
    """The book record ``name`` under ``results`` (:data:`BOOK_RECORD_FOLDERS`), or ``None`` when there is none."""
    for folder in BOOK_RECORD_FOLDERS:
        path = Path(results) / folder / f"{name}-book.json"
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class ChapterRerun:
    """A chapter of the table of contents and what ``rerun = True`` retrains: ``records`` (names), ``loaded`` (the
    records found, by name) and ``announced`` (the minutes its goals state; ``None``: nothing to retrain)."""

    notebook: Path
    title: str
    records: tuple[str, ...]
    loaded: dict
    announced: int | None

    @property
    def missing(self) -> list[str]:
        return [name for name in self.records if name not in self.loaded]

    @property
    def minutes(self) -> int | None:
        """The records' wall-clock in minutes (``None`` when it retrains nothing or a record is missing)."""
        if not self.records or self.missing:
            return None
        return round(sum(record["wall_clock_s"] for record in self.loaded.values()) / 60)


def _toc_notebooks(root: Path) -> list[Path]:
    """The notebooks of ``_toc.yml``, in its order."""
    names = re.findall(r"^\s*-?\s*file:\s*notebooks/([\w-]+)", (root / "_toc.yml").read_text(), re.MULTILINE)
    return [root / "notebooks" / f"{name}.ipynb" for name in names]


def chapters(root: str | Path = ".") -> list[ChapterRerun]:
    """Every chapter of the book at ``root`` (the notebooks of ``_toc.yml`` that open with learning goals), in the
    table of contents' order."""
    rows = []
    for path in _toc_notebooks(Path(root)):
        content = json.loads(path.read_text())
        if not _goals(content).startswith("```{admonition} Learning goals"):
            continue                                       # a generated page (Results), not a chapter
        names, minutes = goals_records(content)
        title = "".join(content["cells"][0]["source"]).splitlines()[0].removeprefix("# ").strip()
        loaded = {name: json.loads(found.read_text()) for name in names
                  if (found := record_file(Path(root) / "results", name)) is not None}
        rows.append(ChapterRerun(path, title, tuple(names), loaded, minutes))
    return rows


def _recorded(records: list[dict]) -> str:
    """When and from which commit the records were made (dates, then the commits of each)."""
    made: dict[str, set] = {}
    for record in records:
        date = datetime.fromisoformat(record["created"]).date().isoformat() if record.get("created") else "?"
        made.setdefault(date, set()).add(f"`{record['git_sha'][:7]}`" if record.get("git_sha") else "no commit")
    return "; ".join(f"{date} ({', '.join(sorted(commits))})" for date, commits in sorted(made.items()))


def rerun_table(rows: list[ChapterRerun]) -> str:
    """The markdown table of what ``rerun = True`` retrains in each chapter: the records' wall-clock, the threads
    torch trained with on how many cores, and when and from which commit each record was made."""
    lines = ["| chapter | `rerun = True` retrains (the records' wall-clock) | torch threads (cores) | recorded (commit) |",
             "|---|---|---|---|"]
    for row in rows:
        link = f"[{row.title}](../notebooks/{row.notebook.name})"
        names = ", ".join(f"`{name}`" for name in row.records)
        if not row.records:
            lines.append(f"| {link} | nothing to retrain | | |")
        elif row.missing:
            lines.append(f"| {link} | not recorded yet ({names}) | | |")
        else:
            records = list(row.loaded.values())
            threads = sorted({f"{r['hardware']['torch_threads']} ({r['hardware']['cpu_count']})" for r in records})
            lines.append(f"| {link} | about {row.minutes} min ({names}) | {', '.join(threads)} | "
                         f"{_recorded(records)} |")
    return "\n".join(lines) + "\n"


def _page_with_table(text: str, table: str) -> str:
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"{RUNNING_PAGE} has no rerun table between the lines {TABLE_START!r} and {TABLE_END!r}")
    head = text[:start + len(TABLE_START)]
    return f"{head}\n\n{table}\n{text[end:]}"


def _notebook_with_minutes(text: str, minutes: int) -> str:
    content = json.loads(text)
    goals = content["cells"][1]
    new = RERUN.sub(lambda m: f"{m.group(1)}{minutes}{m.group(4)}", "".join(goals["source"]), count=1)
    goals["source"] = new.splitlines(keepends=True)
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def _updates(root: Path) -> dict[Path, str]:
    """``{file: its text as the records give it}`` for the running page and every chapter whose goals announce
    another time than its records' wall-clock (a chapter whose records are missing keeps its text)."""
    rows = chapters(root)
    page = root / RUNNING_PAGE
    texts = {page: _page_with_table(page.read_text(), rerun_table(rows))}
    for row in rows:
        if row.minutes is not None and row.minutes != row.announced:
            texts[row.notebook] = _notebook_with_minutes(row.notebook.read_text(), row.minutes)
    return texts


def stale_places(root: str | Path = ".") -> list[str]:
    """The files (relative to ``root``) whose record-given numbers differ from the records'."""
    root = Path(root)
    return sorted(str(path.relative_to(root)) for path, text in _updates(root).items() if path.read_text() != text)


def write_tables(root: str | Path = ".") -> list[str]:
    """Rewrite, each atomically, the files of :func:`stale_places`; returns them. Only the goals cell of a notebook
    changes."""
    from .io import atomic_path

    root = Path(root)
    written = []
    for path, text in _updates(root).items():
        if path.read_text() != text:
            with atomic_path(path) as tmp:
                tmp.write_text(text)
            written.append(str(path.relative_to(root)))
    return sorted(written)
