"""`tapedeck train`'s progress line fits an 80-column terminal, and its ETA is the window's."""
import io

import numpy as np
import pytest

from tapedeck.engine.cli.train import ConsoleReporter, progress_line
from tapedeck.engine.training.events import BatchEnd, RunStarted
from tapedeck.engine.training.progress import duration_text, eta_seconds


def _started(epochs, steps, batch_size=32):
    return RunStarted(run_dir="r", name="net", summary="", trainable=1234, non_trainable=0, epochs=epochs,
                      steps_per_epoch=steps, batch_size=batch_size, num_classes=10, class_names=list("0123456789"),
                      sample_images=np.zeros((2, 4, 4, 1), np.float32), sample_labels=np.array([0, 1]))


@pytest.mark.parametrize("epochs, steps, speed", [(2, 10, 1000.0), (100, 1875, 123456.0), (9999, 99999, 1.5)])
def test_the_line_fits_80_columns(epochs, steps, speed):
    batch = BatchEnd(epochs // 2 or 1, steps // 3 or 1, steps, 12.3456, 0.98765, 96, speed)
    line = progress_line(batch, epochs, 32, 79)
    assert len(line) == 79 and "ETA" in line and f"{batch.step}/{steps}" in line
    assert "[" in line or epochs == 9999    # the bar gives way when the figures need the room


def test_the_terminal_gets_no_line_longer_than_its_width(monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback=(80, 24): __import__("os").terminal_size((80, 24)))
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, tty=True)
    reporter(_started(100, 1875))
    reporter(BatchEnd(37, 1875, 1875, 0.1234, 0.9876, 60000, 23456.7))
    drawn = stream.getvalue().split("\r")[-1]
    assert len(drawn) == 79 and "#" * 10 in drawn


def test_eta_is_steps_left_at_the_epochs_pace():
    batch = BatchEnd(2, 5, 10, 0.5, 0.8, 160, 64.0)   # 5 steps left in epoch 2, then epoch 3: 15 steps of 32
    assert eta_seconds(batch, 3, 32) == pytest.approx(15 * 32 / 64.0)
    assert eta_seconds(BatchEnd(1, 1, 10, 0.5, 0.8, 0, 0.0), 3, 32) is None
    assert [duration_text(s) for s in (7.4, 185, 7620, 3 * 86400 + 4 * 3600, None)] == [
        "7s", "3m 05s", "2h 07m", "3d 04h", "…"]


def test_the_window_shows_the_same_eta(qtbot):
    pytest.importorskip("PySide6")
    from tapedeck.gui.tabs.training_tab import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.build_plots()
    panel.handle(_started(3, 10, batch_size=4))
    batch = BatchEnd(2, 5, 10, 0.5, 0.8, 20, 2.0)
    panel.handle(batch)
    panel.redraw()
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, tty=True)
    reporter(_started(3, 10, batch_size=4))
    reporter(batch)
    assert "ETA 30s" in panel.speed.text() and "ETA 30s" in stream.getvalue()   # 15 steps x 4 / 2 per s
