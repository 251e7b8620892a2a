"""Several experiments trained one after another in the worker thread (sweeps, the three APIs).

The worker is ``gui.threads.run_controller.RunWorker`` with one change: it calls ``engine.queues.queue.run_queue``
instead of ``engine.training.run.run``, and every event travels with the position of its run in the
queue. Events are coalesced exactly as for a single run (one queued signal per burst). One
RunControl stops the run in progress and skips the rest.
"""
from __future__ import annotations

import traceback

from PySide6.QtCore import Signal, Slot

from tapedeck.engine.training.events import Finished
from tapedeck.gui.threads.run_controller import RunController, RunWorker


class QueueWorker(RunWorker):
    def __init__(self, experiments, control, runs_dir: str):
        super().__init__(None, control, runs_dir)
        self._experiments = [e.copy() for e in experiments]
        self.results: list = []

    @Slot()
    def run(self) -> None:
        try:
            from tapedeck.engine.queues.queue import run_queue

            self.results = run_queue(self._experiments, lambda index, event: self._report((index, event)),
                                     self._control, runs_dir=self._runs_dir)
        except BaseException as error:  # noqa: BLE001 — the engine promises not to raise; if it does, say so
            frame = traceback.format_exception_only(type(error), error)[-1].strip()
            self._report((-1, Finished("failed", f"The queue stopped with an internal error: {frame}", None)))
        finally:
            self.done.emit()


class QueueController(RunController):
    """GUI-thread owner of one queue at a time; ``event(index, engine_event)`` arrives in order.

    Threading, coalescing, pause/stop and shutdown are RunController's; only the worker, the
    shape of the relayed events and the final ``finished(results)`` differ.
    """

    event = Signal(int, object)
    finished = Signal(list)  # engine.queues.queue.QueueResult per experiment

    def __init__(self, runs_dir: str, parent=None):
        super().__init__(runs_dir, parent)
        self.results: list | None = None

    def start(self, experiments) -> None:
        self.results = None
        self._launch(lambda control: QueueWorker(experiments, control, self.runs_dir), "tapedeck-queue")

    def _relay(self, item) -> None:
        index, event = item
        self.event.emit(index, event)

    def _returned(self, worker) -> None:
        self.results = list(worker.results)
        self.finished.emit(self.results)
