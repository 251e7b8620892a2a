"""Cyclic garbage is collected on the GUI thread only while a worker thread runs."""
import gc
import threading

from tapedeck.gui.threads.gc_guard import collector
from tapedeck.gui.threads.jobs import Job


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
        job = Job("gc-test")
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


def test_an_explicit_collect_in_a_worker_is_done_on_the_gui_thread(qtbot):
    """TensorFlow's TFLite converter calls gc.collect() in the export worker: collecting Qt
    objects there deadlocked the suite. It must free nothing there, and the GUI thread collects."""
    freed = []

    class Watched:
        def __init__(self):
            self.me = self

        def __del__(self):
            freed.append(threading.current_thread().name)

    def work():
        Watched()                       # cyclic garbage, only a collection frees it
        returned = gc.collect()
        return returned, list(freed)

    results = []
    job = Job("gc-explicit-test")
    job.start(work, lambda result, error: results.append((result, error)))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results == [((0, []), None)]
    qtbot.waitUntil(lambda: bool(freed), timeout=5000)
    assert freed == [threading.main_thread().name]
    assert gc.collect is not None and not collector.active
    assert gc.collect.__module__ == "gc"        # the real one is back once no worker runs
