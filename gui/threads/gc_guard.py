"""Cyclic garbage collection on the GUI thread only, while worker threads run.

Python's cyclic collector runs in whichever thread happens to allocate. When it frees a Qt
object caught in a reference cycle (a closed dialog, an old window) on a worker thread,
~QObject takes Qt's locks there and then waits for the GIL, while the GUI thread holds the GIL
and waits for the same lock: a deadlock (seen in the suite — the worker in ~QObject inside
``gc_collect_main`` during a tf.data trace, the GUI thread deleting a QMenu). pyqtgraph's
``GarbageCollector`` avoids it for a whole program by turning automatic collection off and
collecting from a timer; this does the same, but only while at least one worker runs, so the
rest of the time Python collects as usual.

Library code also calls ``gc.collect()`` itself: TensorFlow's TFLite converter does, in the export
worker, and hung the suite in exactly that deadlock. While workers run, ``gc.collect`` called off
the GUI thread therefore collects nothing and asks the GUI thread for a full collection instead.
"""
from __future__ import annotations

import gc
import threading
import time

from PySide6.QtCore import QTimer

INTERVAL_MS = 250
# Python itself runs a full collection only when the objects waiting in the oldest generation
# exceed a quarter of it; counting alone would trigger one every few seconds here, and each
# walks every TensorFlow object (~0.1-0.3 s of GUI thread). A full pass at most this often:
FULL_COLLECTION_EVERY_S = 30.0


class _GuiThreadCollector:
    def __init__(self):
        self._full_requested = False
        self._holders = 0
        self._timer: QTimer | None = None
        self._threshold = gc.get_threshold()
        self._last_full = time.monotonic()

    @property
    def active(self) -> bool:
        return self._holders > 0

    def acquire(self) -> None:
        """Call on the GUI thread before starting a worker thread."""
        self._holders += 1
        if self._holders > 1:
            return
        self._threshold = gc.get_threshold()
        self._last_full = time.monotonic()
        gc.disable()
        # Everything alive now (TensorFlow, Keras, Qt wrappers: most of the heap) moves to the
        # permanent generation, so the collections during the run walk only what the run allocates:
        # a full pass took 10-70 ms of GUI thread, the GIL held, an event-loop gap.
        gc.freeze()
        gc.collect = _deferred_off_gui_thread
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
            gc.collect = _collect
            gc.unfreeze()
            gc.enable()
            if self._full_requested:   # a worker asked for one just before it ended
                self._full_requested = False
                _collect()

    def collect_due(self) -> None:
        """Collect the young generations whose counts passed their thresholds, as Python would;
        the oldest only every FULL_COLLECTION_EVERY_S (see there)."""
        if self._full_requested:
            self._full_requested = False
            self._last_full = time.monotonic()
            _collect()
            return
        counts = gc.get_count()
        if counts[0] <= self._threshold[0]:
            return
        if counts[1] <= self._threshold[1]:
            _collect(0)
        elif counts[2] <= self._threshold[2] or time.monotonic() - self._last_full < FULL_COLLECTION_EVERY_S:
            _collect(1)
        else:
            _collect(2)
            self._last_full = time.monotonic()


    def request_full(self) -> None:
        """Any thread: a full collection on the GUI thread at the next tick."""
        self._full_requested = True


_collect = gc.collect


def _deferred_off_gui_thread(generation: int = 2) -> int:
    """``gc.collect`` while workers run: collects on the GUI (main) thread only."""
    if threading.current_thread() is threading.main_thread():
        return _collect(generation)
    collector.request_full()
    return 0


collector = _GuiThreadCollector()
