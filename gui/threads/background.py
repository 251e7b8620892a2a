"""Short background jobs (importing TensorFlow, loading a dataset) whose results come back to
the GUI thread.

A plain daemon thread does the work and a main-thread QTimer polls for the result, so no Qt
object ever crosses threads and nothing here can outlive the window as a running QThread.
"""
from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer

from tapedeck.gui.threads.gc_guard import collector


class Job(QObject):
    """Runs `work()` in a daemon thread; calls `on_done(result, error_text)` on the GUI thread."""

    POLL_MS = 30

    def __init__(self, work: Callable[[], Any], on_done: Callable[[Any, str | None], None],
                 parent: QObject | None = None, name: str = "tapedeck-job"):
        super().__init__(parent)
        self._work = work
        self._on_done = on_done
        self._result: Any = None
        self._error: str | None = None
        self._finished = threading.Event()
        self._cancelled = False
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "Job":
        collector.acquire()
        self._thread.start()
        self._timer.start()
        return self

    def cancel(self) -> None:
        """Forget the result (the thread cannot be interrupted; it just finishes unseen)."""
        self._cancelled = True

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def _run(self) -> None:
        try:
            self._result = self._work()
        except Exception as error:  # noqa: BLE001 - reported to the user by on_done
            self._error = _describe(error)
        finally:
            self._finished.set()

    def _poll(self) -> None:
        if not self._finished.is_set():
            return
        self._timer.stop()
        collector.release()
        if not self._cancelled:
            self._on_done(self._result, self._error)


def _describe(error: Exception) -> str:
    """User errors carry their own clear message; anything else gets its type and last frame."""
    text = str(error).strip()
    if type(error).__name__ in {"DataError", "ExperimentError", "BuildError"} and text:
        return text
    frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno})" if frame else ""
    return f"{type(error).__name__}: {text or 'no message'}{where}"


def import_tensorflow() -> str:
    """Import what training and the shape check need; returns the versions for the status bar."""
    import keras
    import tensorflow as tf

    return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
