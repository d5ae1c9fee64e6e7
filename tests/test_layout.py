"""The layout: the reproduction framework (``snnlab/repro/``) apart from the papers (``snnlab/repro/papers/``), with
imports one way: a paper's module builds on the framework, the framework (and the rest of the package) never imports
a paper's module, and importing the papers package registers every paper."""
from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

import snnlab
import snnlab.repro  # noqa: F401  (imports and registers the papers)

PACKAGE = Path(snnlab.__file__).parent
PAPERS = "snnlab.repro.papers"


def module_name(path: Path) -> str:
    """The dotted name of the package's module at ``path``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """The absolute names of what every import statement of the module at ``path`` (its text, or ``source``) names:
    the modules, and for ``from X import y`` also ``X.y`` (``y`` may be a submodule); relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = (importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level
                    else node.module)
            found |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return found


def _paper_modules() -> list[Path]:
    return sorted(p for p in (PACKAGE / "repro" / "papers").glob("*.py") if p.name != "__init__.py")


def test_relative_imports_are_resolved():
    source = "from .papers import tet\nfrom ..train import fit\n"
    assert imported_modules(PACKAGE / "repro" / "registry.py", source) == {"snnlab.repro.papers", "snnlab.repro.papers.tet", "snnlab.train",
                                           "snnlab.train.fit"}


def test_nothing_outside_the_papers_imports_a_paper():
    papers = {module_name(path) for path in _paper_modules()}
    assert {"snnlab.repro.papers.tet", "snnlab.repro.papers.kdsnn", "snnlab.repro.papers.dkd"} <= papers
    framework = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts
                 and not module_name(p).startswith(PAPERS)]
    assert PACKAGE / "repro" / "registry.py" in framework and len(framework) > 40
    offending = {module_name(path): sorted(imported & papers) for path in framework
                 if (imported := imported_modules(path)) & papers}
    assert not offending, f"the framework imports papers' modules: {offending}"
    importing_the_package = [module_name(p) for p in framework if PAPERS in imported_modules(p)]
    assert importing_the_package == ["snnlab.repro"], importing_the_package


def test_an_unfilled_skeleton_is_skipped_with_a_warning_that_names_it(tmp_path, monkeypatch):
    """A paper module whose protocol still reads the template's placeholder does not stop the kit from importing:
    it is left unregistered, and the warning names its file and the fields still to write."""
    import warnings

    import snnlab.repro.papers as papers
    from snnlab.scaffold import chapter_files

    skeleton = next(text for path, text in chapter_files("unfilled-paper", Path(snnlab.__file__).parent.parent).items()
                    if path.as_posix().endswith("snnlab/repro/papers/unfilled_paper.py"))
    (tmp_path / "unfilled_paper.py").write_text(skeleton)
    monkeypatch.setattr(papers, "__path__", [*papers.__path__, str(tmp_path)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        papers.import_papers()
    messages = [str(w.message) for w in caught if "unfilled_paper" in str(w.message)]
    assert len(messages) == 1 and "not registered yet" in messages[0], messages
    (tmp_path / "unfilled_paper.py").write_text("import a_module_that_does_not_exist\n")    # no placeholder: raised
    with pytest.raises(ImportError):
        papers.import_papers()
    assert "unfilled-paper" not in snnlab.repro.reproduction_names()


def test_papers_build_on_the_framework_and_each_registers_on_import():
    registering = [path for path in _paper_modules()
                   if re.search(r"^register(_sweep|_comparison|_demonstration)?\(", path.read_text(), re.MULTILINE)]
    assert len(registering) >= 12
    for path in registering:
        assert module_name(path) in sys.modules, (
            f"{path.name} registers a reproduction but importing snnlab.repro did not import it")
        assert any(name.startswith("snnlab.repro.") and not name.startswith(PAPERS)
                   for name in imported_modules(path)), path.name
