"""What the window keeps between sessions (QSettings): the experiment it closed on, saved or not,
its docks and toolbars, and a run the closing interrupted — and the question closing asks about a
run in progress. A mixin of MainWindow: it reads the window's settings, document and controller.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QMessageBox

from tapedeck.engine.spec.experiment import (
    DEFAULT_PRESET,
    Experiment,
    ExperimentError,
    dumps,
    load_experiment,
    load_preset,
    loads,
)
from tapedeck.engine.training.events import Finished, RunStarted

LAYOUT_VERSION = 1      # of the docks and toolbars saved with saveState: raise it when they change


class SessionMixin:
    def _restore_layout(self) -> None:
        """Docks and toolbars where the person left them (every dock exists by now, the Runs dock too)."""
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._docks_sized = self.restoreState(state, LAYOUT_VERSION)   # their sizes too

    def _last_session(self) -> tuple[Experiment, str | None, bool]:
        """The experiment open when the window last closed (saved or not), its file, and whether it
        had unsaved changes; the default preset when there is none (or it no longer reads)."""
        text = self.settings.value("session/experiment")
        path = str(self.settings.value("session/path") or "") or None
        if isinstance(text, str) and text.strip():
            try:
                experiment = loads(text, "the last session")
            except ExperimentError:
                experiment = None
            if experiment is not None:
                if path and not Path(path).is_file():
                    path = None
                return experiment, path, self._had_changes(experiment, path)
        return load_preset(DEFAULT_PRESET), None, False

    def _had_changes(self, experiment: Experiment, path: str | None) -> bool:
        """Unsaved work to keep asking about: differs from its file, or the window said it had changes.

        Without a file, the closing window's own word (``session/modified``) decides: an untouched
        preset is not unsaved work, and asking "Save the changes?" about it on every later close blocks
        Qt's quit (which closes the window) behind a question nobody asked for."""
        if path:
            try:
                return load_experiment(path).to_dict() != experiment.to_dict()
            except (ExperimentError, OSError):
                return True
        flag = self.settings.value("session/modified")
        if flag is None:   # written before the flag existed: unsaved unless it is a preset as shipped
            try:
                return load_preset(experiment.name).to_dict() != experiment.to_dict()
            except (ExperimentError, OSError, ValueError):
                return True
        return str(flag).lower() in ("true", "1")

    def _save_session(self) -> None:
        """What the next start reopens: the experiment as it is, or, after Discard, as it was saved
        (nothing kept when it never was: the next start opens the default preset)."""
        experiment, modified = self.document.experiment, self.document.modified
        if self._discarded:
            experiment, modified = self.document.saved_experiment, False
        if experiment is None:
            self.settings.remove("session/experiment")
        else:
            self.settings.setValue("session/experiment", dumps(experiment))
        self.settings.setValue("session/path", self.document.path or "")
        self.settings.setValue("session/modified", modified)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    def _may_stop_run(self) -> bool:
        """Closing while a run, a sweep or a comparison trains asks about it first: it was stopped
        without a word."""
        if not self.ask_to_save:
            return True
        if self.controller.running:
            name = Path(self._run_dir).name if self._run_dir else "the run"
            done = (f"after epoch {self._run_epoch}: Runs ▸ Resume continues it from there"
                    if self._run_epoch else "none yet: it stops before its first epoch ends, so there is "
                                            "nothing to resume")
            return self._ask_about_run(
                f"{name} is still training. Closing stops it. Its checkpoint is kept ({done}).")
        dialogs = getattr(getattr(self, "analysis", None), "dialogs", ())
        if any(getattr(d, "running", False) for d in dialogs if hasattr(d, "controller")):
            return self._ask_about_run("A sweep or comparison is still training. Closing stops it; the runs it "
                                       "finished stay in the runs folder.")
        return True

    def _ask_about_run(self, text: str) -> bool:
        box = QMessageBox(QMessageBox.Question, "A run is in progress", text, QMessageBox.Cancel, self)
        stop = box.addButton("Stop the run and close", QMessageBox.AcceptRole)
        box.setDefaultButton(QMessageBox.Cancel)
        box.exec()
        return box.clickedButton() is stop

    def _note_run(self, event) -> None:
        """A run in progress is noted in the settings until it finishes: one the window's closing
        stopped, or one the process did not survive, is then said at the next start."""
        if isinstance(event, RunStarted) and event.run_dir:
            self.settings.setValue("session/interrupted_run", event.run_dir)
            self.settings.sync()
        elif isinstance(event, Finished) and not self._closing:
            self.settings.remove("session/interrupted_run")

    def _offer_interrupted_run(self) -> None:
        """The last run did not finish (the window closed, or Tapedeck ended, during it): say so, and
        offer Resume where a checkpoint was kept."""
        run_dir = str(self.settings.value("session/interrupted_run") or "")
        if not run_dir:
            return
        self.settings.remove("session/interrupted_run")
        from tapedeck.engine.runs.folder import RunFolder

        folder = RunFolder(run_dir)
        if not folder.path.is_dir():
            return
        name = Path(run_dir).name
        epoch = folder.checkpoint_epoch()
        if epoch is None:
            self.show_notice(f"The last run, {name}, did not finish: Tapedeck closed during it, before its "
                             "first epoch ended, so it has no checkpoint to resume from.")
            return
        self.show_notice(f"The last run, {name}, did not finish: Tapedeck closed during it, after epoch {epoch}. "
                         "Resume continues it from its checkpoint.",
                         (("Resume", lambda: self.analysis.resume_run(run_dir)),))
