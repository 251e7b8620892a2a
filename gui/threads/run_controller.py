"""Training off the GUI thread: a QObject moved to a QThread calls `engine.training.run.run`.

The engine's reporter runs in the worker thread; it only appends the event to a queue and, when
the queue was empty, emits one queued `pending` signal. The GUI thread drains the whole queue per
signal, so a burst of batch events costs one signal and events keep their order. The worker
touches no widget; stop and pause go through the engine's RunControl (thread-safe by design).
"""
from __future__ import annotations

import threading
import traceback
from collections import deque

import sys

from PySide6.QtCore import QObject, QThread, Signal, Slot

from tapedeck.engine.training.events import Finished
from tapedeck.gui.threads.gc_guard import collector


class RunWorker(QObject):
    pending = Signal()   # events are waiting in the queue (emitted from the worker thread)
    done = Signal()      # engine.training.run.run has returned (emitted from the worker thread)

    def __init__(self, experiment, control, runs_dir: str):
        super().__init__()
        self._experiment = experiment
        self._control = control
        self._runs_dir = runs_dir
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self._signalled = False

    @Slot()
    def run(self) -> None:
        try:
            from tapedeck.engine.training.run import run

            run(self._experiment, self._report, self._control, runs_dir=self._runs_dir)
        except BaseException as error:  # noqa: BLE001 - the engine promises not to raise; if it does, say so
            frame = traceback.format_exception_only(type(error), error)[-1].strip()
            self._report(Finished(reason="failed", message=f"Training stopped with an internal error: "
                                                          f"{frame}", run_dir=None))
        finally:
            self.done.emit()

    def _report(self, event) -> None:
        with self._lock:
            self._queue.append(event)
            signal = not self._signalled
            self._signalled = True
        if signal:
            self.pending.emit()

    def drain(self) -> list:
        """GUI thread: take every waiting event, in order."""
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
            self._signalled = False
        return events


# While a run trains, the GUI thread and the worker share the GIL. Every Qt call that releases
# and re-takes it makes the GUI thread wait up to one switch interval (5 ms by default) for the
# busy worker; a redraw makes dozens of such calls and stalled the event loop for 100+ ms.
# 1 ms keeps redraws short; the worker spends its time in TensorFlow kernels and loses ~nothing.
RUN_SWITCH_INTERVAL = 0.001


class RunController(QObject):
    """GUI-thread owner of one run at a time: starts the thread, relays events, stops cleanly."""

    event = Signal(object)        # each engine event, on the GUI thread, in order
    running_changed = Signal(bool)

    def __init__(self, runs_dir: str, parent=None):
        super().__init__(parent)
        self.runs_dir = runs_dir
        self._thread: QThread | None = None
        self._worker: RunWorker | None = None
        self.control = None
        self.finished_event: Finished | None = None
        self._switch_interval = sys.getswitchinterval()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return bool(self.control is not None and self.control.paused)

    def start(self, experiment) -> None:
        self._launch(lambda control: RunWorker(experiment.copy(), control, self.runs_dir), "tapedeck-training")

    def _launch(self, make_worker, thread_name: str) -> None:
        """Start ``make_worker(control)`` in a new QThread; subclasses run other engine functions."""
        if self.running:
            raise RuntimeError("a run is already in progress")
        from tapedeck.engine.training.run import RunControl

        self.control = RunControl()
        self.finished_event = None
        thread = QThread()
        thread.setObjectName(thread_name)
        worker = make_worker(self.control)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.pending.connect(self._drain)          # queued: worker lives in the other thread
        worker.done.connect(self._run_returned)
        self._thread, self._worker = thread, worker
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, RUN_SWITCH_INTERVAL))
        collector.acquire()
        thread.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        if self.control is not None:
            self.control.pause()

    def resume(self) -> None:
        if self.control is not None:
            self.control.resume()

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.control.resume()   # a paused run must wake up to see the stop

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the run and wait for its thread (bounded). True when no thread is left running."""
        if self._thread is None:
            return True
        self.stop()
        self._thread.quit()   # leaves the thread's event loop as soon as run() returns
        if not self._thread.wait(timeout_ms):
            return False
        self._run_returned()
        return True

    @Slot()
    def _drain(self) -> None:
        if self._worker is None:
            return
        for item in self._worker.drain():
            self._relay(item)

    def _relay(self, event) -> None:
        if isinstance(event, Finished):
            self.finished_event = event
        self.event.emit(event)

    @Slot()
    def _run_returned(self) -> None:
        if self._thread is None:
            return
        self._drain()
        thread, worker = self._thread, self._worker
        thread.quit()
        thread.wait()
        self._thread, self._worker = None, None   # finished: Python may free both now
        sys.setswitchinterval(self._switch_interval)
        collector.release()
        self.running_changed.emit(False)
        self._returned(worker)

    def _returned(self, worker) -> None:
        """Hook for subclasses, on the GUI thread once the worker's thread has ended."""
