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


@pytest.fixture(autouse=True)
def _no_running_qthread(request):
    """Fail a test that leaves a QThread running: on close it would abort the process."""
    yield
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is None:
        return
    import gc

    from PySide6.QtCore import QThread

    running = [o for o in gc.get_objects() if isinstance(o, QThread) and _is_running(o)]
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
