"""The one way to run work off the GUI thread.

A job runs one plain function in its own QThread (as Orange's ``concurrent`` helpers and napari's
``thread_worker`` do): the function touches no widget, may send partial results with
``job.report(item)`` from its thread, and returns a result or raises. On the GUI thread the owner
gets ``on_partial(items)`` (every waiting item, in order: a burst costs one queued signal) and,
once the thread has ended, ``on_done(result, error_text)``. Errors written for the person
(``TapedeckError``) arrive as their own message, anything else as its type and first line.

Every running job is known to this module, so the window shuts them all down in one place on close
(``shutdown_all``) and the test fixture that fails a test leaving a QThread running sees each one.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from tapedeck.engine.errors import describe
from tapedeck.gui.threads.gc_guard import collector

_running: set[Job] = set()   # strong references: a running job must not be garbage


class _Worker(QObject):
    """Lives in the job's thread; its ``run`` slot is the only code that runs there."""

    pending = Signal()   # partial results wait in the queue (emitted from the worker thread)
    done = Signal()      # the function has returned or raised (emitted from the worker thread)

    def __init__(self, work: Callable[[], Any]):
        super().__init__()
        self._work = work
        self.result: Any = None
        self.error: str | None = None
        self.thread_name: str | None = None
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self._signalled = False

    @Slot()
    def run(self) -> None:
        self.thread_name = QThread.currentThread().objectName()
        try:
            self.result = self._work()
        except BaseException as error:  # noqa: BLE001 — handed to on_done as text
            self.error = describe(error)
        finally:
            self.done.emit()

    def report(self, item) -> None:
        with self._lock:
            self._queue.append(item)
            signal = not self._signalled
            self._signalled = True
        if signal:
            self.pending.emit()

    def drain(self) -> list:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
            self._signalled = False
        return items


class Job(QObject):
    """One function at a time in a QThread, owned by a GUI-thread object."""

    running_changed = Signal(bool)

    def __init__(self, name: str = "tapedeck-job", parent: QObject | None = None):
        super().__init__(parent)
        self._name = name
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._on_done: Callable | None = None
        self._on_partial: Callable | None = None
        self._on_cancel: Callable | None = None
        self.cancelled = threading.Event()   # the function may poll it between steps
        self.thread_name: str | None = None  # the thread the last function ran in (tests check it)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, work: Callable[[], Any], on_done: Callable[[Any, str | None], None] | None = None,
              on_partial: Callable[[list], None] | None = None,
              on_cancel: Callable[[], None] | None = None) -> Job:
        """Run ``work()`` in a new thread. ``on_cancel`` is how a cancel reaches a function that
        has its own stop signal (a training run's RunControl)."""
        if self.running:
            raise RuntimeError(f"{self._name}: a job is already running")
        thread = QThread()
        thread.setObjectName(self._name)
        worker = _Worker(work)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.pending.connect(self._drain)      # queued: the worker lives in the other thread
        worker.done.connect(self._returned)
        self._thread, self._worker = thread, worker
        self._on_done, self._on_partial, self._on_cancel = on_done, on_partial, on_cancel
        self.cancelled.clear()
        _running.add(self)
        collector.acquire()
        thread.start()
        self.running_changed.emit(True)
        return self

    def report(self, item) -> None:
        """From the job's thread: hand a partial result to the GUI thread."""
        worker = self._worker
        if worker is not None:
            worker.report(item)

    def cancel(self) -> None:
        """Ask the function to stop and drop its result (a thread cannot be interrupted)."""
        self.cancelled.set()
        self._on_done = None
        if self._on_cancel is not None:
            self._on_cancel()

    def shutdown(self, timeout_ms: int = 30000, deliver: bool = False) -> bool:
        """Cancel and wait (bounded) for the thread; True when none is left running.

        ``deliver`` still hands the partial results and the end to their callbacks (a training
        run's last events say how it ended); otherwise they are dropped."""
        if self._thread is None:
            return True
        on_done = self._on_done
        self.cancel()
        if deliver:
            self._on_done = on_done
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            return False
        self._returned()
        return True

    @Slot()
    def _drain(self) -> None:
        if self._worker is None or self._on_partial is None:
            return
        items = self._worker.drain()
        if items:
            self._on_partial(items)

    @Slot()
    def _returned(self) -> None:
        if self._thread is None:
            return
        self._drain()
        thread, worker, on_done = self._thread, self._worker, self._on_done
        thread.quit()
        thread.wait()
        self._thread, self._worker = None, None
        self._on_done = self._on_partial = self._on_cancel = None
        self.thread_name = worker.thread_name
        _running.discard(self)
        collector.release()
        self.running_changed.emit(False)
        if on_done is not None:
            on_done(worker.result, worker.error)


def running_jobs() -> list[Job]:
    return list(_running)


def shutdown_all(timeout_ms: int = 30000) -> bool:
    """Cancel every running job and wait for its thread; True when no thread is left."""
    ok = True
    for job in list(_running):
        ok = job.shutdown(timeout_ms, deliver=True) and ok
    return ok
