"""The Analysis tab: one finished run, reopened and its test set predicted once (``engine.analysis.reopen
.open_run``, about a second, in a worker thread), shared by the confusion matrix, your own input and
the feature maps.

A run handed over while the tab is hidden (the window's run just finished) is remembered and only
loaded when the tab is first shown, so training many runs costs no analysis nobody looks at.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tapedeck.gui.analysis.confusion_view import ConfusionView
from tapedeck.gui.analysis.feature_maps_view import FeatureMapsView
from tapedeck.gui.analysis.own_input_view import OwnInputView
from tapedeck.gui.threads.jobs import Job


class AnalysisTab(QWidget):
    loaded = Signal(object)  # engine.analysis.reopen.AnalysedRun, on the GUI thread

    def __init__(self, runs_dir: str = "", parent=None):
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.analysed = None
        self.error: str | None = None
        self.run_dir: str | None = None
        self._pending: str | None = None
        self._job = Job("tapedeck-open-run", self)
        self.title = QLabel("No run open. Pick one in the Runs panel (Analyse) or open a run folder.", self)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.open_button = QPushButton("Open run folder…", self)
        self.open_button.clicked.connect(self._open_dialog)
        self.confusion = ConfusionView(self)
        self.own_input = OwnInputView(self)
        self.feature_maps = FeatureMapsView(self)
        self.pages = QTabWidget(self)
        self.pages.addTab(self.confusion, "Confusion and mistakes")
        # The canvas and the feature-map controls have fixed sizes: in a scroll area they do not set
        # the window's minimum height (a Runs panel docked below would push it past the screen).
        self.pages.addTab(_scrolling(self.own_input, self), "Your own input")
        self.pages.addTab(_scrolling(self.feature_maps, self), "Feature maps")
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.pages, 1)

    def show_page(self, view: QWidget) -> None:
        """Bring ``view`` (the confusion, own-input or feature-map view) to the front, scroll area or not."""
        for index in range(self.pages.count()):
            page = self.pages.widget(index)
            if page is view or (isinstance(page, QScrollArea) and page.widget() is view):
                self.pages.setCurrentIndex(index)
                return

    @property
    def loading(self) -> bool:
        return self._job.running

    def open_run(self, run_dir) -> None:
        """Reopen ``run_dir`` in the background; the views fill when it is done."""
        run_dir = str(run_dir)
        if self._job.running:
            self._pending = run_dir  # the newest wish wins once the current load ends
            return
        self.run_dir, self.error = run_dir, None
        self.title.setText(f"Opening <b>{Path(run_dir).name}</b>: loading its model and predicting its test set…")
        self.open_button.setEnabled(False)
        from tapedeck.engine.analysis.reopen import open_run

        self._job.start(lambda: open_run(run_dir), self._opened)

    def open_when_shown(self, run_dir) -> None:
        """Open now if the tab is on screen, else the first time it is shown."""
        if self.isVisible():
            self.open_run(run_dir)
        else:
            self._pending = str(run_dir)

    def showEvent(self, event) -> None:  # noqa: N802 — Qt's name
        super().showEvent(event)
        if self._pending and not self._job.running:
            pending, self._pending = self._pending, None
            self.open_run(pending)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        self._pending = None
        return self._job.shutdown(timeout_ms)

    def _opened(self, analysed, error) -> None:
        self.open_button.setEnabled(True)
        if error:
            self.error = error
            self.title.setText(f"Cannot analyse {self.run_dir}: {error}")
        else:
            self.analysed = analysed
            name = analysed.experiment.name
            self.title.setText(f"<b>{name}</b> — {Path(analysed.run_dir).name} · {analysed.experiment.model.api} · "
                               f"{analysed.experiment.training.loop} · {_what(analysed)}")
            self.confusion.show_run(analysed)
            self.own_input.set_run(analysed)
            self.feature_maps.set_run(analysed)
            self.loaded.emit(analysed)
        if self._pending:
            pending, self._pending = self._pending, None
            self.open_run(pending)

    def _open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", self.runs_dir)
        if path:
            from tapedeck.gui.objective_views import show_in_objective_view

            window = self.window()   # a GAN's or an agent's run goes to its own tab, as Runs ▸ Analyse sends it
            if hasattr(window, "environment") and show_in_objective_view(window, path):
                return
            self.open_run(path)


def _what(analysed) -> str:
    """"10 classes", or a several-head run's heads: "heads digit (10 classes), parity (2 classes)"."""
    if not getattr(analysed, "heads", None):
        return f"{len(analysed.class_names)} classes"
    return "heads " + ", ".join(f"{name} ({'values' if head.regression else f'{len(head.class_names)} classes'})"
                                for name, head in analysed.heads.items())


def _scrolling(page: QWidget, parent: QWidget) -> QScrollArea:
    area = QScrollArea(parent)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setWidget(page)
    return area
