"""The chapter template (``snnlab new-chapter``): its skeletons follow every rule the notebook tests check, refuse a
taken name and appear together or not at all; filled in and recorded, they pass their own tests and the notebook
tests."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_notebooks

from snnlab.book_tables import goals_records
from snnlab.cli import main
from snnlab.io import create_files
from snnlab.repro import get_reproduction
from snnlab.repro.registry import check_protocol
from snnlab.scaffold import PLACEHOLDER

ROOT = Path(__file__).resolve().parents[1]
NAME, MODULE = "my-paper", "my_paper"
SKELETONS = [f"snnlab/losses/{MODULE}.py", f"snnlab/methods/{MODULE}.py", f"snnlab/repro/papers/{MODULE}.py",
             f"tests/test_{MODULE}.py", f"notebooks/{NAME}.ipynb"]


def _bare_clone(folder: Path) -> Path:
    """The folders new-chapter writes into, and the ``_config.yml`` naming the repository."""
    for place in ("snnlab/losses", "snnlab/methods", "snnlab/repro/papers", "tests", "notebooks"):
        (folder / place).mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", folder / "_config.yml")
    return folder


def _notebook_rules() -> list:
    """Every rule of the notebook tests that is checked per notebook (parametrised by ``path``) and reads the
    notebook alone: not the slow execution, not the rules that read records."""
    rules = []
    for name, rule in vars(test_notebooks).items():
        marks = getattr(rule, "pytestmark", [])
        if (name.startswith("test_") and any(m.name == "parametrize" and m.args[0] == "path" for m in marks)
                and not any(m.name == "slow" for m in marks) and rule not in test_notebooks.RECORD_RULES):
            rules.append(rule)
    return rules


def test_the_skeleton_notebook_follows_every_chapter_rule(tmp_path, capsys):
    root = _bare_clone(tmp_path)
    assert main(["new-chapter", NAME, "--root", str(root)]) == 0
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".yml") == \
        sorted(SKELETONS)
    printed = capsys.readouterr().out
    assert f"from .{MODULE} import {MODULE}_loss" in printed and f"snnlab reproduce {NAME} --preset book" in printed
    assert "snnlab/repro/papers/__init__.py" not in printed             # the reproduction registers itself
    notebook = root / "notebooks" / f"{NAME}.ipynb"
    rules = _notebook_rules()
    assert len(rules) >= 12, [rule.__name__ for rule in rules]
    for rule in rules:
        rule(notebook)
    assert goals_records(notebook) == ([NAME], 30)      # what rerun = True retrains; book-tables sets the minutes
    text = notebook.read_text()
    assert text == json.dumps(json.loads(text), indent=1, ensure_ascii=False) + "\n"   # the notebooks' format


def test_the_python_skeletons_compile_and_pass_ruff(tmp_path):
    root = _bare_clone(tmp_path)
    assert main(["new-chapter", NAME, "--root", str(root)]) == 0
    sources = [root / name for name in SKELETONS if name.endswith(".py")]
    for source in sources:
        compile(source.read_text(), str(source), "exec")
    pytest.importorskip("ruff")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                             str(ROOT / "pyproject.toml"), *map(str, sources)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_taken_name_is_refused_and_nothing_is_written(tmp_path, capsys):
    root = _bare_clone(tmp_path)
    mine = root / "tests" / f"test_{MODULE}.py"
    mine.write_text("# someone's tests\n")
    assert main(["new-chapter", NAME, "--root", str(root)]) == 2
    assert f"chapter {NAME!r} exists already (tests/test_{MODULE}.py)" in capsys.readouterr().err
    assert mine.read_text() == "# someone's tests\n"
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["_config.yml", f"test_{MODULE}.py"]
    assert main(["new-chapter", "tet", "--root", str(root)]) == 2           # a registered reproduction
    assert "a reproduction named 'tet' is registered already" in capsys.readouterr().err
    assert main(["new-chapter", "My_Paper", "--root", str(root)]) == 2
    assert "lower-case words joined by hyphens" in capsys.readouterr().err
    assert main(["new-chapter", NAME, "--root", str(root / "notebooks")]) == 2
    assert "not the root of an snnlab clone" in capsys.readouterr().err
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["_config.yml", f"test_{MODULE}.py"]


def test_files_are_created_together_or_not_at_all(tmp_path):
    first, taken = tmp_path / "a" / "first.py", tmp_path / "taken.py"
    taken.write_text("kept\n")
    with pytest.raises(FileExistsError):
        create_files({first: "new\n", taken: "new\n"})
    assert not first.exists() and taken.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["taken.py"]     # no temporaries left
    assert create_files({first: "new\n"}) == [first] and first.read_text() == "new\n"


def test_registration_refuses_a_protocol_skeleton_that_is_not_filled_in():
    tet = get_reproduction("tet")
    check_protocol(tet)
    unfilled = dataclasses.replace(tet, claim=f"{PLACEHOLDER}: the paper's claim in words",
                                   premise=dataclasses.replace(tet.premise, statement=f"{PLACEHOLDER}: the premise"))
    with pytest.raises(ValueError, match=rf"not filled in: claim, premise still read '{PLACEHOLDER}'"):
        check_protocol(unfilled)


def _copy_for_a_new_chapter(folder: Path) -> Path:
    """The package, the book pages, the notebooks, the notebook tests and the configuration of this working tree (no
    records): a clone to add a chapter to."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for tree in ("snnlab", "book", "notebooks"):
        shutil.copytree(ROOT / tree, folder / tree, ignore=ignore)
    (folder / "tests").mkdir()
    for name in ("tests/test_notebooks.py", "tests/conftest.py", "tests/nbval_sanitize.cfg", "pyproject.toml",
                 "_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, folder / name)
    return folder


@pytest.mark.slow
def test_a_filled_in_skeleton_passes_its_tests_and_the_notebook_tests_once_recorded(tmp_path):
    """Filled in (every placeholder replaced), registered with the printed lines (the reproduction registers itself:
    the papers package imports every module in it), recorded and its rerun time
    written by ``snnlab book-tables``, the skeletons pass their own tests and every notebook test of the chapter,
    its execution at the smoke preset included."""
    root = _copy_for_a_new_chapter(tmp_path / "clone")
    assert main(["new-chapter", NAME, "--root", str(root)]) == 0
    for name in SKELETONS:
        path = root / name
        path.write_text(path.read_text().replace(f"{PLACEHOLDER}:", "Filled:").replace(PLACEHOLDER, "Filled"))
    registrations = {"snnlab/losses/__init__.py": f"from .{MODULE} import {MODULE}_loss  # noqa: F401\n",
                     "snnlab/methods/__init__.py": f"from .{MODULE} import MyPaper  # noqa: F401\n",
                     "_toc.yml": f"      - file: notebooks/{NAME}\n"}
    for name, line in registrations.items():
        with open(root / name, "a") as handle:
            handle.write(line)
    env = {**os.environ, "PYTHONPATH": str(root)}       # the clone's snnlab, also in the notebook's kernel
    record = subprocess.run([sys.executable, "-m", "snnlab", "reproduce", NAME, "--preset", "smoke", "--out",
                             "results", "--quiet"], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert record.returncode == 0, record.stdout + record.stderr
    (root / "results" / f"{NAME}-smoke.json").rename(root / "results" / f"{NAME}-book.json")   # stands in for it
    tables = subprocess.run([sys.executable, "-m", "snnlab", "book-tables"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=300)
    assert tables.returncode == 0 and f"notebooks/{NAME}.ipynb" in tables.stdout, tables.stdout + tables.stderr
    assert goals_records(root / "notebooks" / f"{NAME}.ipynb") == ([NAME], 0)      # the smoke record's seconds
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
                            f"tests/test_{MODULE}.py", "tests/test_notebooks.py", "-k", f"{NAME} or test_{MODULE}"],
                           cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert tests.returncode == 0, tests.stdout[-5000:] + tests.stderr[-3000:]
    passed = re.search(r"(\d+) passed", tests.stdout)
    expected = 4 + len(_notebook_rules()) + len(test_notebooks.RECORD_RULES) + 1     # its own, the notebook's, run
    assert passed and int(passed.group(1)) >= expected and "skipped" not in tests.stdout, tests.stdout[-3000:]
