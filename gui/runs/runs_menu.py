"""Adds the run history and analysis to the main window, through its public attributes only:
a Runs dock, an Analysis tab, and a Runs menu (Compare the three APIs…, Sweep…, Export…).

    from tapedeck.gui.runs.runs_menu import install_analysis
    self.analysis = install_analysis(self)      # at the end of MainWindow.__init__

What it uses of the window: ``controller`` (runs_dir, running, running_changed, finished_event),
``document`` (experiment, modified, replace), ``checker`` (ok, tf_ready, dataset), ``tabs``,
``training``, ``menuBar()``, ``addDockWidget``, ``show_notice``, ``ask_to_save``, ``train_action``,
``close_hooks`` (called as the window closes: TensorBoard processes end there). Every job started here
is a ``gui.threads.jobs.Job``: the window stops them all on close.
"""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QInputDialog, QMessageBox

from tapedeck.engine.errors import TapedeckError
from tapedeck.gui.analysis.analysis_tab import AnalysisTab
from tapedeck.gui.runs.runs_folder import remember_runs_dir
from tapedeck.gui.runs.runs_panel import RunsPanel
from tapedeck.gui.runs.tensorboard import TensorBoardLauncher

ANALYSED_REASONS = ("completed", "early_stopped", "stopped", "pruned")


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
        self.last_run: str | None = None   # the run trained last in this window
        self.tensorboard = TensorBoardLauncher(self)
        self.tensorboard.url_ready.connect(self._tensorboard_ready)
        self.tensorboard.failed.connect(lambda _run, message: self.say(message))
        window.close_hooks.append(self.tensorboard.shutdown)

        self.runs_panel.open_experiment.connect(self.open_experiment)
        self.runs_panel.analyse_run.connect(self.analyse)
        self.runs_panel.message.connect(self.say)
        self.runs_panel.resume_run.connect(lambda path: self.resume_run(path))
        self.runs_panel.train_more.connect(lambda path: self.train_more(path))
        self.runs_panel.open_tensorboard.connect(lambda path: self.open_tensorboard(path))
        window.controller.running_changed.connect(self._window_run_changed)
        self._build_menu()

    def say(self, text: str) -> None:
        """A message about a run: in the Runs panel when it floats on screen (it would cover the window's
        notice), else in the window's notice."""
        if self.runs_dock.isVisible() and self.runs_dock.isFloating():
            self.runs_panel.show_problem(text)
            self.window.statusBar().showMessage(re.sub(r"<[^>]+>", "", text), 10000)
        else:
            self.window.show_notice(text)

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
        self.menu.setToolTipsVisible(True)      # a disabled Resume says why in its tooltip
        self.menu.aboutToShow.connect(self._update_continue_actions)
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
        self.resume_action = self._action("Re&sume the run", lambda: self.resume_run(),
                                          "Continue the run you are looking at from its last checkpoint")
        self.more_action = self._action("Train &more epochs…", lambda: self.train_more(),
                                        "Continue the run you are looking at for N more epochs")
        self.tensorboard_action = self._action("Open in &TensorBoard", lambda: self.open_tensorboard(),
                                               "Serve the run's TensorBoard logs and open them in the browser")
        self.menu.addSeparator()
        self.export_action = self._action("&Export…", self.export,
                                          "Export the run you are looking at: model, script, history, plots")
        self.refresh_action = self._action("&Refresh", self.runs_panel.refresh, "Re-read the runs folder")
        self.folder_action = self._action("Runs &folder…", lambda: self.choose_runs_dir(),
                                          "Choose the folder runs are written to and listed from")

    def _update_continue_actions(self) -> None:
        """Resume / Train more are enabled only for a run they can continue; otherwise their tooltip
        says why (asked as the menu opens: the run looked at changes with the tab and the selection)."""
        from tapedeck.gui.runs.runs_panel import continue_problem

        run_dir, _why = self.looked_at_run()
        for action, more, tip in ((self.resume_action, False, "Continue the run you are looking at from its "
                                   "last checkpoint"),
                                  (self.more_action, True, "Continue the run you are looking at for N more epochs")):
            reason = continue_problem(run_dir, more) if run_dir else None
            action.setEnabled(reason is None)
            action.setToolTip(f"Cannot {'continue' if more else 'resume'} {Path(run_dir).name}: {reason}"
                              if reason else tip)

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
        if finished is not None and finished.run_dir:
            self.last_run = str(finished.run_dir)
        if finished is not None and finished.run_dir and finished.reason in ANALYSED_REASONS:
            from tapedeck.gui.objective_views import objective_view

            if objective_view(finished.run_dir) is None:   # a generator's or an agent's run stays in its own tab
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
        from tapedeck.gui.objective_views import show_in_objective_view

        if show_in_objective_view(self.window, run_dir):   # a GAN's pictures, an agent's curves and replay
            return
        self.window.tabs.setCurrentWidget(self.analysis_tab)
        self.analysis_tab.open_run(run_dir)

    def _analyse_selected(self) -> None:
        paths = self.runs_panel.selected_paths()
        if len(paths) != 1:
            self.runs_dock.show()
            self.say("Select one run in the Runs panel, then Runs ▸ Analyse.")
            return
        self.analyse(paths[0])

    def choose_runs_dir(self, folder: str | None = None) -> bool:
        """Write and list runs in another folder (asked for when None); remembered in the settings."""
        window = self.window
        problem = self._queue_busy(need_check=False)
        if problem:
            self.say(f"The runs folder stays {window.controller.runs_dir} for now. {problem}")
            return False
        if folder is None:
            folder = QFileDialog.getExistingDirectory(window, "Runs folder", str(window.controller.runs_dir))
            if not folder:
                return False
        folder = str(Path(folder).expanduser().resolve())
        if Path(folder).exists() and not Path(folder).is_dir():
            self.say(f"{folder} is a file, not a folder: choose a folder for the runs.")
            return False
        window.controller.runs_dir = folder
        self.runs_panel.set_runs_dir(folder)
        self.analysis_tab.runs_dir = folder
        remember_runs_dir(window.settings, folder)
        window.statusBar().showMessage(f"Runs are written to and listed from {folder}", 8000)
        return True

    # -- queues -----------------------------------------------------------------------------------
    def _queue_busy(self, need_check: bool = True) -> str | None:
        if self.window.controller.running:
            return "A run is in progress: wait for it to finish (or stop it) first."
        if any(getattr(d, "running", False) for d in self.dialogs if hasattr(d, "controller")):
            return "A sweep or comparison is already training; stop it first."
        if need_check and not self.window.checker.ok:
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
            self.say(problem)
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

    def looked_at_run(self) -> tuple[str | None, str]:
        """The run the person is looking at, and in words why that one: the Analysis tab's run when
        that tab is on screen, the one run selected in a visible Runs panel, else the run trained
        last in this window (a selection in the hidden panel is out of sight, so it comes last)."""
        window, tab = self.window, self.analysis_tab
        paths = self.runs_panel.selected_paths()
        if window.tabs.currentWidget() is tab and tab.run_dir:
            return tab.run_dir, "open in the Analysis tab"
        if self.runs_dock.isVisible() and len(paths) == 1:
            return paths[0], "selected in the Runs panel"
        if self.last_run:
            return self.last_run, "the run just trained"
        if tab.run_dir:
            return tab.run_dir, "open in the Analysis tab"
        if len(paths) == 1:
            return paths[0], "selected in the Runs panel"
        return None, ""

    def _run_or_ask(self, what: str) -> tuple[str | None, str]:
        run_dir, why = self.looked_at_run()
        if not run_dir:
            self.runs_dock.show()
            self.say(f"Select the run to {what} in the Runs panel, then try again.")
        return run_dir, why

    def export(self):
        from tapedeck.gui.runs.export_dialog import ExportDialog

        run_dir, why = self._run_or_ask("export")
        if not run_dir:
            return None
        dialog = ExportDialog(run_dir, self.window, why=why)
        dialog.finished.connect(lambda _code, d=dialog: self._forget(d))
        self.dialogs.append(dialog)
        dialog.show()
        return dialog

    # -- continuing a run -------------------------------------------------------------------------
    def resume_run(self, run_dir: str | None = None) -> bool:
        """Continue a stopped run from its checkpoint to its planned epochs."""
        return self._continue(run_dir, None)

    def train_more(self, run_dir: str | None = None, epochs: int | None = None) -> bool:
        """Continue a run (finished or not) for ``epochs`` more (asked for when None)."""
        if epochs is None:
            epochs, ok = QInputDialog.getInt(self.window, "Train more epochs", "Epochs to add:", 5, 1, 100000)
            if not ok:
                return False
        return self._continue(run_dir, epochs)

    def _continue(self, run_dir, more) -> bool:
        window = self.window
        why = ""
        if run_dir is None:
            run_dir, why = self._run_or_ask("continue")
            if not run_dir:
                return False
        from tapedeck.engine.training.resume import resume_plan

        try:   # first what no waiting mends (the run has no checkpoint), then what does
            plan = resume_plan(run_dir, more)
        except TapedeckError as error:
            self.say(f"Cannot continue {Path(run_dir).name}: {error}")
            return False
        problem = self._queue_busy(need_check=False)
        if problem is None and not window.checker.tf_ready:
            problem = "TensorFlow is still loading; try again in a moment."
        if problem:
            self.say(problem)
            return False
        window.tabs.setCurrentWidget(window.training)
        window.controller.continue_run(plan)
        window.statusBar().showMessage(
            f"Continuing {Path(run_dir).name}{f' ({why})' if why else ''} after epoch {plan.done_epochs} "
            f"to epoch {plan.experiment.training.epochs}", 8000)
        return True

    # -- TensorBoard ------------------------------------------------------------------------------
    def open_tensorboard(self, run_dir: str | None = None) -> bool:
        if run_dir is None:
            run_dir, _why = self._run_or_ask("open in TensorBoard")
            if not run_dir:
                return False
        if self.tensorboard.open(run_dir):
            if run_dir not in self.tensorboard.urls:
                self.window.statusBar().showMessage(f"Starting TensorBoard for {Path(run_dir).name}…", 15000)
            return True
        return False

    def _tensorboard_ready(self, run_dir: str, url: str) -> None:
        self.say(f"TensorBoard for <b>{Path(run_dir).name}</b>: <a href=\"{url}\">{url}</a>")

    def _forget(self, dialog) -> None:
        if dialog in self.dialogs and not getattr(dialog, "running", False):
            self.dialogs.remove(dialog)


def install_analysis(window) -> AnalysisInstall:
    """Add the Runs dock, the Analysis tab and the Runs menu to ``window`` (a gui.main_window.MainWindow)."""
    return AnalysisInstall(window)
