"""One place names the repository: `_config.yml`. `.ci/set_repository.py` writes it into every file that links to
it (badges, install cells and commands, citation, project URLs); a fork changes one line and runs the script."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "set_repository.py"
FORK = "https://github.com/someone/snnlab-fork"


def _tool():
    spec = importlib.util.spec_from_file_location("set_repository", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tracked_text_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [name for name in listed if name.endswith((".md", ".ipynb", ".cff", ".toml", ".yml", ".py", ".txt"))]


def test_every_link_names_the_configured_repository():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_no_file_names_the_repository_outside_the_managed_places():
    tool = _tool()
    url, branch = tool.configured()
    slug = url.removeprefix("https://github.com/")
    managed = {str(p.relative_to(ROOT)) for glob, _, _ in tool.rules(url, branch) for p in ROOT.glob(glob)}
    naming = {name for name in _tracked_text_files() if (ROOT / name).is_file()
              and f"github.com/{slug}" in (ROOT / name).read_text(errors="ignore").replace("/github/", "/github.com/")}
    assert naming - managed <= {"_config.yml"}, naming - managed


def test_a_fork_changes_one_line_and_every_place_follows(tmp_path):
    tool = _tool()
    url, branch = tool.configured()
    for glob, _, _ in tool.rules(url, branch):
        for path in ROOT.glob(glob):
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    config = (ROOT / "_config.yml").read_text()
    (tmp_path / "_config.yml").write_text(config.replace(f"url: {url}", f"url: {FORK}").replace(
        f"branch: {branch}", "branch: develop"))
    assert tool.stale_files(tmp_path)                                   # every place still names the original
    tool.stale_files(tmp_path, write=True)
    assert tool.stale_files(tmp_path) == []
    slug = url.removeprefix("https://github.com/")
    texts = {p.name: p.read_text() for p in tmp_path.rglob("*") if p.is_file() and p.name != "_config.yml"}
    assert not [name for name, text in texts.items() if slug in text]
    assert 'REPOSITORY = \\"https://github.com/someone/snnlab-fork\\"' in texts["tet.ipynb"]
    assert "colab.research.google.com/github/someone/snnlab-fork/blob/develop/notebooks/tet.ipynb" in texts["tet.ipynb"]
    assert f'repository-code: "{FORK}"' in texts["CITATION.cff"] and f"git+{FORK}" in texts["README.md"]
