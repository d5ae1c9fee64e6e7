"""``snnlab book-tables``: the chapters' announced rerun times and the table of *Running the code* written from the
records, in a small book of its own."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from snnlab.book_tables import TABLE_END, TABLE_START, chapters, goals_records, stale_places, write_tables
from snnlab.cli import main

GOALS = "```{admonition} Learning goals\n:class: tip\n\n* one\n* two\n* three\n\n**Time:** reading about 10 min. "


def _notebook(path: Path, title: str, goals: str) -> None:
    cells = [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": [f"# {title}\n", "\n", "text"]},
             {"cell_type": "markdown", "id": "goals", "metadata": {}, "source": goals.splitlines(keepends=True)},
             {"cell_type": "code", "execution_count": None, "id": "code", "metadata": {}, "outputs": [],
              "source": ["x = 'about 9 min'"]}]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1,
                               ensure_ascii=False) + "\n")


def _record(path: Path, seconds: float, threads: int, created: str, sha: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"wall_clock_s": seconds, "hardware": {"torch_threads": threads, "cpu_count": 2},
                                "created": created, "git_sha": sha}))


@pytest.fixture
def book(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "_toc.yml").write_text("parts:\n  - chapters:\n      - file: book/intro\n      - file: notebooks/alpha\n"
                                       "      - file: notebooks/results\n      - file: notebooks/beta\n")
    _notebook(tmp_path / "notebooks" / "alpha.ipynb", "Alpha: a method",
              GOALS + "`rerun = True` retrains `alpha`, `alpha-sweep`: about 9 min on 2 CPU cores.\n```")
    _notebook(tmp_path / "notebooks" / "beta.ipynb", "Beta", GOALS + "There is nothing to retrain.\n```")
    _notebook(tmp_path / "notebooks" / "results.ipynb", "Results", "A generated page.")
    _record(tmp_path / "results" / "alpha-book.json", 130.0, 1, "2026-12-07T18:11:49+00:00", "c208d39b10aa")
    _record(tmp_path / "results" / "sweeps" / "alpha-sweep-book.json", 200.0, 2, "2026-12-02T10:00:00+00:00",
            "7ad9d34c65bb")
    (tmp_path / "book" / "running.md").write_text(f"# Running\n\nBefore.\n\n{TABLE_START}\n\n| old |\n\n{TABLE_END}\n\n"
                                                  "After.\n")
    return tmp_path


def test_the_records_give_the_minutes_and_the_table(book, capsys):
    assert [c.title for c in chapters(book)] == ["Alpha: a method", "Beta"]          # the toc's chapters, in order
    assert stale_places(book) == ["book/running.md", "notebooks/alpha.ipynb"]
    assert main(["book-tables", "--check", "--root", str(book)]) == 1
    assert "notebooks/alpha.ipynb" in capsys.readouterr().err
    before = json.loads((book / "notebooks" / "alpha.ipynb").read_text())
    assert main(["book-tables", "--root", str(book)]) == 0
    assert stale_places(book) == [] and main(["book-tables", "--check", "--root", str(book)]) == 0
    after = json.loads((book / "notebooks" / "alpha.ipynb").read_text())
    assert goals_records(after) == (["alpha", "alpha-sweep"], 6)                     # (130 + 200) s: 5.5 -> 6 min
    assert [c for i, c in enumerate(after["cells"]) if i != 1] == [c for i, c in enumerate(before["cells"]) if i != 1]
    assert (book / "book" / "running.md").read_text() == f"""# Running\n\nBefore.\n\n{TABLE_START}\n
| chapter | `rerun = True` retrains (the records' wall-clock) | torch threads (cores) | recorded (commit) |
|---|---|---|---|
| [Alpha: a method](../notebooks/alpha.ipynb) | about 6 min (`alpha`, `alpha-sweep`) | 1 (2), 2 (2) | 2026-12-02 (`7ad9d34`); 2026-12-07 (`c208d39`) |
| [Beta](../notebooks/beta.ipynb) | nothing to retrain | | |

{TABLE_END}\n\nAfter.\n"""


def test_a_missing_record_is_listed_and_the_announced_time_kept(book):
    (book / "results" / "sweeps" / "alpha-sweep-book.json").unlink()
    write_tables(book)
    assert goals_records(book / "notebooks" / "alpha.ipynb") == (["alpha", "alpha-sweep"], 9)
    assert "| [Alpha: a method](../notebooks/alpha.ipynb) | not recorded yet (`alpha`, `alpha-sweep`) | | |" in \
        (book / "book" / "running.md").read_text()


def test_a_running_page_without_the_markers_is_refused(book, capsys):
    (book / "book" / "running.md").write_text("# Running\n\n| a hand-typed table |\n")
    assert main(["book-tables", "--root", str(book)]) == 2
    assert "no rerun table between the lines" in capsys.readouterr().err
    assert (book / "book" / "running.md").read_text() == "# Running\n\n| a hand-typed table |\n"
