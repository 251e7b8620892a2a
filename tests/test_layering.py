"""The layering and the lint rules, checked inside the test command so CI fails on a broken layer.

import-linter reads the contracts in pyproject.toml. It needs the package as installed (one
``tapedeck`` folder holding engine/gui/resources), so the test lays that out in a temporary folder:
an editable install's import hook is invisible to it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("engine", "gui", "resources")


def installed_layout(target: Path) -> Path:
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, target / "tapedeck" / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def test_import_contracts_hold(tmp_path):
    layout = installed_layout(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(layout))
    done = subprocess.run([_tool("lint-imports"), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=layout,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_a_broken_layer_is_caught(tmp_path):
    """The contracts can fail: an engine module importing the window breaks the first one."""
    layout = installed_layout(tmp_path)
    (layout / "tapedeck" / "engine" / "spec" / "leak.py").write_text("import tapedeck.gui.document\n")
    env = dict(os.environ, PYTHONPATH=str(layout))
    done = subprocess.run([_tool("lint-imports"), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=layout,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "tapedeck.engine.spec.leak -> tapedeck.gui.document" in done.stdout


def test_ruff_is_clean():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
