"""Keeps the engine's verdict on the open experiment current: the wiring (engine.spec.graph, instant,
no TensorFlow), the dataset's shape (engine.data.datasets, in the background) and the shape check
(engine.model.check, once TensorFlow is loaded). Widgets only read `report`, `nodes`, `dataset`.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from tapedeck.engine.spec import graph
from tapedeck.gui.threads.jobs import Job
from tapedeck.gui.widgets.field_names import in_window_words


@dataclass(frozen=True)
class DataInfo:
    """What the window shows about a data set; the arrays themselves are not kept (the run loads
    its own copy, and CIFAR-100 as float32 is 600 MB)."""

    input_shape: tuple
    num_classes: int
    class_names: list
    train_size: int
    val_size: int
    test_size: int
    source: str
    warnings: list
    feeds: object = None   # engine.data.targets.Feeds: the data arrays and targets inputs and heads may name

    @classmethod
    def of(cls, dataset) -> DataInfo:
        return cls(tuple(dataset.input_shape), int(dataset.num_classes), list(dataset.class_names),
                   len(dataset.x_train), len(dataset.x_val) if dataset.x_val is not None else 0,
                   len(dataset.x_test), str(dataset.source), list(getattr(dataset, "warnings", []) or []),
                   getattr(dataset, "feeds", None))


class Checker(QObject):
    report_changed = Signal()   # nodes / graph problems / check report changed
    data_changed = Signal()     # dataset loading started, finished or failed

    DEBOUNCE_MS = 60

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self._document = document
        self.tf_ready = False
        self.loading_allowed = False   # data loads only once the window is on screen
        self.nodes: list = []
        self.graph_problems: list[tuple[int, str]] = []
        self.report = None          # engine.model.check.CheckReport or None while not computable
        self.models_report = None   # several models: engine.model.check_models.ModelsReport (``report`` is
                                    # the edited model's), problems of the others and of the objective
        self.check_error: str | None = None
        self.check_ms: float | None = None
        self.dataset: DataInfo | None = None   # shape and sizes of the current data section
        self.data_error: str | None = None
        self.data_loading = False
        self._data_key: str | None = None
        self._data_job: Job | None = None
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        document.changed.connect(self.schedule)

    # -- state -------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True when the stack (every stack) checks against the loaded data: what Train requires."""
        return (self.report is not None and self.report.ok and not self.graph_problems
                and self.dataset is not None and (self.models_report is None or self.models_report.ok))

    def problems_for_row(self, row: int) -> list[str]:
        """The row's problems, fields named as the window labels them (the engine says file keys)."""
        found = [message for index, message in self.graph_problems if index == row]
        if self.report is not None and row < len(self.report.layers):
            found += [p for p in self.report.layers[row].problems if p not in found]
        return [in_window_words(p) for p in found]

    def model_problems(self) -> list[str]:
        found = [message for index, message in self.graph_problems
                 if index is None or index < 0 or index >= len(self.nodes)]
        if self.report is not None:
            found += [p for p in self.report.problems if p not in found]
        if self.models_report is not None:   # the other models' and the objective's, named
            found += [p for p in self._other_models_problems() if p not in found]
        if self.check_error:
            found.append(self.check_error)
        return [in_window_words(p) for p in found]

    def role_ok(self, role: str) -> bool:
        """Several models: whether ``role``'s stack checks (the model switcher marks those that do not)."""
        report = self.models_report.reports.get(role) if self.models_report is not None else None
        return report is None or report.ok

    def _other_models_problems(self) -> list[str]:
        current = self._document.experiment.current_role
        found = []
        for role, report in self.models_report.reports.items():
            if role != current and not report.ok:
                found.append(f"the {role} does not check (switch to it above the layer stack): "
                             f"{report.all_problems()[0]}")
        return found + list(self.models_report.problems)

    def warnings(self) -> list[str]:
        """Worth knowing but no reason to refuse training (a layer that reaches no head)."""
        return [in_window_words(w) for w in self.report.warnings] if self.report is not None else []

    @property
    def feeds(self):
        """The loaded data set's arrays and targets (engine.data.targets.Feeds), None until it has loaded."""
        return self.dataset.feeds if self.dataset is not None else None

    def waiting_for(self) -> str | None:
        """What the check still waits for, in words; None when it has run."""
        if self.data_error:
            return None
        if not self.tf_ready:
            return "Loading TensorFlow…"
        if self.report is None:
            return "Loading data…"
        return None

    # -- work --------------------------------------------------------------------------
    def allow_loading(self) -> None:
        """Start background data loading (kept off the critical path of showing the window)."""
        self.loading_allowed = True
        self.refresh()

    def set_tf_ready(self) -> None:
        self.tf_ready = True
        self.refresh()

    def schedule(self) -> None:
        if not self._closed:
            self._timer.start()

    def close(self) -> None:
        """The window closes: an edit's pending check must not fire after it and start a data load (a QThread
        then running while the window goes, which aborts the process)."""
        self._closed = True
        self._timer.stop()
        self.loading_allowed = False

    def refresh(self) -> None:
        """Re-derive everything from the current experiment (cheap parts now, data in the background)."""
        self._timer.stop()
        experiment = self._document.experiment
        self.nodes, problems = graph.resolve_model(experiment.model)   # declared inputs and heads too
        self.graph_problems = [(index, message) for index, message in problems]
        self._ensure_data(experiment.data)
        self._run_check(experiment)
        self.report_changed.emit()

    def _run_check(self, experiment) -> None:
        self.report, self.models_report, self.check_error = None, None, None
        from tapedeck.engine.model.check import check, known_input_shape

        if self.dataset is not None:
            shape = (self.dataset.input_shape, self.dataset.num_classes)
        else:   # a named set's shape is known before its arrays have loaded
            shape = known_input_shape(experiment.data) if self.data_error is None else None
        if not self.tf_ready or shape is None:
            return

        started = time.perf_counter()
        try:
            # The loaded set's feeds save check a second look at the data files for declared inputs/heads.
            if experiment.objective.is_classify:
                self.report = check(experiment, shape[0], shape[1], api=experiment.model.api, feeds=self.feeds)
            else:   # every model, held to the objective's contract; the rows show the edited one
                from tapedeck.engine.objectives.check import check_experiment

                self.models_report = check_experiment(experiment, shape[0], shape[1])
                self.report = self.models_report.reports.get(experiment.current_role)
        except Exception as error:  # noqa: BLE001 - the engine promises not to; never crash the window
            self.check_error = f"The shape check failed unexpectedly: {type(error).__name__}: {error}"
        self.check_ms = (time.perf_counter() - started) * 1000

    def _ensure_data(self, data) -> None:
        key = json.dumps(_data_dict(data), sort_keys=True)
        if key == self._data_key or not self.loading_allowed:
            return
        self._data_key = key
        if self._data_job is not None:
            self._data_job.cancel()
        self.dataset, self.data_error, self.data_loading = None, None, True
        spec = data

        def load():
            from tapedeck.engine.data.streaming import load_for

            return DataInfo.of(load_for(spec, check_training=False)[0])   # over the budget: stays on disk

        self._data_job = Job("tapedeck-data", self).start(
            load, lambda result, error: self._data_loaded(key, result, error))
        self.data_changed.emit()

    def _data_loaded(self, key: str, dataset, error: str | None) -> None:
        if key != self._data_key:
            return
        self.data_loading = False
        self.dataset, self.data_error = dataset, in_window_words(error)
        self.data_changed.emit()
        self._run_check(self._document.experiment)
        self.report_changed.emit()


def _data_dict(data) -> dict:
    from dataclasses import asdict

    return asdict(data)
