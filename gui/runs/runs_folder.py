"""Where runs are written and listed: a setting the person chooses (Runs ▸ Runs folder…).

The default is ``Tapedeck/runs`` in the platform's documents folder (platformdirs: ~/Documents on
Linux through the XDG user dirs, the Documents library on Windows and macOS), not the folder the
window happened to be started from: a desktop launcher starts programs in the home folder, a
terminal wherever it is, and runs scattered over both are hard to find again.
"""
from __future__ import annotations

from pathlib import Path

SETTING = "runs/folder"


def default_runs_dir() -> Path:
    import platformdirs

    return platformdirs.user_documents_path() / "Tapedeck" / "runs"


def configured_runs_dir(settings) -> str:
    """The runs folder the person chose (a QSettings), else the default."""
    value = settings.value(SETTING, "") if settings is not None else ""
    return str(value) if value else str(default_runs_dir())


def remember_runs_dir(settings, runs_dir) -> None:
    settings.setValue(SETTING, str(Path(runs_dir)))
    settings.sync()
