"""Window fixtures: a MainWindow on a small digits experiment, settings and runs in tmp_path,
TensorFlow loaded and the shape check done before the test body starts."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from tapedeck.engine.spec.experiment import load_preset  # noqa: E402

TF_TIMEOUT_MS = 120_000


def small_digits(preset: str = "digits_cnn", epochs: int = 1, limit: int = 300, batch_size: int = 32):
    experiment = load_preset(preset)
    experiment.data.limit = limit
    experiment.training.epochs = epochs
    experiment.training.batch_size = batch_size
    experiment.training.steps_per_execution = 1   # the presets say "auto": tests count steps and events
    return experiment


def wait_checked(qtbot, window, timeout=TF_TIMEOUT_MS):
    """Until TensorFlow is loaded, the data is in and the check has run."""
    window.start_background_loading()
    qtbot.waitUntil(lambda: window.checker.tf_ready and window.checker.dataset is not None
                    and window.checker.report is not None, timeout=timeout)


def wait_run_over(qtbot, window, timeout=60_000):
    """Main-thread state, not a worker signal: the controller has no thread and saw Finished."""
    qtbot.waitUntil(lambda: not window.controller.running and window.controller.finished_event is not None,
                    timeout=timeout)
    return window.controller.finished_event


@pytest.fixture
def make_window(qtbot, tmp_path):
    from tapedeck.gui.main_window import MainWindow

    def make(experiment=None, path=None, wait=True):
        window = MainWindow(experiment if experiment is not None else small_digits(), path,
                            settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                            runs_dir=str(tmp_path / "runs"))
        window.ask_to_save = False
        qtbot.addWidget(window)
        window.show()
        if wait:
            wait_checked(qtbot, window)
        return window
    return make


@pytest.fixture
def window(make_window):
    return make_window()
