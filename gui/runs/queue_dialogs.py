"""Runs > Sweep… and Runs > Compare the three APIs…: a list of experiments trained one after another
in the worker thread (``gui.threads.queue_controller``), stoppable, with the curves overlaid as runs finish.

The experiments come from the engine (``engine.queues.sweep.expand``, ``engine.queues.compare_apis.api_variants``),
which refuses a bad grid before the first run, naming the setting; the ranking is
``engine.queues.sweep.ranking``. Both dialogs are modeless: the window stays usable while they train.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
)

from tapedeck.engine.text import percent
from tapedeck.engine.training.events import EpochEnd, Finished, RunStarted
from tapedeck.gui.runs.run_curves import RunCurves
from tapedeck.gui.threads.jobs import Job
from tapedeck.gui.threads.queue_controller import QueueController
from tapedeck.gui.widgets.table_items import SortItem

PATH_ROLE = Qt.UserRole + 2


class QueueDialog(QDialog):
    """What both dialogs share: a Start/Stop pair, progress in words, the curves, a result table."""

    open_run = Signal(str)  # a run folder the person double-clicked in the table
    queue_finished = Signal(list)  # the run folders of the queue, once it is over

    def __init__(self, title: str, runs_dir: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(False)
        self.runs_dir = runs_dir
        self.controller = QueueController(runs_dir, self)
        self.controller.event.connect(self._event)
        self.controller.running_changed.connect(self._running_changed)
        self.controller.finished.connect(self._queue_over)
        self.experiments: list = []
        self.run_dirs: dict[int, str] = {}
        self.histories: dict[int, list] = {}
        self.finished_runs: list[int] = []  # queue positions whose Finished has arrived
        self.names: dict[int, str] = {}     # queue position → run name, from RunStarted
        self.planned = 0                    # runs a search will make (its experiments come one by one)
        self.start_button = QPushButton("Start", self)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip("Stop the run in progress and skip the rest of the queue")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.progress = QLabel("", self)
        self.progress.setWordWrap(True)
        self.progress.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.curves = RunCurves(self)
        self.table = QTableWidget(0, 0, self)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setSortingEnabled(True)
        self.table.itemDoubleClicked.connect(self._double_clicked)
        self.table.setToolTip("Double-click a run to analyse it")
        self.controls = QVBoxLayout()  # filled by the subclass
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.progress, 1)
        splitter = QSplitter(Qt.Vertical, self)
        splitter.addWidget(self.curves)
        splitter.addWidget(self.table)
        # The curves are the point of both dialogs; the table needs only a few rows. (Sizes, not
        # stretch factors: those apply only to later resizes, and the curves' size hint is small.)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([3000, 1000])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.addLayout(self.controls)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)
        self.resize(980, 720)

    @property
    def running(self) -> bool:
        return self.controller.running

    def experiments_to_run(self) -> list | None:
        """The subclass's list, or None after saying in ``progress`` why there is none."""
        raise NotImplementedError

    def start(self) -> bool:
        if self.controller.running:
            return False
        experiments = self.experiments_to_run()
        if not experiments:
            return False
        self.experiments = experiments
        self.run_dirs, self.histories, self.finished_runs, self.names = {}, {}, [], {}
        self.curves.show_runs([])
        self.table.setRowCount(0)
        self.progress.setText(f"Queued {len(experiments)} run(s).")
        self.controller.start(experiments)
        return True

    def stop(self) -> None:
        self.controller.stop()
        self.progress.setText(self.progress.text() + " — stopping…")

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        return self.controller.shutdown(timeout_ms)

    def closeEvent(self, event) -> None:  # noqa: N802 — Qt's name
        """Closing the dialog stops the queue (the run in progress ends "stopped", its folder kept)."""
        if self.controller.running and not self.controller.shutdown(10000):
            event.ignore()
            return
        super().closeEvent(event)

    def _running_changed(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _name(self, index: int) -> str:
        """A run's name: from its RunStarted (a search makes its experiments as it goes), else the list's."""
        if index in self.names:
            return self.names[index]
        return self.experiments[index].name if 0 <= index < len(self.experiments) else "queue"

    def _event(self, index: int, event) -> None:
        total = len(self.experiments) or self.planned
        name = self._name(index)
        if isinstance(event, RunStarted):
            self.names[index] = event.name
            self.run_dirs[index] = str(event.run_dir)
            self.histories[index] = []
            self.progress.setText(f"Run {index + 1} of {total}: {name} — started")
        elif isinstance(event, EpochEnd):
            self.histories.setdefault(index, []).append(
                {"epoch": event.epoch, "loss": event.loss, "accuracy": event.accuracy,
                 "val_loss": event.val_loss, "val_accuracy": event.val_accuracy})
            self.progress.setText(f"Run {index + 1} of {total}: {name} — epoch {event.epoch}")
            self.curves.show_runs([(self._name(i), rows) for i, rows in sorted(self.histories.items())])
        elif isinstance(event, Finished):
            if event.run_dir:
                self.run_dirs[index] = str(event.run_dir)
            self.finished_runs.append(index)
            self.progress.setText(f"Run {index + 1} of {total}: {name} — {event.reason.replace('_', ' ')}")

    def _queue_over(self, results) -> None:
        done = sum(r.reason in ("completed", "early_stopped") for r in results)
        skipped = sum(r.reason == "skipped" for r in results)
        pruned = sum(r.reason == "pruned" for r in results)
        failed = [r for r in results if r.reason == "failed"]
        text = f"Queue over: {done} of {len(results)} run(s) completed"
        if pruned:
            text += f", {pruned} pruned (below the median after an epoch)"
        if skipped:
            text += f", {skipped} skipped after the stop"
        if failed:
            text += f"; {failed[0].name} failed: {failed[0].message.splitlines()[0] if failed[0].message else ''}"
        self.progress.setText(text + ".")
        self.fill_table(results)
        self.queue_finished.emit([r.run_dir for r in results if r.run_dir])

    def fill_table(self, results) -> None:
        raise NotImplementedError

    def _double_clicked(self, item) -> None:
        path = self.table.item(item.row(), 0).data(PATH_ROLE)
        if path:
            self.open_run.emit(path)

    def _set_rows(self, headers, rows) -> None:
        """rows: lists of (text, sort key) with the run folder (or None) first."""
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(rows))
        for r, (path, cells) in enumerate(rows):
            for c, (text, key) in enumerate(cells):
                item = SortItem(text, key)
                if c == 0:
                    item.setData(PATH_ROLE, path)
                if c > 0:
                    item.setTextAlignment(Qt.AlignCenter)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        # The run folder's name is long and shares its start with the others: it gives way (elided
        # in the middle, whole in its tooltip) so the numbers on the right are never cut.
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.setTextElideMode(Qt.ElideMiddle)
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None:
                item.setToolTip(item.data(PATH_ROLE) or item.text())
        self.table.setSortingEnabled(True)
        self._fit_table()

    def _fit_table(self) -> None:
        """Every row of the result table in view (a queue holds at most a few dozen runs): the
        splitter gives the table their height and the curves the rest."""
        rows = self.table.rowCount()
        height = (self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth()
                  + sum(self.table.rowHeight(r) for r in range(rows)) + 4)
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if total <= 0:
            return
        # Between the curves (first) and the table (last) a search shows its importances in 180 px.
        middle = [180 if self.splitter.widget(i).isVisible() else 0 for i in range(1, len(sizes) - 1)]
        table = min(height, total - sum(middle) - 200)   # the curves keep 200 px
        self.splitter.setSizes([total - sum(middle) - table, *middle, table])


class SweepDialog(QueueDialog):
    """A grid over up to three settings; the ranking table fills when the queue is over."""

    def __init__(self, experiment, runs_dir: str, parent=None):
        super().__init__(f"Sweep — {experiment.name}", runs_dir, parent)
        from tapedeck.engine.queues.sweep import MAX_AXES, MAX_RUNS, sweepable_settings

        self.base = experiment.copy()
        self.settings = sweepable_settings(self.base)
        self.axes: list = []
        self.setting_boxes: list[QComboBox] = []
        self.value_edits: list[QLineEdit] = []
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>setting</b>", self), 0, 0)
        grid.addWidget(QLabel("<b>values</b> (comma-separated; random / TPE also take a range "
                              "LOW..HIGH, :log for log-uniform)", self), 0, 1)
        for row in range(MAX_AXES):
            box = QComboBox(self)
            box.addItem("(none)", None)
            for path, label, current in self.settings:
                box.addItem(f"{label} — {path} (now {current})", path)
            edit = QLineEdit(self)
            edit.setPlaceholderText("e.g. 0.001, 0.003")
            box.currentIndexChanged.connect(lambda _i, b=box, e=edit: self._suggest(b, e))
            grid.addWidget(box, row + 1, 0)
            grid.addWidget(edit, row + 1, 1)
            self.setting_boxes.append(box)
            self.value_edits.append(edit)
        grid.setColumnStretch(1, 1)
        explained = QLabel(f"Grid: every combination is trained in turn (at most {MAX_RUNS} runs). Random / TPE: "
                           "Optuna draws the trials, prunes poor ones after each epoch and keeps the study in the "
                           "runs folder (Start again resumes it). The ranking orders the runs by best validation "
                           "accuracy.", self)
        explained.setWordWrap(True)
        self.controls.addWidget(explained)
        self.controls.addLayout(grid)
        from tapedeck.gui.runs.study_view import ImportanceView, add_search_controls

        self.search_box, self.trials_box = add_search_controls(self, self.controls, MAX_RUNS)
        self.search_box.currentIndexChanged.connect(self._search_changed)
        self.importance = ImportanceView(self)
        self.splitter.insertWidget(1, self.importance)
        self.splitter.setSizes([3000, 700, 1000])
        self.trials: list = []   # TrialDone events of the search in progress
        self._search_changed()

    @property
    def search(self) -> str:
        return self.search_box.currentData()

    def _search_changed(self) -> None:
        searching = self.search != "grid"
        self.trials_box.setEnabled(searching)
        self.importance.setVisible(searching)

    def start(self) -> bool:
        if self.search == "grid":
            return super().start()
        if self.controller.running:
            return False
        axes = self._search_axes()
        if axes is None:
            return False
        self.axes, self.experiments, self.planned, self.trials = axes, [], self.trials_box.value(), []
        self.run_dirs, self.histories, self.finished_runs, self.names = {}, {}, [], {}
        self.curves.show_runs([])
        self.table.setRowCount(0)
        self.importance.show_importances({}, 0)
        self.progress.setText(f"{self.search_box.currentText()} search: up to {self.planned} trial(s).")
        self.controller.start_search(self.base, axes, self.search, self.planned)
        return True

    def _search_axes(self) -> list | None:
        from tapedeck.engine.queues.search import check_axes, parse_search_axis
        from tapedeck.engine.queues.sweep import SweepError

        axes, problems = [], []
        for box, edit in zip(self.setting_boxes, self.value_edits):
            if box.currentData() is None:
                continue
            try:
                axes.append(parse_search_axis(f"{box.currentData()}={edit.text()}"))
            except SweepError as error:
                problems += error.problems
        try:
            if problems:
                raise SweepError(problems)
            check_axes(self.base, axes)
        except SweepError as error:
            self.progress.setText("<span style='color:#b02a37'>" + "<br>".join(error.problems) + "</span>")
            return None
        return axes

    def _queue_over(self, results) -> None:
        super()._queue_over(results)
        done = self.controller.search_result
        if self.search != "grid" and done is not None and done.resumed_from:
            more = " Raise the trial count to continue it." if not results else ""
            self.progress.setText(self.progress.text() + f" The study {done.study_name} already held "
                                  f"{done.resumed_from} finished trial(s); the table ranks all {len(done.trials)}."
                                  + more)

    def _event(self, index: int, event) -> None:
        from tapedeck.engine.queues.search import TrialDone

        if not isinstance(event, TrialDone):
            super()._event(index, event)
            return
        self.trials.append(event)
        self.importance.show_importances(event.importances, len(self.trials))
        self.fill_table([event])   # the trials as they finish, ranked

    def set_axis(self, row: int, setting: str, values: str) -> None:
        """Fill one grid row as the person would (tests, and a later "sweep again")."""
        box = self.setting_boxes[row]
        box.setCurrentIndex(box.findData(setting))
        self.value_edits[row].setText(values)

    def _suggest(self, box: QComboBox, edit: QLineEdit) -> None:
        """The current value as a hint, not as text: typed values then replace it instead of
        being appended to it ("0.0030.001")."""
        current = {path: value for path, _label, value in self.settings}.get(box.currentData())
        if box.currentData() is None or current is None:
            edit.setPlaceholderText("e.g. 0.001, 0.003")
        else:
            edit.setPlaceholderText(f"now {current}; e.g. {current}, …")

    def experiments_to_run(self) -> list | None:
        from tapedeck.engine.queues.sweep import SweepError, expand, parse_axis

        axes, problems = [], []
        for box, edit in zip(self.setting_boxes, self.value_edits):
            if box.currentData() is None:
                continue
            try:
                axes.append(parse_axis(f"{box.currentData()}={edit.text()}"))
            except SweepError as error:
                problems += error.problems
        try:
            if problems:
                raise SweepError(problems)
            experiments = expand(self.base, axes)
        except SweepError as error:
            self.progress.setText("<span style='color:#b02a37'>" + "<br>".join(error.problems) + "</span>")
            return None
        self.axes = axes
        return experiments

    def fill_table(self, results) -> None:
        from tapedeck.engine.queues.sweep import ranking

        if self.search != "grid":   # every finished trial of the study (a resumed one too), else those so far
            done = self.controller.search_result
            results = done.trials if done is not None and not self.controller.running else self.trials
        ranked = ranking([r.run_dir for r in results], self.axes)
        settings = [axis.setting for axis in self.axes]
        headers = ["run", "rank", *settings, "best val acc", "epoch", "test acc", "status"]
        rows = [(row.run_dir, [(Path(row.run_dir).name, row.rank), (str(row.rank), row.rank),
                               *((_value(row.values.get(s)), row.values.get(s)) for s in settings),
                               (percent(row.best_val_accuracy), row.best_val_accuracy),
                               ("-" if row.best_epoch is None else str(row.best_epoch), row.best_epoch),
                               (percent(row.test_accuracy), row.test_accuracy),
                               (row.status.replace("_", " "), row.status)])
                for row in ranked]
        self._set_rows(headers, rows)
        self.ranked = ranked


def _value(value) -> str:
    """A setting in the ranking: a searched float to four figures (0.006466, not 0.0064664227174145595)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class CompareApisDialog(QueueDialog):
    """The same stack as Sequential, Functional and a Model subclass (optionally × both loops)."""

    def __init__(self, experiment, runs_dir: str, input_shape=None, parent=None):
        super().__init__(f"Compare the three APIs — {experiment.name}", runs_dir, parent)
        self.base = experiment.copy()
        self.input_shape = tuple(input_shape) if input_shape else None
        self.counts: dict | None = None
        self.both_loops = QCheckBox("also train each with the other loop (fit and GradientTape)", self)
        self.counts_label = QLabel("Parameter counts: computing…", self)
        self.counts_label.setWordWrap(True)
        self.controls.addWidget(QLabel("One model written three ways, trained one after another from the same "
                                       "seed: the parameter counts and curves should agree.", self))
        self.controls.addWidget(self.both_loops)
        self.controls.addWidget(self.counts_label)
        self._counts_job = Job("tapedeck-parameter-counts", self)
        self._counts_job.start(self._count, self._counted)

    def _count(self):
        from tapedeck.engine.queues.compare_apis import parameter_counts

        shape = self.input_shape
        if shape is None:
            from tapedeck.engine.data.datasets import load_dataset

            shape = load_dataset(self.base.data).input_shape
        return parameter_counts(self.base, shape)

    def _counted(self, counts, error) -> None:
        if error:
            self.counts_label.setText(f"Parameter counts could not be computed: {error}")
            return
        self.counts = counts
        parts = []
        for api, value in counts.items():
            parts.append(f"<b>{api}</b>: {value[0]:,} trainable + {value[1]:,} non-trainable"
                         if isinstance(value, tuple) else f"<b>{api}</b>: cannot build — {value}")
        self.counts_label.setText("Parameter counts — " + " · ".join(parts))

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        return self._counts_job.shutdown(timeout_ms) and super().shutdown(timeout_ms)

    def closeEvent(self, event) -> None:  # noqa: N802
        self._counts_job.shutdown(30000)
        super().closeEvent(event)

    def experiments_to_run(self) -> list | None:
        from tapedeck.engine.queues.compare_apis import api_variants

        plan = api_variants(self.base, both_loops=self.both_loops.isChecked())
        self.skipped = plan.skipped
        if plan.skipped:
            self.progress.setText(" ".join(f"{api.capitalize()} left out: {reason}" for api, reason in plan.skipped))
        return plan.experiments

    def fill_table(self, results) -> None:
        from tapedeck.engine.runs.index import read_run

        headers = ["run", "API", "loop", "trainable", "non-trainable", "best val acc", "test acc", "status"]
        rows = []
        for result, experiment in zip(results, self.experiments):
            api, loop = experiment.model.api, experiment.training.loop
            count = (self.counts or {}).get(api)
            trainable, frozen = count if isinstance(count, tuple) else (None, None)
            summary = read_run(result.run_dir) if result.run_dir else None
            best = summary.best_val_accuracy if summary else None
            test = summary.test_accuracy if summary else None
            rows.append((result.run_dir, [(Path(result.run_dir).name if result.run_dir else result.name, result.index),
                                          (api, api), (loop, loop),
                                          ("-" if trainable is None else f"{trainable:,}", trainable),
                                          ("-" if frozen is None else f"{frozen:,}", frozen),
                                          (percent(best), best), (percent(test), test),
                                          (result.reason.replace("_", " "), result.reason)]))
        same = self.identical_curves()
        if same:
            self.progress.setText(self.progress.text() + " Identical curves (drawn over each other): "
                                  + "; ".join(" = ".join(group) for group in same) + ".")
        for api, reason in getattr(self, "skipped", []):
            rows.append((None, [(f"{api}: not run", 99), (api, api), ("-", None), ("-", None), ("-", None),
                                ("-", None), ("-", None), (reason[:60], "skipped")]))
        self._set_rows(headers, rows)

    def identical_curves(self, tolerance: float = 1e-6) -> list[list[str]]:
        """Groups of runs whose epoch losses agree: the lesson made visible when one hides another."""
        import math

        def losses(index):
            return [row.get("loss") for row in self.histories.get(index, [])]

        groups: list[list[int]] = []
        for index in sorted(self.histories):
            for group in groups:
                a, b = losses(group[0]), losses(index)
                if a and len(a) == len(b) and all(
                        x is not None and y is not None and math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)
                        for x, y in zip(a, b)):
                    group.append(index)
                    break
            else:
                groups.append([index])
        return [[self.experiments[i].model.api + (f" ({self.experiments[i].training.loop})"
                                                  if self.both_loops.isChecked() else "") for i in group]
                for group in groups if len(group) > 1]
