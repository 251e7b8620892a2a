"""The sweep dialog's random / TPE search: trials run in the queue's thread, the table and importances fill."""
from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.support.run_support import short_experiment  # noqa: E402

QUEUE_TIMEOUT_MS = 180_000


def test_a_tpe_search_runs_off_the_gui_thread_and_shows_its_trials(qtbot, tmp_path, monkeypatch):
    import tapedeck.engine.training.run as engine_run
    from tapedeck.gui.runs.queue_dialogs import SweepDialog

    experiment = short_experiment(name="search", api="sequential", limit=96, epochs=1)
    experiment.training.batch_size = 32
    dialog = SweepDialog(experiment, str(tmp_path / "runs"))
    qtbot.addWidget(dialog)
    dialog.resize(1280, 800)
    dialog.show()
    assert not dialog.importance.isVisible()   # grid: no importances
    dialog.search_box.setCurrentIndex(dialog.search_box.findData("tpe"))
    assert dialog.importance.isVisible() and dialog.trials_box.isEnabled()

    dialog.set_axis(0, "training.learning_rate", "0.1..0.01")
    assert not dialog.start() and "is empty" in dialog.progress.text()

    threads = []
    real = engine_run.run

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_run, "run", recording)
    dialog.set_axis(0, "training.learning_rate", "1e-3..3e-2:log")
    dialog.trials_box.setValue(2)
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=QUEUE_TIMEOUT_MS)
    assert len(threads) == 2 and all(t is not threading.main_thread() for t in threads)
    assert dialog.controller.job.thread_name == "tapedeck-queue"
    assert [t.state for t in dialog.trials] == ["complete", "complete"]
    assert dialog.table.rowCount() == 2
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    assert "training.learning_rate" in headers and "status" in headers
    assert dialog.controller.search_result.best is not None
    # Optuna's own importances arrived with the second trial (one setting: all of it)
    assert dialog.importance.importances == pytest.approx({"training.learning_rate": 1.0})
    assert "2 finished trial(s)" in dialog.importance.title.text()
    assert "Queue over: 2 of 2" in dialog.progress.text()
    dialog.grab().save(str(tmp_path / "search_dialog.png"))

    dialog.trials_box.setValue(3)   # Start again: the stored study resumes, one trial more
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=QUEUE_TIMEOUT_MS)
    assert len(threads) == 3 and dialog.table.rowCount() == 3
    assert "already held 2 finished trial(s); the table ranks all 3" in dialog.progress.text()
