"""The open experiment as the window sees it: one Experiment, its file, and an undo stack.

Every edit anywhere in the window goes through `Document.apply`, which pushes a snapshot
command. Snapshots (not per-field commands) keep undo exact for every kind of edit — a
reorder, a parameter typed digit by digit, a dataset change — with one small class.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from tapedeck.engine.spec.experiment import Experiment


class _Snapshot(QUndoCommand):
    """Replaces the whole experiment; consecutive edits of the same field merge into one step."""

    MERGE_ID = 0x7A9E

    def __init__(self, document: Document, before: Experiment, after: Experiment,
                 text: str, merge_key: str | None, selection: int | None, undo_selection: int | None):
        super().__init__(text)
        self._document = document
        self._before = before
        self._after = after
        self._merge_key = merge_key
        self._selection = selection
        self._undo_selection = selection if undo_selection is None else undo_selection

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.MERGE_ID if self._merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, _Snapshot) or other._merge_key != self._merge_key:
            return False
        self._after = other._after
        self._selection = other._selection
        return True

    def redo(self) -> None:
        self._document._set(self._after.copy(), self._selection)

    def undo(self) -> None:
        # The row the edit started from: undoing a move selects the layer where it is back again.
        self._document._set(self._before.copy(), self._undo_selection)


class Document(QObject):
    """Holds the experiment being edited; widgets read it and call `apply` with a changed copy."""

    changed = Signal()            # the experiment changed (edit, undo, redo, open, new)
    selection_hint = Signal(int)  # the layer row an edit or undo is about
    path_changed = Signal()
    replaced = Signal()           # another experiment (open, new, preset): not an edit of this one

    def __init__(self, experiment: Experiment, path: str | None = None, parent=None):
        super().__init__(parent)
        self._experiment = experiment
        self._path = str(path) if path else None
        self.saved_experiment: Experiment | None = experiment.copy()   # what Discard goes back to
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._clean_changed)

    @property
    def experiment(self) -> Experiment:
        """The current experiment; treat as read-only, edit through `edited()` + `apply()`."""
        return self._experiment

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def edited(self) -> Experiment:
        """A private copy to change and hand back to `apply`."""
        return self._experiment.copy()

    def apply(self, new: Experiment, text: str, merge_key: str | None = None,
              selection: int | None = None, undo_selection: int | None = None) -> None:
        """Make `new` the current experiment as one undoable step (merged with the last one
        when both carry the same `merge_key`, e.g. typing into one spin box). `selection` is the
        layer row to select after the edit (and redo), `undo_selection` the one after its undo
        (default: the same row)."""
        if new.to_dict() == self._experiment.to_dict():
            return
        self.undo_stack.push(_Snapshot(self, self._experiment.copy(), new.copy(), text,
                                       merge_key, selection, undo_selection))

    def replace(self, experiment: Experiment, path: str | None) -> None:
        """Open or new: a fresh history and a clean state."""
        self.undo_stack.clear()
        self._path = str(path) if path else None
        self._experiment = experiment
        self.saved_experiment = experiment.copy()
        self.undo_stack.setClean()
        self.changed.emit()
        self.path_changed.emit()
        self.replaced.emit()

    def select_model(self, role: str) -> None:
        """Show another of the experiment's models (a GAN's discriminator) in the editor: what is looked
        at, not an edit, so no undo step and the file stays as it was."""
        if self._experiment.current_role in (None, role):
            return
        self._experiment.select_model(role)
        self.changed.emit()

    def mark_saved(self, path: str) -> None:
        self._path = str(path)
        self.saved_experiment = self._experiment.copy()
        self.undo_stack.setClean()
        self.path_changed.emit()

    def display_name(self) -> str:
        return self._experiment.name or (Path(self._path).stem if self._path else "untitled")

    def _clean_changed(self, _clean: bool) -> None:
        self.path_changed.emit()

    def _set(self, experiment: Experiment, selection: int | None) -> None:
        self._experiment = experiment
        self.changed.emit()
        if selection is not None:
            self.selection_hint.emit(selection)
