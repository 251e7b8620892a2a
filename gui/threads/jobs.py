"""Long analysis work (reopening a run, exporting, building three models) off the GUI thread.

Like ``gui.threads.run_controller.RunWorker``: a QObject moved to a QThread runs one plain function; its ``done``
signal reaches the GUI thread queued, where the thread is quit and waited for before the result is
handed on, so no QThread is ever left running or destroyed while it runs. The worker touches no
widget. User mistakes raised by the engine arrive as their own one-line message, anything else as
its type and message — never a traceback in a dialog.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from tapedeck.gui.threads.gc_guard import collector

# Engine errors whose message is written for the person (names the thing and the fix).
USER_ERRORS = {"AnalysisError", "ExportError", "FeatureMapError", "InputError", "SweepError", "DataError",
               "ExperimentError", "RunIndexError", "BuildError", "RunFolderError"}


def describe(error: BaseException) -> str:
    text = str(error).strip()
    if type(error).__name__ in USER_ERRORS and text:
        return text
    return f"{type(error).__name__}: {text.splitlines()[0] if text else 'no message'}"


class _CallWorker(QObject):
    done = Signal()  # emitted from the worker thread; the job listens in the GUI thread

    def __init__(self, work: Callable[[], Any]):
        super().__init__()
        self._work = work
        self.result: Any = None
        self.error: str | None = None

    @Slot()
    def run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as error:  # noqa: BLE001 — reported to the person by on_done
            self.error = describe(error)
        finally:
            self.done.emit()


class ThreadJob(QObject):
    """One function at a time in a QThread; ``on_done(result, error_text)`` runs on the GUI thread."""

    running_changed = Signal(bool)

    def __init__(self, name: str = "tapedeck-analysis", parent=None):
        super().__init__(parent)
        self._name = name
        self._thread: QThread | None = None
        self._worker: _CallWorker | None = None
        self._on_done: Callable | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, work: Callable[[], Any], on_done: Callable[[Any, str | None], None]) -> None:
        if self.running:
            raise RuntimeError(f"{self._name}: a job is already running")
        thread = QThread()
        thread.setObjectName(self._name)
        worker = _CallWorker(work)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(self._returned)  # queued: the worker lives in the other thread
        self._thread, self._worker, self._on_done = thread, worker, on_done
        collector.acquire()
        thread.start()
        self.running_changed.emit(True)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Wait (bounded) for the job in progress; its result is dropped. True when no thread is left."""
        if self._thread is None:
            return True
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            return False
        self._on_done = None
        self._returned()
        return True

    @Slot()
    def _returned(self) -> None:
        if self._thread is None:
            return
        thread, worker, on_done = self._thread, self._worker, self._on_done
        thread.quit()
        thread.wait()
        self._thread, self._worker, self._on_done = None, None, None
        collector.release()
        self.running_changed.emit(False)
        if on_done is not None:
            on_done(worker.result, worker.error)
