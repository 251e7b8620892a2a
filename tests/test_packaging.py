"""`pip install .` installs one import package, ``tapedeck``, and nothing under generic names."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import importlib.util, json, sys
import tapedeck.engine, tapedeck.gui
from tapedeck.engine.spec.experiment import list_presets, load_preset
print(json.dumps({
    "engine": importlib.util.find_spec("engine") is not None,
    "gui": importlib.util.find_spec("gui") is not None,
    "resources": importlib.util.find_spec("resources") is not None,
    "tapedeck": list(tapedeck.engine.__path__)[0],
    "presets": list_presets(),
    "default": load_preset("digits_cnn").name,
}))
"""


def test_packages_listed_are_the_folders_with_an_init():
    text = (ROOT / "pyproject.toml").read_text()
    listed = re.search(r"^packages = \[(.*?)\]", text, flags=re.S | re.M).group(1)
    folders = sorted("tapedeck." + str(p.parent.relative_to(ROOT)).replace(os.sep, ".")
                     for folder in ("engine", "gui", "resources") for p in (ROOT / folder).rglob("__init__.py")
                     if "__pycache__" not in p.parts)
    folders = sorted(folders + ["tapedeck"])   # launcher/: the package's top, only __main__.py, no __init__.py
    assert sorted(re.findall(r'"([\w.]+)"', listed)) == folders


def test_an_installed_copy_has_unique_names_a_working_command_and_its_presets(tmp_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == ["bin", "tapedeck"]

    away = tmp_path / "elsewhere"   # not the checkout: `engine` must not resolve to our folder
    away.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target))
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=away, env=env, capture_output=True, text=True,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    import json

    found = json.loads(probe.stdout)
    assert not found["engine"] and not found["gui"] and not found["resources"]
    assert found["tapedeck"].startswith(str(target))
    assert "digits_cnn" in found["presets"] and found["default"] == "digits_cnn"

    preset = ROOT / "resources" / "presets" / "digits_cnn.json"
    command = subprocess.run([sys.executable, str(target / "bin" / "tapedeck"), "code", str(preset)], cwd=away,
                             env=env, capture_output=True, text=True, timeout=120)
    assert command.returncode == 0, command.stderr[-3000:]
    assert "model.fit(" in command.stdout

    # `python -m tapedeck` is the command too (launcher/__main__.py), and the icon ships as package data
    module = subprocess.run([sys.executable, "-m", "tapedeck", "--version"], cwd=away, env=env, capture_output=True,
                            text=True, timeout=120)
    assert module.returncode == 0, module.stderr[-3000:]
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), flags=re.M).group(1)
    assert module.stdout.strip() == f"tapedeck {version}"
    assert (target / "tapedeck" / "resources" / "icons" / "tapedeck.svg").is_file()
