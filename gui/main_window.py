"""The main window: docks, tabs, menus, shortcuts, files. It wires the pieces together and owns
no training logic — Train hands a copy of the experiment to the RunController.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.errors import describe
from tapedeck.engine.spec.experiment import (
    Experiment,
)
from tapedeck.engine.spec.objectives import objective_kind
from tapedeck.engine.training.events import (
    EpochEnd,
    Finished,
    GanStepInspected,
    RunNote,
    RunStarted,
    StepInspected,
    UpdateInspected,
)
from tapedeck.gui.checker import Checker
from tapedeck.gui.document import Document
from tapedeck.gui.editor.layer_editor import LayerEditor
from tapedeck.gui.editor.param_form import ParamForm
from tapedeck.gui.editor.selectors import Selectors
from tapedeck.gui.editor.settings_panel import SettingsPanel
from tapedeck.gui.runs.runs_folder import configured_runs_dir
from tapedeck.gui.tabs.code_tab import CodeView
from tapedeck.gui.tabs.data_tab import DataTab
from tapedeck.gui.tabs.model_tab import ModelView
from tapedeck.gui.tabs.predictions_tab import PredictionsPanel
from tapedeck.gui.tabs.samples_tab import SamplesPanel
from tapedeck.gui.tabs.step_tab import StepPanel
from tapedeck.gui.tabs.training_tab import TrainingPanel
from tapedeck.gui.threads.jobs import Job, running_jobs, shutdown_all
from tapedeck.gui.threads.run_controller import RunController
from tapedeck.gui.widgets import wheel_guard
from tapedeck.gui.widgets.field_names import in_window_words
from tapedeck.gui.widgets.notice import Notice
from tapedeck.gui.widgets.plot_theme import theme_plots
from tapedeck.gui.widgets.theme import palette_changed
from tapedeck.gui.window_files import FilesMixin, _in_window
from tapedeck.gui.window_session import SessionMixin

CLOSE_WAIT_MS = 10000


class MainWindow(SessionMixin, FilesMixin, QMainWindow):
    def __init__(self, experiment: Experiment | None = None, path: str | None = None,
                 settings: QSettings | None = None, runs_dir: str | None = None):
        super().__init__()
        wheel_guard.install()            # the wheel scrolls forms, never edits an unfocused box
        self.settings = settings if settings is not None else QSettings("Tapedeck", "Tapedeck")
        self.ask_to_save = True          # tests turn the "unsaved changes" question off
        self.tf_status = "Loading TensorFlow…"
        self._tf_job: Job | None = None
        self._close_when_stopped = False
        self._discarded = False          # the person answered Discard on closing
        self._closing = False
        self._run_dir: str | None = None  # the run going on (its folder), for the question on closing
        self._run_epoch = 0
        self.close_hooks: list = []      # called once the window really closes (child processes end)
        reopened_modified = False
        if experiment is None:
            experiment, path, reopened_modified = self._last_session()

        self.document = Document(experiment, path, self)
        if reopened_modified:
            self.document.undo_stack.resetClean()   # unsaved when the window closed: still unsaved
            self.document.saved_experiment = None   # and no saved version of it to go back to
        self.checker = Checker(self.document, self)
        self.controller = RunController(runs_dir or configured_runs_dir(self.settings), self)
        self._build_actions()

        self.editor = LayerEditor(self.document, self.checker, self)
        self.form = ParamForm(self.document, self.checker, self)
        self.editor.current_changed.connect(self.form.show_row)
        self.form.show_row(self.editor.current_row)
        self.settings_panel = SettingsPanel(self.document, self.checker, self)
        self.selectors = Selectors(self.document, self)
        self.training = TrainingPanel(self)
        self.predictions = PredictionsPanel(self)
        self.code = CodeView(self.document, self.checker, self)
        self.model_view = ModelView(self.document, self.checker, self)
        self.data_tab = DataTab(self.document, self)
        self.samples = SamplesPanel(self)   # a generator's grid and its judge (objective views)
        self.samples.step_requested.connect(self.step_model)
        from tapedeck.gui.tabs.environment_tab import EnvironmentPanel

        self.environment = EnvironmentPanel(lambda: self.document.experiment.objective, self)   # RL's play
        from tapedeck.gui.editor.model_switcher import ModelSwitcher

        self.model_switcher = ModelSwitcher(self.document, self.checker, self)   # several models: which one
        self.model_switcher.single_model_only = (self.editor.inputs, self.editor.head_button)

        self.tabs = QTabWidget(self)
        self.step_panel = StepPanel(self)
        self.tabs.addTab(self.training, "Training")
        self.tabs.addTab(self.step_panel, "Inside the step")
        self.tabs.addTab(self.predictions, "Predictions")
        self.tabs.addTab(self.code, "Code")
        self.tabs.addTab(self.model_view, "Model")
        self.tabs.addTab(self.data_tab, "Data")
        self.tabs.addTab(self.samples, "Samples")
        self.tabs.addTab(self.environment, "Environment")
        self.notice = Notice(self)
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.setInterval(15000)
        self._notice_timer.timeout.connect(self._notice_expired)
        self._notice_due = False   # expired during a run: hidden once the run ends
        self.selectors.refused.connect(self.show_notice)
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(self.notice)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        stack = QWidget(self)   # the model switcher (several models) over the layer stack
        stack_column = QVBoxLayout(stack)
        stack_column.setContentsMargins(0, 0, 0, 0)
        stack_column.setSpacing(0)
        stack_column.addWidget(self.model_switcher)
        stack_column.addWidget(self.editor, 1)
        self.stack_dock = self._add_dock("Layer stack", stack, Qt.LeftDockWidgetArea, "stackDock")
        self.form_dock = self._add_dock("Layer parameters", self.form, Qt.LeftDockWidgetArea, "formDock")
        self.settings_dock = self._add_dock("Data and training", self.settings_panel,
                                            Qt.LeftDockWidgetArea, "settingsDock")
        self.tabifyDockWidget(self.form_dock, self.settings_dock)
        self.form_dock.raise_()
        self._docks_sized = False
        self._build_toolbar()
        self._build_menus()
        self.status_label = QLabel(self.tf_status, self)
        self.statusBar().addPermanentWidget(self.status_label)

        self.document.changed.connect(self._update_state)
        self.document.path_changed.connect(self._update_title)
        self.document.replaced.connect(self._experiment_replaced)
        self.checker.report_changed.connect(self._update_state)
        self.checker.data_changed.connect(self._update_state)
        self.checker.data_changed.connect(self._say_data_problem)
        self._data_problem_said: str | None = None
        self.controller.event.connect(self._on_event)
        self.controller.running_changed.connect(self._running_changed)
        self.resize(1280, 800)
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        self.checker.refresh()
        self._update_title()
        self._update_state()
        from tapedeck.gui.runs.runs_menu import install_analysis  # Runs dock, Analysis tab, Runs menu

        self.analysis = install_analysis(self)
        self._restore_layout()
        self._offer_interrupted_run()
        theme_plots(self)   # the plots in the colour scheme; again when it changes and as each tab shows
        self.tabs.currentChanged.connect(lambda _index: theme_plots(self.tabs.currentWidget()))

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if palette_changed(event):
            theme_plots(self)

    # -- construction -------------------------------------------------------------------------
    def _add_dock(self, title: str, widget: QWidget, area, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.new_action = self._action("&New", self.new_experiment, [QKeySequence.New],
                                       "Start a new experiment on the offline digits")
        self.open_action = self._action("&Open…", self.open_dialog, [QKeySequence.Open],
                                        "Open an experiment file (JSON)")
        self.save_action = self._action("&Save", self.save, [QKeySequence.Save], "Save the experiment")
        self.save_as_action = self._action("Save &as…", self.save_as, [QKeySequence("Ctrl+Shift+S")],
                                           "Save the experiment under a new name")
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.Quit])
        self.undo_action = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        self.train_action = self._action("Train", self.train, ["Ctrl+Return", "Ctrl+Enter"],
                                         "Train the model (Ctrl+Enter)")
        self.pause_action = self._action("Pause", self.toggle_pause, [],
                                         "Pause the run between steps")
        self.pause_action.setCheckable(True)
        self.step_action = self._action("Step", self.step, ["F10"],
                                        "Take one training step and show it in Inside the step (F10)")
        self.stop_action = self._action("Stop", self.stop, ["Esc"], "Stop the run after the current step (Esc)")
        self.stop_action.setShortcutContext(Qt.WindowShortcut)

    def _build_toolbar(self) -> None:
        """Two toolbars: the selectors, and Train/Pause/Step/Stop. Where both do not fit on one row
        (a 1024-px screen) the run toolbar wraps to a second row (`_wrap_toolbars`) instead of hiding
        Stop behind an overflow button."""
        toolbar = QToolBar("Model and training", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(self.selectors)
        self.addToolBar(Qt.TopToolBarArea, toolbar)
        self.selectors_toolbar = toolbar
        run_bar = QToolBar("Run", self)
        run_bar.setObjectName("runToolbar")
        run_bar.setMovable(False)
        for action in (self.train_action, self.pause_action, self.step_action, self.stop_action):
            run_bar.addAction(action)
        self.addToolBar(Qt.TopToolBarArea, run_bar)
        self.run_toolbar = run_bar

    def _wrap_toolbars(self) -> None:
        """The run toolbar on the selectors' row when both fit whole, else on a row of its own."""
        if self.toolBarArea(self.run_toolbar) != Qt.TopToolBarArea:
            return
        needed = self.selectors_toolbar.sizeHint().width() + self.run_toolbar.sizeHint().width() + 16
        wrap = self.width() < needed
        if wrap != self.toolBarBreak(self.run_toolbar):
            if wrap:
                self.insertToolBarBreak(self.run_toolbar)
            else:
                self.removeToolBarBreak(self.run_toolbar)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._wrap_toolbars()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        from tapedeck.gui.editor.preset_menu import fill_preset_menu  # by data set, then model (see open_path)

        experiment = lambda: self.document.experiment   # noqa: E731
        fill_preset_menu(file_menu.addMenu("Open &preset"), _in_window, self.open_preset,
                         lambda: (experiment().model.api, experiment().training.loop))
        from tapedeck.gui.runs.import_model import ImportModelAction  # File ▸ Import model… (issue 15)

        self.model_import = ImportModelAction(self)
        file_menu.addAction(self.model_import.action)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.editor.duplicate_action)
        edit_menu.addAction(self.editor.remove_action)
        edit_menu.addAction(self.editor.up_action)
        edit_menu.addAction(self.editor.down_action)
        run_menu = self.menuBar().addMenu("&Run")
        for action in (self.train_action, self.pause_action, self.step_action, self.stop_action):
            run_menu.addAction(action)

    def show_notice(self, text: str, actions: tuple = ()) -> None:
        """A message about the last choice (e.g. why Sequential was refused), with a button per
        (label, slot) in `actions`; empty hides it."""
        self._notice_due = False
        self.notice.show_message(in_window_words(text), actions)
        self._notice_timer.stop()
        if text and not actions:      # one with a button waits for it (or Dismiss)
            self._notice_timer.start()

    def _notice_expired(self) -> None:
        """Hiding the notice re-lays out the whole window (showing it was measured as a 90-114 ms
        event-loop stall): while a run goes, it waits for the run's end."""
        if self.controller.running:
            self._notice_due = True
        else:
            self.show_notice("")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._docks_sized:   # first show: give the docks room the stack table needs
            self._docks_sized = True
            # the stack table's room (the whole digits stack at 700 px), and the tabs' at 1024 px
            self.resizeDocks([self.stack_dock], [max(340, min(450, self.width() // 3))], Qt.Horizontal)
            self.resizeDocks([self.stack_dock, self.form_dock], [390, 330], Qt.Vertical)

    # -- TensorFlow in the background -----------------------------------------------------------
    def start_background_loading(self) -> None:
        """Import TensorFlow off the GUI thread; the shape check and Train wait for it. Also build
        what was left out of the first paint (the plots)."""
        self.checker.allow_loading()
        self.training.build_plots()
        if self._tf_job is None:
            self._tf_job = Job("tapedeck-tf-import", self).start(import_tensorflow, self._tf_loaded)

    def _tf_loaded(self, versions, error) -> None:
        if error:
            self.tf_status = f"TensorFlow could not be loaded: {error}"
        else:
            self.tf_status = versions
            self.checker.set_tf_ready()
        self._update_state()

    # -- files ----------------------------------------------------------------------------------
    def report_unexpected(self, kind, error, trace) -> None:
        """sys.excepthook while the window runs: a fault in a slot shows in the window, not only on
        the terminal (where the traceback still goes)."""
        import traceback

        traceback.print_exception(kind, error, trace)
        self.show_notice(f"Something went wrong: {describe(error)} (the details are on the terminal).")

    # -- running --------------------------------------------------------------------------------
    @property
    def can_train(self) -> bool:
        return self.checker.tf_ready and self.checker.ok and not self.controller.running

    def train(self) -> None:
        if self.controller.running and self.controller.paused:   # after Step: train on from there
            self.toggle_pause()
            return
        if not self.can_train:
            self.statusBar().showMessage(self._why_not_train(), 6000)
            return
        self.tabs.setCurrentWidget(self.training)
        self.step_panel.optimizer = self.document.experiment.training.optimizer
        self.controller.start(self.document.experiment)

    def toggle_pause(self) -> None:
        if not self.controller.running:
            return
        if self.controller.paused:
            self.controller.resume()
        else:
            self.controller.pause()
        self.training.set_paused(self.controller.paused)
        self._update_state()

    def step(self) -> None:
        """One training step, then pause; starts a run (paused after its first step) when none is going."""
        if self.controller.running:
            self.controller.step()
            self.training.set_paused(False)
        elif self.can_train:
            self.step_panel.optimizer = self.document.experiment.training.optimizer
            self.controller.start(self.document.experiment, steps=1)
        else:
            self.statusBar().showMessage(self._why_not_train(), 6000)
        self._update_state()

    def show_generative_run(self, run_dir) -> None:
        """A GAN's or VAE's finished run (Runs ▸ Analyse): its figures and pictures per epoch in the Samples tab."""
        self.samples.open_run(run_dir)
        self.tabs.setTabVisible(self.tabs.indexOf(self.samples), True)
        self.tabs.setCurrentWidget(self.samples)

    def step_model(self, part: str) -> None:
        """Step D / Step G / Step both (the Samples tab): one step of that model of a GAN, then pause."""
        if self.controller.running:
            self.controller.step(1, part)
            self.training.set_paused(False)
        elif self.can_train:
            self.controller.start(self.document.experiment, steps=1, part=part)
        else:
            self.statusBar().showMessage(self._why_not_train(), 6000)
        self._update_state()

    def stop(self) -> None:
        if self.controller.running:
            self.controller.stop()
            self.statusBar().showMessage("Stopping after the current step…", 3000)
            self._update_state()

    def _on_event(self, event) -> None:
        self.training.handle(event)
        self.predictions.handle(event)
        self.step_panel.handle(event)
        self.samples.handle(event)
        self.environment.handle(event)
        if isinstance(event, (StepInspected, GanStepInspected, UpdateInspected)):   # the run pauses after this step
            self.tabs.setCurrentWidget({StepInspected: self.step_panel, GanStepInspected: self.samples,
                                        UpdateInspected: self.environment}[type(event)])
            self.training.set_paused(True)
            self._update_once_paused(100)
        if isinstance(event, (RunStarted, Finished)):
            self._note_run(event)
        if isinstance(event, RunStarted):
            self._run_dir, self._run_epoch = event.run_dir, event.initial_epoch
            precision = "" if event.precision == "float32" else f" · precision {event.precision}"
            self.statusBar().showMessage(f"Run folder: {event.run_dir}{precision}", 8000)
            if event.warnings:   # e.g. image files skipped: named at once, not only in metrics.json
                self.show_notice("\n".join(event.warnings))
        elif isinstance(event, RunNote) and event.kind in ("steps_per_execution", "data_plan"):
            # what auto chose, said at every run's start: the status line, not the notice, whose
            # appearing re-lays out the window (a 90-110 ms stall measured at run start)
            short = event.message.split(" (")[0]   # the first clause: the whole note ran under the versions at 1280 px
            if event.kind == "steps_per_execution":   # Inside the step keeps the whole note
                short += " (more in Inside the step)"
            current = self.statusBar().currentMessage()
            self.statusBar().showMessage(f"{current} · {short}" if current else short, 15000)
        elif isinstance(event, RunNote):
            self.show_notice(event.message)
        elif isinstance(event, EpochEnd):
            self._run_epoch = event.epoch
        elif isinstance(event, Finished):
            detail = f": {event.message}" if event.message and event.message != event.reason else ""
            self.statusBar().showMessage(f"Run {event.reason.replace('_', ' ')}{detail}"[:300], 15000)

    def _update_once_paused(self, tries: int) -> None:
        """The run pauses just after it reports the step (in its own thread): Train reads Continue
        once it has (a single deferred update could come first, leaving Train disabled)."""
        if self.controller.paused or not self.controller.running or tries <= 0:
            self._update_state()
        else:
            QTimer.singleShot(20, lambda: self._update_once_paused(tries - 1))

    def _say_data_problem(self) -> None:
        """A data set that does not load is said once, above the tabs, with its fixes as buttons
        (it was said in the layer list, squeezing it, and again in the settings)."""
        error = self.checker.data_error
        if error == self._data_problem_said:
            return
        said, self._data_problem_said = self._data_problem_said, error
        if not error:
            if said and self.notice.text().startswith("The data did not load"):
                self.show_notice("")
            return
        source = self.document.experiment.data.source
        panel = self.settings_panel
        actions = [] if source == "digits" else [("Use digits instead", lambda: panel._set_source("digits"))]
        if source in ("fashion_mnist", "idx", "folder"):
            actions.append(("Open the downloaded folder…", panel._open_folder))
        else:
            actions.append(("Open the downloaded file…", panel._open_file))
        self.show_notice(f"The data did not load. {error}", tuple(actions))

    def _experiment_replaced(self) -> None:
        """Another experiment opened: the last one's results leave the tabs (a run still going keeps
        its own; they are of the experiment it copied, and it says its name)."""
        if self.controller.running:
            return
        for panel in (self.training, self.predictions, self.step_panel, self.samples, self.environment):
            panel.clear_run()
        self.show_notice("")

    def _running_changed(self, running: bool) -> None:
        for widget in (self.editor, self.form, self.settings_panel):
            widget.setEnabled(not running)
        self.selectors.set_enabled_for_run(running)
        self._update_state()
        if not running and self._notice_due:
            self.show_notice("")
        self._close_once_stopped(running)

    def _close_once_stopped(self, running: bool) -> None:
        if not running and self._close_when_stopped:
            QTimer.singleShot(0, self.close)

    def _why_not_train(self) -> str:
        if self.controller.running:
            return "A run is in progress."
        waiting = self.checker.waiting_for()
        if waiting:
            return waiting
        if self.checker.data_error:
            return self.checker.data_error
        return "The model does not check yet; fix the marked layers first."

    # -- display --------------------------------------------------------------------------------
    def _update_title(self) -> None:
        self.setWindowTitle(f"Tapedeck — {self.document.display_name()}[*]")
        self.setWindowModified(self.document.modified)

    def _show_objective_views(self) -> None:
        """The tabs the experiment's objective fills (a classifier's Predictions, a GAN's Samples)."""
        views = objective_kind(self.document.experiment.objective).views
        if not self.samples.showing_run:
            self.samples.set_objective(self.document.experiment.objective.kind)
        for widget, view in ((self.predictions, "predictions"), (self.step_panel, "step"), (self.samples, "samples"),
                             (self.environment, "environment")):
            reopened = widget in (self.samples, self.environment) and widget.showing_run   # opened from its folder
            self.tabs.setTabVisible(self.tabs.indexOf(widget), view in views or reopened)

    def _update_state(self) -> None:
        self._show_objective_views()
        running = self.controller.running
        paused = running and self.controller.paused
        self.train_action.setEnabled(self.can_train or paused)
        self.step_action.setEnabled(self.can_train or running)
        # Paused, Train continues the run: it says so (it said "Train", with "Cannot train" as tip)
        self.train_action.setText("Continue" if paused else "Train")
        if paused:
            self.train_action.setToolTip("Continue the paused run (Ctrl+Enter)")
        else:
            self.train_action.setToolTip("Train the model (Ctrl+Enter)" if self.can_train
                                         else f"Cannot train: {self._why_not_train()}")
        self.pause_action.setEnabled(running)
        self.pause_action.setChecked(paused)    # one word for one thing: pressed while paused
        self.pause_action.setToolTip("Paused: Continue (or Pause again) to go on" if paused
                                     else "Pause the run between steps")
        self.stop_action.setEnabled(running)
        text = self.tf_status
        if self.checker.check_ms is not None and self.checker.report is not None:
            text += f" · check {self.checker.check_ms:.0f} ms"
        self.status_label.setText(text)
        self._update_title()

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._close_when_stopped:
            self._discarded = False
            if not self._may_stop_run() or not self._may_discard():
                event.ignore()
                return
            self._closing = True   # a run stopped now stays noted as interrupted (see _note_run)
        # Only now that the person has agreed to close: stop every job (the run, sweeps, exports,
        # analysis and data loads, the TensorFlow import) in one place, and the check waiting to start one.
        self.checker.close()
        if running_jobs():
            self.statusBar().showMessage("Stopping the run and background work…")
        if not shutdown_all(CLOSE_WAIT_MS):
            # A step or an export in progress is long: keep the process alive (hidden) until it
            # ends, rather than destroy a running QThread (which aborts the process).
            self._close_when_stopped = True
            self.hide()
            for job in running_jobs():
                job.running_changed.connect(self._close_once_stopped)
            event.ignore()
            return
        for hook in self.close_hooks:
            hook()
        # What stopping started (the runs list refreshes when a run ends) must end before the window goes:
        # a QThread destroyed while it runs aborts the process.
        shutdown_all(CLOSE_WAIT_MS)
        self._save_session()
        event.accept()

def import_tensorflow() -> str:
    """Import what training and the shape check need (off the GUI thread); the versions for the status bar."""
    import keras
    import tensorflow as tf

    return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
