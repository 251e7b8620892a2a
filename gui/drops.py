"""Files dropped on the window: an experiment opens, a data set becomes the experiment's data, a Keras
model is imported — the same paths as File ▸ Open, the data panel's Open buttons and File ▸ Import model.

    from tapedeck.gui.drops import install_drops
    install_drops(window)      # a gui.main_window.MainWindow

What it uses of the window: ``open_path`` and ``_may_discard`` (an experiment), ``settings_panel.open_path``
(data), ``model_import.ask_and_import`` (a model), ``show_notice`` (what cannot be opened).
"""
from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QObject

from tapedeck.engine.data.sources import guess_source

MODEL_SUFFIXES = (".keras", ".h5")
EXPERIMENT_SUFFIX = ".json"
WHAT_DROPS = ("drop an experiment (.json), a data set (.npz, a CIFAR .tar.gz, an IDX folder or a folder with "
              "one sub-folder of images per class) or a Keras model (.keras)")


def dropped_kind(path: str) -> tuple[str | None, str]:
    """("experiment" | "model" | "data", "") for a path the window can open, else (None, why)."""
    lower = path.lower().rstrip("/")
    if os.path.isfile(path) and lower.endswith(MODEL_SUFFIXES):
        return "model", ""
    if os.path.isfile(path) and lower.endswith(EXPERIMENT_SUFFIX):
        return "experiment", ""
    if not os.path.exists(path):
        return None, f"{path}: no such file or folder"
    source, _why = guess_source(path)
    if source is None:
        return None, f"{os.path.basename(lower) or path}: not something Tapedeck opens; {WHAT_DROPS}"
    return "data", ""


def _local_paths(mime) -> list[str]:
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


class DropHandler(QObject):
    """An event filter on the window: accepts a drag that carries one local file or folder."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind in (QEvent.DragEnter, QEvent.DragMove):
            if len(_local_paths(event.mimeData())) == 1:
                event.acceptProposedAction()
                return True
            return False
        if kind == QEvent.Drop:
            paths = _local_paths(event.mimeData())
            if len(paths) == 1:
                event.acceptProposedAction()
                self.open(paths[0])
                return True
        return False

    def open(self, path: str) -> str | None:
        """Open ``path`` as what it is; returns what was done ("experiment", "data", "model") or None."""
        window = self.window
        kind, why = dropped_kind(path)
        if kind is None:
            window.show_notice(why)
            return None
        if kind == "experiment":
            if not window._may_discard():
                return None
            problem = window.open_path(path)
            if problem:
                window.show_notice(f"Cannot open the experiment: {problem}")
                return None
        elif kind == "data":
            window.settings_panel.open_path(path)
            window.statusBar().showMessage(f"Data: {path}", 8000)
        else:
            if not window._may_discard():
                return None
            window.model_import.ask_and_import(path)
        return kind


def install_drops(window) -> DropHandler:
    handler = DropHandler(window)
    window.setAcceptDrops(True)
    window.installEventFilter(handler)
    return handler
