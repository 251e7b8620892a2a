"""`tapedeck --install-desktop`: a launcher entry and the icon for the person's desktop menus.

Follows the freedesktop.org specifications that GNOME, KDE and XFCE read: the entry goes to
``$XDG_DATA_HOME/applications/tapedeck.desktop`` and the icon to the hicolor theme's scalable folder
(``$XDG_DATA_HOME`` defaults to ``~/.local/share``), so nothing needs root. The entry starts this very
Python with ``-m tapedeck``, which keeps working in a virtual environment that is not on ``PATH``.
Files are written under a temporary name and renamed. Imports no Qt: the command needs no display.
"""
from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from tapedeck.engine.files import write_bytes_atomic, write_text_atomic

APP_ID = "tapedeck"   # the .desktop file's name, the icon's name and QGuiApplication.desktopFileName


def icon_bytes() -> bytes:
    """The application icon (SVG), shipped as package data."""
    return (resources.files("tapedeck.resources") / "icons" / f"{APP_ID}.svg").read_bytes()


def data_home(environ=None) -> Path:
    """XDG_DATA_HOME, or ~/.local/share when it is unset or not absolute (as the spec says)."""
    environ = os.environ if environ is None else environ
    value = environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def _quoted(argument: str) -> str:
    """An Exec argument quoted per the Desktop Entry spec (\\, ", ` and $ escaped inside quotes)."""
    if argument and not any(c in argument for c in ' \t\n"\'\\><~|&;$*?#()`='):
        return argument
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    return f'"{escaped}"'


def desktop_entry(python: str | None = None) -> str:
    """The text of tapedeck.desktop; `%f` lets a file manager open an experiment file with it."""
    command = " ".join(_quoted(a) for a in (python or sys.executable, "-m", APP_ID))
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=Tapedeck",
        "GenericName=Keras model trainer",
        "Comment=Stack layers, pick the Keras API and training loop, watch the model learn",
        f"Exec={command.replace('%', '%%')} %f",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Science;ArtificialIntelligence;",   # one main category: listed once in the menu
        "Keywords=keras;tensorflow;neural network;deep learning;training;",
        f"StartupWMClass={APP_ID}",
        "",
    ])


def install_desktop(environ=None) -> list[Path]:
    """Write the entry and the icon under the XDG data folder; returns the files written."""
    home = data_home(environ)
    entry = home / "applications" / f"{APP_ID}.desktop"
    icon = home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    for path in (entry, icon):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(icon, icon_bytes())
    write_text_atomic(entry, desktop_entry())
    return [entry, icon]
