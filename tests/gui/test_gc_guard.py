"""Cyclic garbage is collected on the GUI thread only while a worker thread runs."""
import gc
import threading

from gui.analysis_jobs import ThreadJob
from gui.gc_guard import collector


class Cycle:
    def __init__(self):
        self.me = self


def test_a_busy_worker_never_runs_the_collector(qtbot):
    """Allocation in the worker would otherwise trigger collections there (and free Qt objects)."""
    collections = []

    def record(phase, info):
        if phase == "start":
            collections.append(threading.current_thread().name)

    release = threading.Event()

    def work():
        seen = gc.isenabled()
        for _ in range(50_000):  # crosses the generation-0 threshold ~70 times
            Cycle()
        release.wait(10)
        return seen

    results = []
    gc.callbacks.append(record)
    try:
        job = ThreadJob("gc-test")
        job.start(work, lambda result, error: results.append((result, error)))
        main = threading.current_thread().name
        qtbot.waitUntil(lambda: main in collections, timeout=5000)
        release.set()
        qtbot.waitUntil(lambda: bool(results), timeout=5000)
    finally:
        gc.callbacks.remove(record)
    assert results == [(False, None)]           # automatic collection was off in the worker
    assert set(collections) == {main}           # every collection ran on the GUI thread
    assert not collector.active and gc.isenabled()
