"""File ▸ Import model…: a ``.keras`` file (or a Keras model JSON config) opened as the edited experiment.

Loading a model imports TensorFlow and reads the whole file, so it runs in a ``gui.threads.jobs.Job``;
the window stays responsive and the result (or the refusal, in words) arrives on the GUI thread.
With "keep the weights" the model's weights are written into ``<runs folder>/imports/`` (the edited
experiment has no file of its own yet) and ``training.initial_weights`` points there: Train then
fine-tunes the model. The import opens like a file does: a fresh undo history, no path until saved.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tapedeck.gui.threads.jobs import Job

__all__ = ["ModelImporter", "ImportModelAction", "import_work", "weights_destination"]


def weights_destination(runs_dir, model_path) -> Path:
    """``<runs>/imports/<model stem>-<time>.weights.npz``: one file per import, never overwritten."""
    from tapedeck.engine.model.importer import WEIGHTS_SUFFIX

    stem = Path(model_path).name.split(".")[0] or "model"
    return Path(runs_dir) / "imports" / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}{WEIGHTS_SUFFIX}"


def import_work(model_path, keep_weights: bool, runs_dir) -> tuple:
    """The job's function (no widget in it): (experiment, notes)."""
    from tapedeck.engine.model.importer import import_model, save_weights

    imported = import_model(model_path)
    experiment = imported.experiment
    if keep_weights:
        target = weights_destination(runs_dir, model_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        experiment.training.initial_weights = str(save_weights(imported.model, target).resolve())
    return experiment, list(imported.notes)


class ModelImporter(QObject):
    """Owns the import job; ``done(experiment or None, notes, error text or None)`` on the GUI thread."""

    done = Signal(object, list, object)

    def __init__(self, runs_dir, parent=None):
        super().__init__(parent)
        self.runs_dir = str(runs_dir)
        self.job = Job("tapedeck-import-model", self)

    @property
    def running(self) -> bool:
        return self.job.running

    def start(self, model_path, keep_weights: bool, work: Callable | None = None) -> None:
        work = work or import_work
        self.job.start(lambda: work(model_path, keep_weights, self.runs_dir), self._finished)

    def _finished(self, result, error) -> None:
        if error:
            self.done.emit(None, [], error)
            return
        experiment, notes = result
        self.done.emit(experiment, notes, None)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        return self.job.shutdown(timeout_ms)


class ImportModelAction(QObject):
    """The menu entry and what follows it: pick the file, ask about the weights, import off the GUI
    thread, open the result as the edited document (or show why not in a message box)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.importer = ModelImporter(window.controller.runs_dir, self)
        self.importer.done.connect(self._done)
        self.action = QAction("&Import model…", window)
        self.action.setStatusTip("Open a .keras model (or its JSON config) as an experiment, optionally "
                                 "with its trained weights to fine-tune")
        self.action.triggered.connect(self.choose)
        self.last_error: str | None = None

    def choose(self) -> None:
        if self.importer.running or not self.window._may_discard():
            return
        path, _filter = QFileDialog.getOpenFileName(self.window, "Import a Keras model", "",
                                                    "Keras models (*.keras *.json);;All files (*)")
        if path:
            self.ask_and_import(path)

    def ask_and_import(self, path: str) -> None:
        """Ask whether to keep the trained weights, then import (the menu entry, and a model dropped
        on the window)."""
        if self.importer.running:
            return
        answer = QMessageBox.question(
            self.window, "Keep the trained weights?",
            "Start training from this model's trained weights (fine-tune it)?\n\nYes: the weights are copied "
            "into the runs folder and the run starts from them. No: only the architecture is imported.",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        self.import_path(path, answer == QMessageBox.Yes)

    def import_path(self, path, keep_weights: bool) -> None:
        self.window.statusBar().showMessage(f"Importing {Path(path).name}…")
        self.action.setEnabled(False)
        self.importer.runs_dir = str(self.window.controller.runs_dir)   # the person may have chosen another
        self.importer.start(path, keep_weights)

    def _done(self, experiment, notes, error) -> None:
        self.action.setEnabled(True)
        self.window.statusBar().clearMessage()
        self.last_error = error
        if error:
            QMessageBox.warning(self.window, "Cannot import the model", error)
            return
        self.window.document.replace(experiment, None)
        kept = " with its weights (Train fine-tunes it)" if experiment.training.initial_weights else ""
        self.window.show_notice(f"Imported {experiment.name}: {len(experiment.model.layers)} layers{kept}."
                                + "".join(f" Note: {n}." for n in notes))
