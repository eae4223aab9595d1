"""The package's layers (pyproject.toml, [tool.importlinter]) hold, and the check catches an upward import."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(config: Path, package_parent: Path) -> subprocess.CompletedProcess:
    """``lint-imports --config config --no-cache`` (the console script's command) on the package under ``package_parent``."""
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", command, "--config", str(config), "--no-cache"], capture_output=True,
                          text=True, cwd=package_parent, env={"PYTHONPATH": str(package_parent), "PATH": ""},
                          timeout=300)


def test_layers_and_protocol_independence_hold():
    proc = lint_imports(ROOT / "pyproject.toml", ROOT / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    # A copy of the package in which the records layer reaches up into a protocol.
    shutil.copytree(ROOT / "src" / "cxrbench", tmp_path / "cxrbench", ignore=shutil.ignore_patterns("__pycache__"))
    store = tmp_path / "cxrbench" / "records" / "store.py"
    store.write_text(store.read_text() + "\nfrom cxrbench.protocols.robust import table  # noqa: E402,F401\n")
    proc = lint_imports(ROOT / "pyproject.toml", tmp_path)
    assert proc.returncode != 0
    assert "cxrbench.records is not allowed to import cxrbench.protocols" in proc.stdout
    assert "cxrbench.records.store -> cxrbench.protocols.robust.table" in proc.stdout
