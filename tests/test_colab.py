"""The Colab path, run as Colab runs it: a fresh environment whose Python already has torch (and everything else
of the environment running the tests), the install cell, then the notebook's first code cells."""
from __future__ import annotations

import json
import re
import subprocess
import sysconfig
import venv
from pathlib import Path

import nbformat
import pytest
from snapshot import snapshot_repository

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


def preinstalled_environment(folder: Path) -> Path:
    """A virtual environment at ``folder`` that sees the packages of the environment running this test after its
    own, as Colab's Python sees its preinstalled torch: a ``.pth`` file names this environment's site-packages.
    (``system_site_packages`` would expose the *base* interpreter's packages instead, which lack torch when the
    tests run inside a virtual environment.) Returns its ``python``."""
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(own) / "preinstalled.pth").write_text("\n".join(outer) + "\n")
    return python


@pytest.mark.slow
def test_install_cell_on_a_fresh_colab_like_environment(tmp_path):
    """``google.colab`` stubbed: the TET notebook's install cell clones the repository (a snapshot of this working
    tree stands in for GitHub) and installs snnlab with its extras into the environment, keeping the torch it finds; the parameters
    cell (set to the paper preset) and the imports cell then run, and on this CPU-only machine the preset check
    warns first thing."""
    import torch

    environment = tmp_path / "venv"
    python = preinstalled_environment(environment)
    notebook = nbformat.read(ROOT / "notebooks" / "tet.ipynb", as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    origin = snapshot_repository(tmp_path / "origin")
    install, count = re.subn(r'REPOSITORY = "[^"]+"', f'REPOSITORY = "{origin}"', code[0])
    assert count == 1, "the install cell no longer names the repository as expected"
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
