"""The Runs panel: the runs folder as a sortable table, curves of the selected runs overlaid, the
experiment differences of the selected runs side by side, and open / analyse / delete.

Everything here reads files only (``engine.runs.index``, ``engine.spec.diff``): no TensorFlow, so the
panel fills before TensorFlow has loaded. The folder is listed in a background job
(``gui.threads.jobs.Job``) through ``engine.runs.listing``, which reads a run again only when its files
changed: a thousand runs held the GUI thread 0.4-1.1 s per refresh when they were read here.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.runs.index import RunIndexError, delete_run
from tapedeck.engine.runs.listing import RunsListing
from tapedeck.engine.spec.diff import MISSING, differences_among, experiment_differences
from tapedeck.engine.spec.experiment import ExperimentError, load_experiment
from tapedeck.engine.text import percent
from tapedeck.gui.runs.head_figures import head_figures, head_test_text
from tapedeck.gui.runs.run_curves import RunCurves
from tapedeck.gui.runs.run_labels import run_labels
from tapedeck.gui.threads.jobs import Job
from tapedeck.gui.widgets.table_items import SORT_ROLE, SortItem
from tapedeck.gui.widgets.theme import colours, palette_changed

# API, loop and execution side by side: runs of one experiment differ there first (fault 12 of issue 23)
RESUME_TIP = "Continue the run from its last checkpoint to its planned epochs"
MORE_TIP = "Continue the run for N more epochs (finished runs too)"
COLUMNS = ("name", "date", "dataset", "API", "loop", "execution", "epochs", "best val acc", "test acc", "status")
FIRST_NUMBER = COLUMNS.index("epochs")
ROWS_PER_TURN = 200    # rows added per event-loop turn (~40-60 ms on a 2-core machine)
HEAD_ROW = "test · "   # the differences table's per-head rows: "test · digit"
PATH_ROLE = Qt.UserRole + 2
STATUS_COLOURS = {"completed": "good", "early_stopped": "good", "stopped": "warn", "pruned": "warn",
                  "diverged": "bad", "failed": "bad", "incomplete": "neutral"}   # gui.widgets.theme's roles


def continue_problem(run_dir, more: bool = False) -> str | None:
    """Why the run cannot be resumed (``more``: continued for more epochs), in words; None when it can.
    Reads the run's small files only (engine.training.resume.resume_plan, no TensorFlow)."""
    from tapedeck.engine.errors import TapedeckError
    from tapedeck.engine.training.resume import resume_plan

    try:
        resume_plan(run_dir, 1 if more else None)
    except TapedeckError as error:
        text = str(error)
        for prefix in (f"{run_dir}: ", f"{Path(run_dir).name}: "):   # the panel shows which run already
            text = text.removeprefix(prefix)
        return text
    return None


def _execution(experiment) -> str | None:
    """How the run's steps ran (graph, eager, xla); files from before the setting existed ran as graphs."""
    if not isinstance(experiment, dict):
        return None
    training = experiment.get("training")
    value = training.get("execution", "graph") if isinstance(training, dict) else None
    return value if isinstance(value, str) else None


def _head_rows(chosen) -> list:
    """Several-head runs side by side: one row per head with each run's test figure ("-" where absent)."""
    figures = [head_figures(s.metrics) for s in chosen]
    names = list(dict.fromkeys(name for f in figures for name in f))
    return [(f"{HEAD_ROW}{name}", [f.get(name, "-") for f in figures]) for name in names]


def shown(value) -> str:
    """A setting's value as the differences table shows it (a whole layer as Type(params))."""
    import json

    if value is MISSING:
        return "(absent)"
    if isinstance(value, dict) and "type" in value:
        return f"{value['type']}(" + ", ".join(f"{k}={json.dumps(v)}" for k, v in value.items() if k != "type") + ")"
    return value if isinstance(value, str) else json.dumps(value)


class RunsPanel(QWidget):
    open_experiment = Signal(object)  # engine.spec.experiment.Experiment of the chosen run
    analyse_run = Signal(str)  # a run folder to open in the Analysis tab
    message = Signal(str)  # a problem in words, for the window's notice
    resume_run = Signal(str)  # continue this run folder from its checkpoint
    train_more = Signal(str)  # continue this run folder for N more epochs (the window asks N)
    open_tensorboard = Signal(str)  # serve this run folder's TensorBoard logs

    listed = Signal()  # the table shows the folder as it was when the last refresh was asked for

    def __init__(self, runs_dir: str, parent=None):
        super().__init__(parent)
        self.runs_dir = str(runs_dir)
        self.summaries = []
        self._listing = RunsListing()
        self.job = Job("tapedeck-runs-list", self)
        self._again = False           # a refresh asked while one was reading: read once more after it
        self._wanted: set[str] = set()  # runs to select once the list is in (select_paths while listing)
        self._keep_selected: set[str] = set()   # selected when the list came in: selected again after
        self._shown: dict = {}          # run folder → the summary its row shows
        self._pending: list = []        # summaries whose rows wait for the event loop's next turn
        self._announce = False          # emit `listed` once the rows are in
        self._more_rows = QTimer(self)
        self._more_rows.setSingleShot(True)
        self._more_rows.setInterval(0)
        self._more_rows.timeout.connect(self._add_rows)
        self.labels: list[str] = []   # the selected runs' legend names (gui.runs.run_labels)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setSortingEnabled(True)
        self.table.sortItems(1, Qt.DescendingOrder)  # newest first
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setResizeContentsPrecision(100)   # widths from the first 100 rows, not all of them
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.analyse_selected())

        self.refresh_button = QPushButton("Refresh", self)
        self.open_button = QPushButton("Open in editor", self)
        self.analyse_button = QPushButton("Analyse", self)
        self.resume_button = QPushButton("Resume", self)
        self.more_button = QPushButton("Train more…", self)
        self.tensorboard_button = QPushButton("TensorBoard", self)
        self.resume_button.setToolTip(RESUME_TIP)
        self.more_button.setToolTip(MORE_TIP)
        self.tensorboard_button.setToolTip("Open the run's TensorBoard logs in the browser")
        self.delete_button = QPushButton("Delete…", self)
        self.open_button.setToolTip("Load the run's experiment into the editor")
        self.analyse_button.setToolTip("Confusion matrix, mistakes, your own input and feature maps of this run")
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self.open_selected)
        self.analyse_button.clicked.connect(self.analyse_selected)
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        for button, signal in ((self.resume_button, self.resume_run), (self.more_button, self.train_more),
                               (self.tensorboard_button, self.open_tensorboard)):
            button.clicked.connect(lambda _checked=False, s=signal: self._emit_for_one(s))
        buttons = QHBoxLayout()
        for button in (self.refresh_button, self.open_button, self.analyse_button, self.resume_button,
                       self.more_button, self.tensorboard_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.hint = QLabel("", self)
        self.hint.setStyleSheet(f"color: {colours()['muted']}")
        buttons.addWidget(self.hint)
        # What the panel's own actions have to say: shown here, in the panel, because the panel usually
        # floats over the window and would hide the window's notice (fault 7 of issue 23).
        self.problem = QLabel("", self)
        self.problem.setObjectName("runsPanelProblem")
        self.problem.setWordWrap(True)
        self.problem.setOpenExternalLinks(True)     # TensorBoard's address
        self.problem.hide()

        self.curves = RunCurves(self)
        self.differences = QTableWidget(0, 3, self)
        self.differences.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.differences.verticalHeader().hide()
        self.differences.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        # Headers are "name\nwhat differs", sized to their text (the table scrolls sideways): eliding
        # cut multi-line headers to "…" (issue 23, fault 12).
        self.differences.horizontalHeader().setTextElideMode(Qt.ElideNone)
        self.differences.setWordWrap(True)
        self.differences_title = QLabel("<b>Experiment differences</b> — select two or more runs", self)
        lower = QWidget(self)
        diff_column = QVBoxLayout()
        diff_column.addWidget(self.differences_title)
        diff_column.addWidget(self.differences, 1)
        lower_row = QHBoxLayout(lower)
        lower_row.setContentsMargins(0, 0, 0, 0)
        lower_row.addWidget(self.curves, 3)
        lower_row.addLayout(diff_column, 2)

        top = QWidget(self)
        top_column = QVBoxLayout(top)
        top_column.setContentsMargins(0, 0, 0, 0)
        top_column.addLayout(buttons)
        top_column.addWidget(self.problem)
        top_column.addWidget(self.table, 1)
        splitter = QSplitter(Qt.Vertical, self)
        splitter.addWidget(top)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([240, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.refresh()

    # -- the table ---------------------------------------------------------------------------------
    @property
    def listing(self) -> bool:
        """True until the table shows the folder as it is now (a refresh is reading it, or its rows
        are still being added)."""
        return self.job.running or self._again or bool(self._pending)

    def refresh(self) -> None:
        """Re-read the runs folder in the background; the table follows when it is read, keeping the
        selected runs selected."""
        if self.job.running:
            self._again = True
            return
        self._again = False
        runs_dir, listing = self.runs_dir, self._listing
        if not self.summaries:
            self.hint.setText(f"reading {runs_dir}…")
        self.job.start(lambda: listing.list(runs_dir), self._listed)

    def set_runs_dir(self, runs_dir: str) -> None:
        """List another runs folder (the person chose it in Runs ▸ Runs folder…)."""
        self.runs_dir = str(runs_dir)
        self.summaries, self._pending, self._shown = [], [], {}
        self.table.setRowCount(0)
        self.refresh()

    def _listed(self, summaries, error: str | None) -> None:
        if error:
            summaries = []
            self.message.emit(error)
        again, self._again = self._again, False
        self._fill(summaries, final=not again)
        if again:              # asked again while it was read: this list is shown, and read once more
            self.refresh()

    def _fill(self, summaries, final: bool = True) -> None:
        """Show ``summaries``, touching only the rows of runs that changed (the listing hands back the
        same summary object for a run whose files did not change), new rows ROWS_PER_TURN at a time:
        building a thousand rows at once held the GUI thread 0.2-0.5 s."""
        self._more_rows.stop()         # rows of an earlier list still waiting: this list decides
        self._keep_selected |= set(self.selected_paths())
        self.summaries = list(summaries)
        new = {str(s.path): s for s in self.summaries}
        self.table.setSortingEnabled(False)
        stale = [row for row in range(self.table.rowCount())
                 if new.get(path := self.table.item(row, 0).data(PATH_ROLE)) is not self._shown.get(path)]
        if len(stale) > self.table.rowCount() // 2:   # most rows changed: one reset beats a removal each
            self.table.setRowCount(0)
            self._shown = {}
        else:
            for row in reversed(stale):
                self._shown.pop(self.table.item(row, 0).data(PATH_ROLE), None)
                self.table.removeRow(row)
        self._pending = [s for path, s in new.items() if self._shown.get(path) is not s]
        self._announce = final
        self._add_rows()

    def _add_rows(self) -> None:
        """The next ROWS_PER_TURN waiting rows; the rest after the event loop's next turn."""
        chunk, self._pending = self._pending[:ROWS_PER_TURN], self._pending[ROWS_PER_TURN:]
        first = self.table.rowCount()
        self.table.setRowCount(first + len(chunk))
        for row, summary in enumerate(chunk, start=first):
            self._set_row(row, summary)
            self._shown[str(summary.path)] = summary
        if self._pending:
            self._more_rows.start()
            return
        self.table.setSortingEnabled(True)
        selected = self._keep_selected | self._wanted
        self._keep_selected, self._wanted = set(), set()
        self.table.blockSignals(True)
        self.table.clearSelection()
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(PATH_ROLE) in selected:
                self._add_row_to_selection(row)
        self.table.blockSignals(False)
        self._selection_changed()
        self.hint.setText(f"{len(self.summaries)} run(s) in {self.runs_dir}")
        if self._announce and not self.job.running:
            self.listed.emit()

    def _set_row(self, row: int, s) -> None:
        epochs = "-" if s.epochs is None else f"{s.epochs}/{s.epochs_planned}" if s.epochs_planned else str(s.epochs)
        execution = _execution(s.experiment)
        cells = (SortItem(s.name, s.name.lower()), SortItem(s.date, s.date), SortItem(s.dataset or "-", s.dataset),
                 SortItem(s.api or "-", s.api), SortItem(s.loop or "-", s.loop),
                 SortItem(execution or "-", execution), SortItem(epochs, s.epochs),
                 SortItem(percent(s.best_val_accuracy), s.best_val_accuracy),
                 SortItem(head_test_text(s.metrics) or percent(s.test_accuracy), s.test_accuracy),
                 SortItem(s.status.replace("_", " "), s.status))
        cells[0].setData(PATH_ROLE, str(s.path))
        tip = f"{s.path}" + (f"\n{s.note}" if s.note else "")
        for column, item in enumerate(cells):
            item.setToolTip(tip)
            if column >= FIRST_NUMBER:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.table.setItem(row, column, item)
        cells[-1].setForeground(QColor(colours()[STATUS_COLOURS.get(s.status, "neutral")]))

    def _add_row_to_selection(self, row: int) -> None:
        index = self.table.model().index(row, 0)
        self.table.selectionModel().select(index, QItemSelectionModel.Select | QItemSelectionModel.Rows)

    def select_paths(self, paths) -> None:
        """Select exactly these run folders (tests, and the queue dialogs' "show in Runs"); while a
        refresh reads the folder, once the list is in."""
        wanted = {str(Path(p)) for p in paths}
        if self.listing:
            self._wanted, self._keep_selected = wanted, set()
        self.table.clearSelection()
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(PATH_ROLE) in wanted:
                self._add_row_to_selection(row)

    def selected_paths(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.table.item(row, 0).data(PATH_ROLE) for row in rows if self.table.item(row, 0)]

    def selected_summaries(self) -> list:
        by_path = {str(s.path): s for s in self.summaries}
        return [by_path[p] for p in self.selected_paths() if p in by_path]

    # -- what the selection shows ------------------------------------------------------------------
    def _selection_changed(self) -> None:
        self.show_problem("")      # it was about the runs selected before
        chosen = self.selected_summaries()
        self.labels = run_labels(chosen)
        self.curves.show_runs(list(zip(self.labels, [s.history for s in chosen])))
        one = len(chosen) == 1
        for button in (self.open_button, self.analyse_button, self.tensorboard_button):
            button.setEnabled(one)
        for button, tip, more in ((self.resume_button, RESUME_TIP, False), (self.more_button, MORE_TIP, True)):
            reason = continue_problem(chosen[0].path, more) if one else None
            button.setEnabled(one and reason is None)
            button.setToolTip(f"Cannot {'continue' if more else 'resume'} this run: {reason}" if reason else tip)
        self.delete_button.setEnabled(bool(chosen))
        self._show_differences(chosen)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if palette_changed(event):   # light ⇄ dark: the status words and the hint take the new colours
            self.hint.setStyleSheet(f"color: {colours()['muted']}")
            column = COLUMNS.index("status")
            for row in range(self.table.rowCount()):
                item = self.table.item(row, column)
                if item is not None:
                    item.setForeground(QColor(colours()[STATUS_COLOURS.get(item.data(SORT_ROLE), "neutral")]))

    def show_problem(self, text: str) -> None:
        """A message about the panel's own action, in the panel (empty hides it)."""
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def _show_differences(self, chosen) -> None:
        self.differences.clearContents()
        experiments = [s.experiment for s in chosen]
        if len(chosen) < 2 or any(e is None for e in experiments):
            self.differences.setRowCount(0)
            self.differences.setColumnCount(3)
            self.differences.setHorizontalHeaderLabels(("setting", "", ""))
            self.differences_title.setText("<b>Experiment differences</b> — select two or more runs")
            return
        if len(chosen) == 2:
            rows = [(d.path, [d.left, d.right]) for d in experiment_differences(*experiments)]
            heads = {p for p, _ in rows if p.startswith("model.layers[") and p.endswith("]")}
            rows = [(p, v) for p, v in rows
                    if not (p.startswith("model.layers[") and not p.endswith("]") and p[: p.index("]") + 1] in heads)]
        else:
            rows = differences_among(experiments)
        rows = _head_rows(chosen) + rows
        # "name · what differs" on two lines: the header grows taller, not cut ("…cnn · functio")
        titles = [label.replace(" · ", "\n", 1) for label in run_labels(chosen)]
        self.differences.setColumnCount(1 + len(chosen))
        self.differences.setHorizontalHeaderLabels(["setting", *titles])
        for column, summary in enumerate(chosen, start=1):
            self.differences.horizontalHeaderItem(column).setToolTip(str(summary.path))
        self.differences.setRowCount(len(rows))
        for row, (path, values) in enumerate(rows):
            self.differences.setItem(row, 0, QTableWidgetItem(path))
            for column, value in enumerate(values, start=1):
                item = QTableWidgetItem(shown(value))
                item.setToolTip(shown(value))
                self.differences.setItem(row, column, item)
        # Each column as wide as its header and values (scrolling sideways when they do not fit)
        # rather than stretched columns that cut the run names off.
        header = self.differences.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.differences.resizeRowsToContents()
        settings = len([path for path, _values in rows if not path.startswith(HEAD_ROW)])
        self.differences_title.setText(f"<b>Experiment differences</b> — {settings} setting(s) differ"
                                       if settings else "<b>Experiment differences</b> — the experiments are identical")

    def difference_keys(self) -> list[str]:
        """The settings that differ (without the per-head test rows, which are figures, not settings)."""
        return [key for key in self._difference_rows() if not key.startswith(HEAD_ROW)]

    def _difference_rows(self) -> list[str]:
        return [self.differences.item(r, 0).text() for r in range(self.differences.rowCount())]

    # -- actions -----------------------------------------------------------------------------------
    def open_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) != 1:
            return
        try:
            experiment = load_experiment(Path(paths[0]) / "experiment.json")
        except ExperimentError as error:
            self.message.emit(f"Cannot open this run's experiment: {error}")
            return
        self.open_experiment.emit(experiment)

    def _emit_for_one(self, signal) -> None:
        paths = self.selected_paths()
        if len(paths) == 1:
            signal.emit(paths[0])

    def analyse_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1:
            self.analyse_run.emit(paths[0])

    def delete_selected(self, confirm: bool = True) -> list[str]:
        """Delete the selected runs after one confirmation; returns the folders removed."""
        paths = self.selected_paths()
        if not paths:
            return []
        if confirm:
            names = "\n".join(Path(p).name for p in paths[:10]) + ("\n…" if len(paths) > 10 else "")
            answer = QMessageBox.question(self, "Delete runs",
                                          f"Delete {len(paths)} run folder(s) and everything in them?\n\n{names}",
                                          QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
            if answer != QMessageBox.Yes:
                return []
        removed = []
        for path in paths:
            try:
                delete_run(path)
                removed.append(path)
            except (RunIndexError, OSError) as error:
                self.message.emit(f"Cannot delete {path}: {error}")
        self.table.clearSelection()
        self.refresh()
        return removed
