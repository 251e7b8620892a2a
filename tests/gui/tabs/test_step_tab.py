"""Step, Step, Train, Stop in the window; the inspector and the Gradients view fill from a real run."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.gui.conftest import small_digits, wait_run_over  # noqa: E402


def _tape(**training):
    experiment = small_digits(epochs=1, limit=300)
    experiment.training.loop = "tape"
    for key, value in training.items():
        setattr(experiment.training, key, value)
    return experiment


def test_step_step_train_in_the_window(qtbot, make_window):
    window = make_window(_tape(inspect_every=2))
    panel = window.step_panel
    window.step()
    qtbot.waitUntil(lambda: panel.inspected is not None and window.controller.paused, timeout=60_000)
    assert window.tabs.currentWidget() is panel
    assert panel.inspected.step == 1 and panel.table.rowCount() == 4
    assert [panel.table.item(row, 0).text() for row in range(4)] == ["conv2d", "conv2d_1", "dense", "dense_1"]
    assert all(panel.table.item(row, 1).text() not in ("", "–") for row in range(4))   # gradient norms shown
    assert panel.batch_grid.count() == 16      # the batch, before → after
    assert window.train_action.isEnabled()     # Train continues from here

    window.step()
    qtbot.waitUntil(lambda: panel.inspected.step == 2 and window.controller.paused, timeout=60_000)

    window.train()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed"
    assert set(panel.history) == {"conv2d", "conv2d_1", "dense", "dense_1"}
    assert len(panel.history["dense"]) >= 4       # every 2nd step of 9, plus the two stepped
    window.tabs.setCurrentWidget(panel)
    panel.redraw()
    xs, ys = panel._curves["dense"].getData()
    assert len(xs) >= 4 and np.isfinite(ys).all()   # log10 of the norms (the axis is logarithmic)
    assert "step" in panel.timing.text() and "trace" in panel.timing.text()


def test_step_then_stop_and_fit_says_where_its_gradients_are(qtbot, make_window):
    window = make_window(small_digits(epochs=1, limit=300))    # model.fit
    panel = window.step_panel
    window.step()
    qtbot.waitUntil(lambda: panel.inspected is not None and window.controller.paused, timeout=60_000)
    assert not panel.inspected.gradients_visible
    assert panel.table.item(0, 1).text() == "–" and "GradientTape" in panel.gradients_hint.text()
    window.stop()
    assert wait_run_over(qtbot, window).reason == "stopped"


def test_the_execution_selector_edits_the_experiment(qtbot, make_window):
    window = make_window(wait=False)
    combo = window.selectors.execution
    combo.setCurrentIndex(combo.findData("eager"))
    combo.activated.emit(combo.currentIndex())
    assert window.document.experiment.training.execution == "eager"
    window.document.undo_stack.undo()
    assert window.document.experiment.training.execution == "graph"
    assert combo.currentData() == "graph"


def test_clipping_and_accumulation_are_set_in_the_settings(qtbot, make_window):
    window = make_window(wait=False)
    clip = window.settings_panel.editors["training.global_clipnorm"]
    assert clip.specialValueText() == "off" and window.document.experiment.training.global_clipnorm is None
    clip.setValue(1.5)
    assert window.document.experiment.training.global_clipnorm == 1.5
    clip.setValue(0.0)
    assert window.document.experiment.training.global_clipnorm is None
    window.settings_panel.editors["training.gradient_accumulation_steps"].setValue(4)
    assert window.document.experiment.training.gradient_accumulation_steps == 4
    precision = window.settings_panel.editors["training.precision"]
    precision.setCurrentIndex(precision.findText("mixed_bfloat16"))
    precision.activated.emit(precision.currentIndex())
    assert window.document.experiment.training.precision == "mixed_bfloat16"


def test_the_steps_per_call_note_is_shown_with_the_step_time_not_as_a_warning(qtbot):
    from tapedeck.engine.training.events import RunNote, StepTiming
    from tapedeck.gui.tabs.step_tab import StepPanel

    panel = StepPanel()
    qtbot.addWidget(panel)
    note = "steps_per_execution auto: 8 training step(s) per call; Stop and pause act between calls"
    panel.handle(RunNote("steps_per_execution", note))
    panel.handle(StepTiming(epoch=1, step_ms=2.5, traces=1, execution="graph"))
    assert "step 2.5 ms" in panel.timing.text() and note in panel.timing.text()
    assert panel.warning.isHidden()
    panel.handle(RunNote("retrace", "traced again"))
    assert not panel.warning.isHidden()
