"""File ▸ New, Open, Open preset, Open recent, Save and Save as: an experiment file in and out of the window,
with the question before unsaved changes are dropped. Mixed into the main window (gui/main_window), whose
document, settings and status bar it uses; a file that does not load leaves the current experiment as it was.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from tapedeck.engine.spec.experiment import (
    Experiment,
    ExperimentError,
    LayerSpec,
    load_experiment,
    load_preset,
    save_experiment,
)
from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["FilesMixin", "blank_experiment", "MAX_RECENT"]

MAX_RECENT = 8


def _in_window(experiment) -> bool:
    """Whether the window can show this objective's runs: those that learn from a data set, and those that
    learn by acting in an environment (the Environment tab)."""
    return objective_kind(experiment.objective).data in ("dataset", "environment")


def blank_experiment() -> Experiment:
    """File ▸ New: the offline data and the smallest stack that trains on it."""
    experiment = Experiment(name="untitled")
    experiment.model.layers = [LayerSpec("Flatten"),
                               LayerSpec("Dense", {"units": 10, "activation": "softmax"})]
    return experiment


class FilesMixin:
    """The File menu's work; the window supplies ``document``, ``settings``, ``ask_to_save``, ``recent_menu``."""

    def new_experiment(self) -> None:
        if self._may_discard():
            self.document.replace(blank_experiment(), None)

    def open_preset(self, name: str) -> None:
        if self._may_discard():
            self.document.replace(load_preset(name), None)

    def open_dialog(self) -> None:
        if not self._may_discard():
            return
        start = os.path.dirname(self.document.path) if self.document.path else ""
        path, _filter = QFileDialog.getOpenFileName(self, "Open an experiment", start,
                                                    "Experiments (*.json);;All files (*)")
        if path:
            error = self.open_path(path)
            if error:
                QMessageBox.warning(self, "Cannot open the experiment", error)

    def open_path(self, path: str) -> str | None:
        """Open an experiment file; returns the problem in words (and keeps the current one) or None."""
        try:
            experiment = load_experiment(path)
        except ExperimentError as error:
            return str(error)
        except OSError as error:
            return f"{path}: {error.strerror or error}"
        if not _in_window(experiment):
            return (f"{path}: objective {experiment.objective.kind!r} takes its data from "
                    f"{objective_kind(experiment.objective).data!r}, which the window cannot show yet; train it "
                    f"with: tapedeck train {path}")
        self.document.replace(experiment, path)
        self._remember(path)
        return None

    def save(self) -> bool:
        if not self.document.path:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        name = self.document.path or f"{self.document.display_name()}.json"
        path, _filter = QFileDialog.getSaveFileName(self, "Save the experiment", name,
                                                    "Experiments (*.json)")
        return self.save_to(path) if path else False

    def save_to(self, path: str) -> bool:
        try:
            save_experiment(self.document.experiment, path)
        except OSError as error:
            QMessageBox.warning(self, "Cannot save", f"{path}: {error.strerror or error}")
            return False
        self.document.mark_saved(path)
        self._remember(path)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("files/recent", recent[:MAX_RECENT])
        self.settings.setValue("files/last", path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self._open_recent(p))

    def _open_recent(self, path: str) -> None:
        if self._may_discard():
            error = self.open_path(path)
            if error:
                QMessageBox.warning(self, "Cannot open the experiment", error)

    def _may_discard(self) -> bool:
        if not self.document.modified or not self.ask_to_save:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.document.display_name()}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        self._discarded = answer == QMessageBox.Discard
        return self._discarded
