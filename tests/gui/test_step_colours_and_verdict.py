"""Issue 23, faults 9 and 10: Inside the step speaks the colours of Predictions (green right, red
wrong), with a legend; the default preset's first step is judged healthy, with a line on what to read."""
from __future__ import annotations

from tapedeck.engine.spec.experiment import DEFAULT_PRESET
from tapedeck.gui.tabs.predictions_tab import RIGHT, WRONG
from tests.gui.conftest import small_digits, wait_run_over


def test_the_default_presets_first_step_is_healthy_and_colours_mean_right_or_wrong(qtbot, make_window):
    experiment = small_digits(DEFAULT_PRESET, epochs=1, limit=300)
    experiment.training.loop = "tape"           # the batch and its predictions are visible
    assert experiment.training.optimizer == "adam"
    window = make_window(experiment)
    panel = window.step_panel
    window.step()
    qtbot.waitUntil(lambda: panel.inspected is not None and window.controller.paused, timeout=60_000)
    verdicts = [panel.table.item(row, panel.table.columnCount() - 1).text() for row in range(panel.table.rowCount())]
    assert verdicts and all(v == "learning" for v in verdicts), verdicts
    assert "Adam moves each weight" in panel.guide.text() and panel.guide.isVisibleTo(panel)
    event = panel.inspected
    captions = [panel.batch_grid.itemAt(i).widget().findChildren(type(panel.title))[1].text()
                for i in range(panel.batch_grid.count())]
    assert captions
    for index, caption in enumerate(captions):
        truth, now = int(event.labels[index]), int(event.after[index].argmax())
        after_part = caption.split("→")[1]          # the prediction after the step
        assert (RIGHT if now == truth else WRONG) in after_part
        assert ("▲" in caption) == (event.after[index][truth] > event.before[index][truth])
    wrong_rising = [i for i in range(len(captions)) if int(event.after[i].argmax()) != int(event.labels[i])]
    for index in wrong_rising:                      # a wrong prediction is never green
        assert RIGHT not in captions[index].split("→")[1]
    window.stop()
    wait_run_over(qtbot, window)
