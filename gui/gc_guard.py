"""Cyclic garbage collection on the GUI thread only, while worker threads run.

Python's cyclic collector runs in whichever thread happens to allocate. When it frees a Qt
object caught in a reference cycle (a closed dialog, an old window) on a worker thread,
~QObject takes Qt's locks there and then waits for the GIL, while the GUI thread holds the GIL
and waits for the same lock: a deadlock (seen in the suite — the worker in ~QObject inside
``gc_collect_main`` during a tf.data trace, the GUI thread deleting a QMenu). pyqtgraph's
``GarbageCollector`` avoids it for a whole program by turning automatic collection off and
collecting from a timer; this does the same, but only while at least one worker runs, so the
rest of the time Python collects as usual.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QTimer

INTERVAL_MS = 250


class _GuiThreadCollector:
    def __init__(self):
        self._holders = 0
        self._timer: QTimer | None = None
        self._threshold = gc.get_threshold()

    @property
    def active(self) -> bool:
        return self._holders > 0

    def acquire(self) -> None:
        """Call on the GUI thread before starting a worker thread."""
        self._holders += 1
        if self._holders > 1:
            return
        self._threshold = gc.get_threshold()
        gc.disable()
        if self._timer is None:
            self._timer = QTimer()
            self._timer.setInterval(INTERVAL_MS)
            self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    def release(self) -> None:
        """Call on the GUI thread once that worker thread has ended."""
        if self._holders == 0:
            return
        self._holders -= 1
        if self._holders == 0:
            self._timer.stop()
            gc.enable()

    def collect_due(self) -> None:
        """Collect the generations whose counts passed their thresholds, as Python itself would."""
        counts = gc.get_count()
        for generation in range(3):
            if counts[generation] <= self._threshold[generation]:
                break
            gc.collect(generation)


collector = _GuiThreadCollector()
