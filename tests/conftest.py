"""Shared test set-up: Qt offscreen, quiet TensorFlow, and no QThread may outlive a test."""
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

_started_threads = None
try:  # PySide6 may be absent: engine tests must still run.
    import weakref

    from PySide6.QtCore import QThread

    _started_threads = weakref.WeakSet()
    _original_start = QThread.start

    def _recording_start(self, *args, **kwargs):
        _started_threads.add(self)
        return _original_start(self, *args, **kwargs)

    QThread.start = _recording_start
except ImportError:
    pass


@pytest.fixture(autouse=True)
def _no_running_qthread(request):
    """Fail a test that leaves a QThread running: on close it would abort the process.

    Threads are recorded as they start (a weak set) rather than found by scanning every
    object, which costs a third of a second per test once Keras is loaded.
    """
    yield
    if not _started_threads:
        return
    running = [t for t in list(_started_threads) if _is_running(t)]
    if running:
        for thread in running:
            thread.quit()
            thread.wait(5000)
        pytest.fail(f"{request.node.name} left {len(running)} QThread(s) running")


def _is_running(thread):
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is already gone
        return False
