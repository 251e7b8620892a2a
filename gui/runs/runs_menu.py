"""Adds the run history and analysis to the main window, through its public attributes only:
a Runs dock, an Analysis tab, and a Runs menu (Compare the three APIs…, Sweep…, Export…).

    from tapedeck.gui.runs.runs_menu import install_analysis
    self.analysis = install_analysis(self)      # at the end of MainWindow.__init__

What it uses of the window: ``controller`` (runs_dir, running, running_changed, finished_event),
``document`` (experiment, modified, replace), ``checker`` (ok, dataset), ``tabs``, ``training``
(its plots, for the exports), ``menuBar()``, ``addDockWidget``, ``show_notice``, ``ask_to_save``,
``train_action``. Every job started here is a ``gui.threads.jobs.Job``: the window stops them all on close.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMessageBox

from tapedeck.gui.analysis.analysis_tab import AnalysisTab
from tapedeck.gui.runs.runs_panel import RunsPanel

ANALYSED_REASONS = ("completed", "early_stopped", "stopped")


class AnalysisInstall(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        runs_dir = str(window.controller.runs_dir)
        self.runs_panel = RunsPanel(runs_dir, window)
        self.runs_dock = QDockWidget("Runs", window)
        self.runs_dock.setObjectName("runsDock")
        self.runs_dock.setWidget(self.runs_panel)
        self.runs_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                                   | QDockWidget.DockWidgetClosable)
        window.addDockWidget(Qt.BottomDockWidgetArea, self.runs_dock)
        # The panel needs ~1000x500 to be readable and the window's editor and plots already fill
        # 1280x800: docked at the bottom it would push the window taller than the screen. So it starts
        # hidden and floating over the window (Runs ▸ Runs panel, Ctrl+Shift+R); double-click its title
        # bar to dock it.
        self.runs_dock.setFloating(True)
        self.runs_dock.hide()
        self._dock_placed = False
        self.runs_dock.visibilityChanged.connect(self._place_dock)
        self.analysis_tab = AnalysisTab(runs_dir, window)
        window.tabs.addTab(self.analysis_tab, "Analysis")
        self.dialogs: list = []  # open sweep / compare / export dialogs (their threads are ours to stop)

        self.runs_panel.open_experiment.connect(self.open_experiment)
        self.runs_panel.analyse_run.connect(self.analyse)
        self.runs_panel.message.connect(window.show_notice)
        window.controller.running_changed.connect(self._window_run_changed)
        self._build_menu()

    def _place_dock(self, visible: bool) -> None:
        if visible and not self._dock_placed and self.runs_dock.isFloating():
            self._dock_placed = True
            frame = self.window.frameGeometry()
            width, height = min(1100, frame.width() - 60), min(620, frame.height() - 120)
            self.runs_dock.resize(width, height)
            self.runs_dock.move(frame.center().x() - width // 2, frame.center().y() - height // 2)

    # -- menu -------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        window = self.window
        self.menu = window.menuBar().addMenu("R&uns")
        panel = self.runs_dock.toggleViewAction()
        panel.setText("Runs &panel")
        panel.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.menu.addAction(panel)
        self.analyse_action = self._action("&Analyse the selected run", self._analyse_selected,
                                           "Confusion matrix, mistakes, your own input and feature maps")
        self.menu.addSeparator()
        self.compare_action = self._action("&Compare the three APIs…", self.compare_apis,
                                           "Train the stack as Sequential, Functional and a Model subclass")
        self.sweep_action = self._action("S&weep…", self.sweep, "Train a small grid over up to three settings")
        self.menu.addSeparator()
        self.export_action = self._action("&Export…", self.export,
                                          "Export the selected (or last) run: model, script, history, plots")
        self.refresh_action = self._action("&Refresh", self.runs_panel.refresh, "Re-read the runs folder")

    def _action(self, text, slot, tip) -> QAction:
        action = QAction(text, self.window)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    # -- runs -------------------------------------------------------------------------------------
    def _window_run_changed(self, running: bool) -> None:
        if running:
            return
        self.runs_panel.refresh()
        finished = self.window.controller.finished_event
        if finished is not None and finished.run_dir and finished.reason in ANALYSED_REASONS:
            self.last_run = str(finished.run_dir)
            self.analysis_tab.open_when_shown(finished.run_dir)

    def open_experiment(self, experiment) -> None:
        """A run's experiment into the editor (as a new, unsaved document)."""
        document = self.window.document
        if document.modified and self.window.ask_to_save:
            answer = QMessageBox.question(self.window, "Unsaved changes",
                                          f"Replace {document.display_name()} (unsaved) with the run's experiment?",
                                          QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
            if answer != QMessageBox.Yes:
                return
        document.replace(experiment, None)
        self.window.statusBar().showMessage(f"Opened the experiment of run {experiment.name}", 6000)

    def analyse(self, run_dir) -> None:
        self.window.tabs.setCurrentWidget(self.analysis_tab)
        self.analysis_tab.open_run(run_dir)

    def _analyse_selected(self) -> None:
        paths = self.runs_panel.selected_paths()
        if len(paths) != 1:
            self.runs_dock.show()
            self.window.show_notice("Select one run in the Runs panel, then Runs ▸ Analyse.")
            return
        self.analyse(paths[0])

    # -- queues -----------------------------------------------------------------------------------
    def _queue_busy(self) -> str | None:
        if self.window.controller.running:
            return "A run is in progress: wait for it to finish (or stop it) before starting a queue."
        if any(getattr(d, "running", False) for d in self.dialogs if hasattr(d, "controller")):
            return "A sweep or comparison is already training; stop it first."
        if not self.window.checker.ok:
            return "The model does not check yet; fix the marked layers before comparing or sweeping."
        return None

    def compare_apis(self):
        from tapedeck.gui.runs.queue_dialogs import CompareApisDialog

        return self._open_queue(lambda experiment, runs_dir: CompareApisDialog(
            experiment, runs_dir, getattr(self.window.checker.dataset, "input_shape", None), self.window))

    def sweep(self):
        from tapedeck.gui.runs.queue_dialogs import SweepDialog

        return self._open_queue(lambda experiment, runs_dir: SweepDialog(experiment, runs_dir, self.window))

    def _open_queue(self, make):
        problem = self._queue_busy()
        if problem:
            self.window.show_notice(problem)
            return None
        dialog = make(self.window.document.experiment, str(self.window.controller.runs_dir))
        dialog.open_run.connect(self.analyse)
        dialog.queue_finished.connect(lambda _dirs: self.runs_panel.refresh())
        dialog.controller.running_changed.connect(self._queue_running)
        dialog.finished.connect(lambda _code, d=dialog: self._forget(d))
        self.dialogs.append(dialog)
        dialog.show()
        return dialog

    def _queue_running(self, running: bool) -> None:
        # One training at a time on a desktop: Train waits for the queue (the window re-enables it
        # on its next state update, which the queue's end triggers through the check).
        self.window.train_action.setEnabled(not running and self.window.can_train)
        if not running:
            self.runs_panel.refresh()

    def export(self):
        from tapedeck.gui.runs.export_dialog import ExportDialog

        paths = self.runs_panel.selected_paths()
        run_dir = paths[0] if len(paths) == 1 else (self.analysis_tab.run_dir or getattr(self, "last_run", None))
        if not run_dir:
            self.runs_dock.show()
            self.window.show_notice("Select the run to export in the Runs panel, then Runs ▸ Export….")
            return None
        dialog = ExportDialog(run_dir, self.plot_items(), self.window)
        dialog.finished.connect(lambda _code, d=dialog: self._forget(d))
        self.dialogs.append(dialog)
        dialog.show()
        return dialog

    def plot_items(self) -> dict:
        """The plots on screen by file name: the training plots (when built) and the runs overlay."""
        items = {}
        training = self.window.training
        for name in ("loss_plot", "acc_plot", "lr_plot"):
            widget = getattr(training, name, None)
            if widget is not None:
                items[f"training-{name[:-5]}"] = widget.getPlotItem()
        items.update(self.runs_panel.curves.plot_items())
        return items

    def _forget(self, dialog) -> None:
        if dialog in self.dialogs and not getattr(dialog, "running", False):
            self.dialogs.remove(dialog)


def install_analysis(window) -> AnalysisInstall:
    """Add the Runs dock, the Analysis tab and the Runs menu to ``window`` (a gui.main_window.MainWindow)."""
    return AnalysisInstall(window)
