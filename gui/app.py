"""`tapedeck [EXP.json]`: the window, shown first; TensorFlow loads behind it.

Before Qt is touched, `display_problem()` looks for what would make Qt abort instead of opening a
window (missing X11 libraries of its xcb plugin, no display) and says which Debian packages to
install — Qt itself would only print "could not load the Qt platform plugin" and abort.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# lib*.so names whose Debian package does not follow the usual spelling
_PACKAGE_NAMES = {"libglib-2.0.so.0": "libglib2.0-0", "libdbus-1.so.3": "libdbus-1-3",
                  "libxcb.so.1": "libxcb1"}


def debian_package(soname: str) -> str:
    """libxcb-cursor.so.0 → libxcb-cursor0, libxkbcommon-x11.so.0 → libxkbcommon-x11-0."""
    if soname in _PACKAGE_NAMES:
        return _PACKAGE_NAMES[soname]
    stem, _, version = soname.partition(".so")
    version = version.lstrip(".").split(".")[0]
    return (stem + ("-" if stem[-1:].isdigit() else "") + version).lower()


def _xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(list(spec.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def missing_libraries(plugin: Path) -> list[str]:
    """Shared libraries the dynamic loader cannot find for `plugin` (from `ldd`)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        output = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = []
    for line in output.splitlines():
        if "not found" in line:
            name = line.split("=>")[0].strip()
            if name and name not in missing:
                missing.append(name)
    return missing


def display_problem(environ=None) -> str | None:
    """Why Qt could not open a window here, in words, with the fix; None when it should work."""
    environ = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None      # offscreen, wayland, vnc…: Qt's other plugins need no X11 libraries
    if not platform and environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return None
    plugin = _xcb_plugin()
    if plugin is not None:
        missing = missing_libraries(plugin)
        if missing:
            packages = " ".join(dict.fromkeys(debian_package(name) for name in missing))
            return ("Qt cannot open a window: its X11 (xcb) platform plugin needs libraries that are not "
                    f"installed: {', '.join(missing)}.\nOn Debian/Ubuntu install them with:\n"
                    f"    sudo apt-get install {packages}\n"
                    "(Headless machines can train with `tapedeck train EXP.json` instead.)")
    if not environ.get("DISPLAY"):
        return ("Qt cannot open a window: no display (DISPLAY is not set). Start Tapedeck from a desktop "
                "session, through `ssh -X`, or under a virtual display with `xvfb-run tapedeck`; "
                "`tapedeck train EXP.json` trains without a window.")
    return None


USAGE = "usage: tapedeck [EXPERIMENT.json]   (tapedeck --help lists the headless commands)"


def main(argv: list[str] | None = None, on_visible: Callable[[float], None] | None = None) -> int:
    """Open the window on `argv[0]` (an experiment file), else on the experiment open when it last
    closed (the default preset the first time).

    `on_visible(seconds)` is called once the window is on screen, with the seconds since `main`
    started (the benchmark uses it)."""
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print(USAGE, file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    problem = display_problem()
    if problem:
        print(f"tapedeck: {problem}", file=sys.stderr)
        return 2

    from tapedeck.engine.cli.errors import USER_ERROR, load_or_explain

    experiment, path = None, None
    if argv:
        path = argv[0]
        experiment = load_or_explain(path)
        if experiment is None:
            return USER_ERROR

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "tapedeck"])
    set_identity(app)

    from tapedeck.gui.main_window import MainWindow

    window = MainWindow(experiment, path)      # no file given: the last session's experiment
    from tapedeck.gui.drops import install_drops

    install_drops(window)                      # experiments, data sets and models dropped on it
    if path:
        window._remember(path)
    sys.excepthook = window.report_unexpected
    window.show()

    def on_screen():
        if on_visible is not None:
            on_visible(time.perf_counter() - started)
        # after the first paint: the plots, the data and TensorFlow load behind a visible window
        QTimer.singleShot(20, window.start_background_loading)

    _when_exposed(window, on_screen)
    return app.exec()


def set_identity(app) -> None:
    """Name, icon and desktop-file id: the settings' location, the task bar's icon, and on Wayland the
    link from the window to the menu entry `tapedeck --install-desktop` writes."""
    from PySide6.QtGui import QIcon, QPixmap

    from tapedeck.gui.desktop_entry import APP_ID, icon_bytes

    app.setApplicationName("Tapedeck")
    app.setOrganizationName("Tapedeck")
    app.setDesktopFileName(APP_ID)
    pixmap = QPixmap()
    if pixmap.loadFromData(icon_bytes(), "SVG"):
        app.setWindowIcon(QIcon(pixmap))


def _when_exposed(window, callback) -> None:
    """Call `callback` once the window is on screen (its first frame painted)."""
    from PySide6.QtCore import QTimer

    def poll():
        handle = window.windowHandle()
        if handle is not None and handle.isExposed():
            window.repaint()
            callback()
        else:
            QTimer.singleShot(5, poll)
    QTimer.singleShot(0, poll)


if __name__ == "__main__":
    sys.exit(main())
