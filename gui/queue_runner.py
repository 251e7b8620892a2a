"""Several experiments trained one after another in the worker thread (sweeps, the three APIs).

The worker is ``gui.worker.RunWorker`` with one change: it calls ``engine.run_queue.run_queue``
instead of ``engine.training.run``, and every event travels with the position of its run in the
queue. Events are coalesced exactly as for a single run (one queued signal per burst). One
RunControl stops the run in progress and skips the rest.
"""
from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.events import Finished
from gui.worker import RUN_SWITCH_INTERVAL, RunWorker


class QueueWorker(RunWorker):
    def __init__(self, experiments, control, runs_dir: str):
        super().__init__(None, control, runs_dir)
        self._experiments = [e.copy() for e in experiments]
        self.results: list = []

    @Slot()
    def run(self) -> None:
        try:
            from engine.run_queue import run_queue

            self.results = run_queue(self._experiments, lambda index, event: self._report((index, event)),
                                     self._control, runs_dir=self._runs_dir)
        except BaseException as error:  # noqa: BLE001 — the engine promises not to raise; if it does, say so
            frame = traceback.format_exception_only(type(error), error)[-1].strip()
            self._report((-1, Finished("failed", f"The queue stopped with an internal error: {frame}", None)))
        finally:
            self.done.emit()


class QueueController(QObject):
    """GUI-thread owner of one queue at a time; ``event(index, engine_event)`` arrives in order."""

    event = Signal(int, object)
    running_changed = Signal(bool)
    finished = Signal(list)  # engine.run_queue.QueueResult per experiment

    def __init__(self, runs_dir: str, parent=None):
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.control = None
        self.results: list | None = None
        self._thread: QThread | None = None
        self._worker: QueueWorker | None = None
        self._switch_interval = sys.getswitchinterval()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, experiments) -> None:
        if self.running:
            raise RuntimeError("a queue is already running")
        from engine.training import RunControl

        self.control = RunControl()
        self.results = None
        thread = QThread()
        thread.setObjectName("tapedeck-queue")
        worker = QueueWorker(experiments, self.control, self.runs_dir)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.pending.connect(self._drain)
        worker.done.connect(self._returned)
        self._thread, self._worker = thread, worker
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, RUN_SWITCH_INTERVAL))
        thread.start()
        self.running_changed.emit(True)

    def stop(self) -> None:
        """Stop the run in progress (it ends "stopped") and skip the runs not started yet."""
        if self.control is not None:
            self.control.stop()
            self.control.resume()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        if self._thread is None:
            return True
        self.stop()
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            return False
        self._returned()
        return True

    @Slot()
    def _drain(self) -> None:
        if self._worker is None:
            return
        for index, event in self._worker.drain():
            self.event.emit(index, event)

    @Slot()
    def _returned(self) -> None:
        if self._thread is None:
            return
        self._drain()
        thread, worker = self._thread, self._worker
        thread.quit()
        thread.wait()
        self.results = list(worker.results)
        self._thread, self._worker = None, None
        sys.setswitchinterval(self._switch_interval)
        self.running_changed.emit(False)
        self.finished.emit(self.results)
