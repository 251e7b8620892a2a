"""Several experiments trained one after another off the GUI thread (sweeps, the three APIs).

RunController with another function: ``engine.queues.queue.run_queue`` instead of a single run,
and every event travels with the position of its run in the queue. Events are coalesced exactly
as for a single run; one RunControl stops the run in progress and skips the rest. The function
is handed to the job (never a Qt slot overridden in a subclass), so it runs in the job's thread.
"""
from __future__ import annotations

from PySide6.QtCore import Signal

from tapedeck.engine.training.events import Finished
from tapedeck.gui.threads.run_controller import RunController


class QueueController(RunController):
    """GUI-thread owner of one queue at a time; ``event(index, engine_event)`` arrives in order."""

    event = Signal(int, object)
    finished = Signal(list)  # engine.queues.queue.QueueResult per experiment
    thread_name = "tapedeck-queue"

    def __init__(self, runs_dir: str, parent=None):
        super().__init__(runs_dir, parent)
        self.results: list | None = None
        self.search_result = None   # engine.queues.search.SearchResult after start_search

    def start(self, experiments) -> None:
        self.results = None
        experiments = [e.copy() for e in experiments]
        self._launch(lambda control: self._train_all(experiments, control))

    def _train_all(self, experiments, control) -> list:
        from tapedeck.engine.queues.queue import run_queue

        return run_queue(experiments, lambda index, event: self.job.report((index, event)), control,
                         runs_dir=self.runs_dir)

    def start_search(self, experiment, axes, search: str, trials: int) -> None:
        """A random / TPE search (``engine.queues.search.run_search``) instead of a fixed list; its trials
        arrive as queue positions, each followed by a ``TrialDone`` event. ``search_result`` once over."""
        self.results = None
        self.search_result = None
        experiment, axes = experiment.copy(), list(axes)
        self._launch(lambda control: self._search(experiment, axes, search, int(trials), control))

    def _search(self, experiment, axes, search, trials, control) -> list:
        from tapedeck.engine.queues.search import run_search

        self.search_result = run_search(experiment, axes, search, trials,
                                        lambda index, event: self.job.report((index, event)), control,
                                        runs_dir=self.runs_dir)
        return self.search_result.results

    def _relay(self, item) -> None:
        index, event = item
        self.event.emit(index, event)

    def _internal_error(self, error: str):
        return (-1, Finished("failed", f"The queue stopped with an internal error: {error}", None))

    def _returned(self, result) -> None:
        self.results = list(result or [])
        self.finished.emit(self.results)
