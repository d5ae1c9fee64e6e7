"""Packaging: one version, every imported package declared, SpikingJelly's private helpers pinned and checked, the
linter clean."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

import snnlab
from snnlab import spikingjelly_private

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
IMPORT_TO_DISTRIBUTION = {"sklearn": "scikit-learn", "PIL": "pillow", "IPython": "ipython"}
UNDECLARED = {"torch": "snnlab uses whatever torch is installed", "tensorboard": "a dependency of SpikingJelly"}


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def _package_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "snnlab").rglob("*.py") if "fashion_subset" not in p.parts)


def test_one_version_read_from_the_installed_metadata():
    assert PROJECT["name"] == snnlab.DISTRIBUTION == "snnlab-kd"
    assert snnlab.__version__ == metadata.version("snnlab-kd") == PROJECT["version"]
    citation = re.search(r"^version: (\S+)$", (ROOT / "CITATION.cff").read_text(), re.MULTILINE).group(1)
    assert citation == PROJECT["version"], "CITATION.cff's version must be pyproject.toml's"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {PROJECT['version']}" in changelog, "CHANGELOG.md needs a section for the current version"
    assert (ROOT / "snnlab" / "py.typed").is_file()


def test_every_imported_package_is_declared():
    declared = {Requirement(r).name.lower() for r in PROJECT["dependencies"]}
    extras = {Requirement(r).name.lower() for group in PROJECT["optional-dependencies"].values() for r in group}
    third_party = {name.split(".")[0] for path in _package_modules() for name in _imports(path)}
    third_party -= set(sys.stdlib_module_names) | {"snnlab"}
    missing = {name for name in third_party - set(UNDECLARED)
               if IMPORT_TO_DISTRIBUTION.get(name, name).lower() not in declared | extras}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_spikingjelly_private_helpers_are_imported_in_one_place_and_still_behave():
    private = [str(p.relative_to(ROOT)) for p in _package_modules()
               if any(name.startswith("spikingjelly._") for name in _imports(p))]
    assert private == ["snnlab/spikingjelly_private.py"], private
    bound = next(Requirement(r) for r in PROJECT["dependencies"] if r.startswith("spikingjelly"))
    assert str(bound.specifier) == ",".join(sorted(spikingjelly_private.SUPPORTED.removeprefix("spikingjelly")
                                                   .split(","))), (bound, spikingjelly_private.SUPPORTED)
    version = metadata.version("spikingjelly")
    assert bound.specifier.contains(version), (
        f"SpikingJelly {version} is outside the tested range {bound.specifier}: check that "
        "spikingjelly._ops.surrogate._surrogate_spec and _DTYPES still mean what snnlab/spikingjelly_private.py "
        "says (the tests below), then widen the bound in pyproject.toml and SUPPORTED")
    import torch
    from spikingjelly.activation_based import surrogate

    ids = {name: spikingjelly_private.surrogate_spec(getattr(surrogate, name)(alpha=2.0))
           for name in ("Sigmoid", "ATan", "PiecewiseQuadratic", "PiecewiseExp", "SoftSign", "SuperSpike", "Erf")}
    assert ids == {"Sigmoid": (0, 2.0), "ATan": (1, 2.0), "PiecewiseQuadratic": (2, 2.0), "PiecewiseExp": (3, 2.0),
                   "SoftSign": (4, 2.0), "SuperSpike": (5, 2.0), "Erf": (6, 2.0)}, (
        f"SpikingJelly {version} numbers its fusable surrogates differently: snnlab.cpu_neurons' closed forms "
        "would differentiate the wrong function")
    assert spikingjelly_private.surrogate_spec(surrogate.Sigmoid(spiking=False)) is None
    assert set(spikingjelly_private.SURROGATE_DTYPES) == {torch.float32, torch.float16, torch.bfloat16}


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "snnlab", "tests", "bench", ".ci"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ci_workflow_runs_the_ci_script_and_publishes_the_book():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    assert [s["run"] for s in steps if "run" in s] == ["bash .ci/run"]
    assert workflow["jobs"]["test"]["timeout-minutes"] <= 90
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in workflow["jobs"]["publish"]["steps"])
    run = (ROOT / ".ci" / "run").read_text()
    readme_command = "python -m pip install -q -r requirements.txt && python -m pytest -q"
    assert readme_command in (ROOT / "README.md").read_text() and run.rstrip().endswith(readme_command)
    assert "python -m venv .ci/venv" in run and ". .ci/venv/bin/activate" in run
