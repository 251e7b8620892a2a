"""Driving a real MainWindow from a script (screenshots, the window benchmark): no pytest-qt there,
so the event loop is turned by hand. Settings and runs go to a scratch folder, never the user's."""
from __future__ import annotations

import os
import time


def until(app, condition, seconds: float = 120, step: float = 0.01) -> bool:
    """Process events until `condition()` holds or `seconds` pass; True when it held."""
    end = time.time() + seconds
    while not condition() and time.time() < end:
        app.processEvents()
        time.sleep(step)
    return bool(condition())


def settle(app, seconds: float = 0.3) -> None:
    """Let queued repaints and timers run for a moment (before a grab)."""
    until(app, lambda: False, seconds)


def open_window(app, experiment, scratch: str, size=(1280, 800), wait_seconds: float = 180):
    """A shown window on `experiment`, TensorFlow and the data loaded, ready to train."""
    from PySide6.QtCore import QSettings

    from tapedeck.gui.main_window import MainWindow

    window = MainWindow(experiment, settings=QSettings(os.path.join(scratch, "s.ini"), QSettings.IniFormat),
                        runs_dir=os.path.join(scratch, "runs"))
    window.ask_to_save = False
    window.resize(*size)
    window.show()
    window.start_background_loading()
    until(app, lambda: window.can_train, wait_seconds)
    return window
