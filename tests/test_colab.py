"""The Colab path, run as Colab runs it: a fresh environment that keeps the machine's torch, the install cell, then the
notebook's first code cells."""
from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

DRIVER = '''
import json, sys, types
google = types.ModuleType("google")
google.colab = types.ModuleType("google.colab")
sys.modules.update({"google": google, "google.colab": google.colab})   # what Colab's runtime has
namespace = {}
for i, source in enumerate(json.load(open(sys.argv[1]))):
    exec(compile(source, f"cell {i}", "exec"), namespace)
import aedat, snnlab, tonic, torch
print(json.dumps({"snnlab": snnlab.__file__, "torch": torch.__file__, "torch_version": torch.__version__,
                  "cwd": __import__("os").getcwd()}))
'''


@pytest.mark.slow
def test_install_cell_on_a_fresh_colab_like_environment(tmp_path):
    """A virtual environment that sees the machine's packages (as Colab's Python has its torch), ``google.colab``
    stubbed: the TET notebook's install cell clones the repository (this checkout stands in for GitHub) and installs
    snnlab with its extras into the environment; the parameters cell (set to the paper preset) and the imports cell
    then run, and on this CPU-only machine the preset check warns first thing."""
    import torch

    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=True)
    python = environment / "bin" / "python"
    notebook = nbformat.read(ROOT / "notebooks" / "tet.ipynb", as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    install = code[0].replace('REPOSITORY = "https://github.com/snnlab/snnlab"', f'REPOSITORY = "{ROOT}"')
    assert install != code[0], "the install cell no longer names the repository as expected"
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps([install, code[1] + '\npreset = "paper"\n', code[2]]))
    work = tmp_path / "content"
    work.mkdir()
    result = subprocess.run([str(python), "-c", DRIVER, str(cells)], cwd=work, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert Path(report["snnlab"]).is_relative_to(environment), report         # installed, not this checkout
    assert report["torch_version"] == torch.__version__ and not Path(report["torch"]).is_relative_to(environment)
    assert report["cwd"] == str(work / "snnlab-repo" / "notebooks")
    assert lines[0].startswith("WARNING: preset = 'paper' on a machine without a CUDA GPU"), lines[:3]
