"""The README's install into your own environment: in a fresh virtual environment that holds torch only, its two
lines keep that torch, add the torchvision and torchaudio built for it (no CUDA packages), and the installed package
loads the shipped Fashion-MNIST subset outside a clone."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from snapshot import snapshot_repository

ROOT = Path(__file__).resolve().parents[1]

CHECK = '''
import json, subprocess, sys
from importlib import metadata
import snnlab, torch
from snnlab.data import get_dataset
test = get_dataset("fashion", "test", size=16)
names = [d.metadata["Name"].lower() for d in metadata.distributions()]
print(json.dumps({"torch": torch.__version__, "snnlab": snnlab.__file__, "version": snnlab.__version__,
                  "fashion": len(test), "shape": list(test[0][0].shape),
                  "torchvision": metadata.version("torchvision"), "torchaudio": metadata.version("torchaudio"),
                  "cuda_packages": sorted(n for n in names if n.startswith(("nvidia", "triton")))}))
'''


def readme_install_lines() -> list[str]:
    """The README's install commands (the ``TORCH=`` line and the ``pip install`` that names it)."""
    text = (ROOT / "README.md").read_text()
    lines = [line for line in text.splitlines()
             if line.startswith("TORCH=$(") or (line.startswith("python -m pip install") and '"torch==$TORCH"' in line)]
    assert len(lines) == 2, lines
    return lines


def test_the_install_command_names_the_distribution_and_its_extras():
    install = readme_install_lines()[1]
    assert re.search(r'"snnlab-kd\[events,plot\] @ git\+https://github\.com/[\w.-]+/[\w.-]+"', install), install


@pytest.mark.slow
def test_documented_install_keeps_torch_in_a_torch_only_environment(tmp_path):
    import torch

    origin = snapshot_repository(tmp_path / "origin")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(origin)], check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("snnlab_kd-*.whl")
    members = set(zipfile.ZipFile(wheel).namelist())
    assert {"snnlab/py.typed", "snnlab/data/fashion_subset/fashion-mnist-subset.npz.xz",
            "snnlab/data/fashion_subset/provenance.json"} <= members
    assert wheel.stat().st_size < 12_000_000, wheel.stat().st_size

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    torch_version = torch.__version__.split("+")[0]
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"torch=={torch_version}"], check=True,
                   capture_output=True, timeout=900)

    url = re.search(r"git\+(https://\S+?)\"", readme_install_lines()[1]).group(1)
    script = "\n".join(line.replace(f"git+{url}", wheel.as_uri()) for line in readme_install_lines())
    env = {k: v for k, v in os.environ.items() if k not in ("SNNLAB_DATA", "PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{environment / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path / "elsewhere"
    work.mkdir()
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    result = subprocess.run([str(python), "-c", CHECK], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["torch"] == torch.__version__, report                       # the torch it had, kept
    assert Path(report["snnlab"]).is_relative_to(environment) and report["version"] != "0+unknown", report
    assert report["fashion"] == 6000 and report["shape"] == [1, 16, 16], report
    assert report["cuda_packages"] == [], report
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB; torch {report['torch']} kept with torchvision "
          f"{report['torchvision']} and torchaudio {report['torchaudio']}")
