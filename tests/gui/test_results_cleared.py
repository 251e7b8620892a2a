"""Issue 23, fault 8: opening another experiment clears the last one's results from the tabs."""
from __future__ import annotations

from tests.gui.conftest import small_digits, wait_run_over


def test_opening_another_experiment_clears_the_last_runs_results(window, qtbot):
    window.train()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed", finished.message
    window.tabs.setCurrentWidget(window.predictions)
    qtbot.waitUntil(lambda: len(window.predictions.tiles) > 0, timeout=5000)
    assert "Finished" in window.training.status.text() and window.training.epoch_loss.size
    other = small_digits("digits_mlp") if _has_preset("digits_mlp") else small_digits()
    other.name = "another"
    window.document.replace(other, None)
    assert "Finished" not in window.training.status.text()
    assert window.training.epoch_loss.size == 0 and window.training.batch_loss.size == 0
    assert window.training.progress.format() == "not started"
    assert not window.predictions.tiles and window.predictions.confusion.rowCount() == 0
    assert window.step_panel.table.rowCount() == 0


def _has_preset(name: str) -> bool:
    from tapedeck.engine.spec.experiment import list_presets

    return name in list_presets()
