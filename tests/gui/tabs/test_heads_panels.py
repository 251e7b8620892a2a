"""Training curves and Predictions for a several-head run, fed the events of a real two-head digits run
(digit + parity, 1 epoch), and a regression head's numbers in place of classes."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tapedeck.engine.training.events import EpochEnd, HeadInfo, Predictions, RunStarted, TestResult  # noqa: E402
from tests.support.run_support import run_events, two_head_run  # noqa: E402


@pytest.fixture(scope="module")
def events():
    return run_events(two_head_run())


def first(events, kind):
    return next(e for e in events if isinstance(e, kind))


def test_curves_per_head_and_test_figures_per_head(qtbot, events):
    from tapedeck.gui.tabs.training_tab import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.build_plots()
    for event in events:
        panel.handle(event)
    curves = panel.head_curves
    assert not curves.isHidden() and [h.layer for h in curves.heads] == ["digit", "parity"]
    epoch = first(events, EpochEnd)
    for key in ("digit_loss", "val_digit_loss", "parity_accuracy", "val_parity_accuracy"):
        assert curves.curve_data(key) == ([1], [pytest.approx(epoch.heads[key])]), key
    legend = [label.text for _sample, label in curves.metric_plot.getPlotItem().legend.items]
    assert legend == ["digit (label)", "parity (parity)"]
    assert panel.loss_plot.getPlotItem().titleLabel.text.startswith("Total loss")
    result = first(events, TestResult)
    text = panel.status.text()
    assert f"digit {100 * result.heads['digit']['accuracy']:.1f} %" in text
    assert f"parity {100 * result.heads['parity']['accuracy']:.1f} %" in text

    panel.handle(dataclasses.replace(first(events, RunStarted), heads=()))   # a one-head run: no head row
    assert curves.isHidden()


def test_predictions_follow_the_head_selector(qtbot, events):
    from tapedeck.gui.tabs.predictions_tab import PredictionsPanel

    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    panel.show()
    for event in events:
        panel.handle(event)
    assert panel.head_box.isVisible()
    assert [panel.head_box.itemData(i) for i in range(panel.head_box.count())] == ["digit", "parity"]
    assert panel.head == "digit" and panel.confusion.rowCount() == 10
    panel.head_box.setCurrentIndex(1)                     # as a click would
    assert panel.head == "parity"
    result, predictions = first(events, TestResult), [e for e in events if isinstance(e, Predictions)][-1]
    matrix = [[int(panel.confusion.item(r, c).text()) for c in range(2)] for r in range(2)]
    assert matrix == result.heads["parity"]["confusion"]
    assert panel.confusion.horizontalHeaderItem(1).text() == "odd"
    true, predicted, _probabilities = predictions.heads["parity"]
    words = ["even", "odd"]
    assert f"true {words[int(true[0])]}" in panel.tiles[0].caption.text()
    assert words[int(predicted[0])] in panel.tiles[0].caption.text()
    assert "head <b>parity</b>" in panel.test_label.text()


def test_a_regression_head_shows_numbers_and_no_confusion(qtbot, events):
    from tapedeck.gui.tabs.predictions_tab import PredictionsPanel

    started = first(events, RunStarted)
    n = len(started.sample_labels)
    heads = (*started.heads, HeadInfo("size", "size", "values", (), "mean_squared_error", 0.1))
    predictions = [e for e in events if isinstance(e, Predictions)][-1]
    true, guess = np.linspace(0, 1, n, dtype=np.float32), np.linspace(0.1, 1.1, n, dtype=np.float32)
    result = first(events, TestResult)
    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.handle(dataclasses.replace(started, heads=heads))
    panel.handle(dataclasses.replace(predictions, heads={**predictions.heads, "size": (true, guess[:, None], None)}))
    panel.handle(dataclasses.replace(result, heads={**result.heads, "size": {"loss": 0.01, "mae": 0.1,
                                                                           "target": "size"}}))
    panel.set_head("size")
    assert panel.tiles[1].caption.text().count("true") == 1 and f"{guess[1]:.3g}" in panel.tiles[1].caption.text()
    assert panel.tiles[1].correct is None                 # no right or wrong frame for a number
    assert "mean absolute error" in panel.summary.text() and "0.1" in panel.summary.text()
    assert panel.confusion.rowCount() == 0 and "MAE <b>0.1</b>" in panel.test_label.text()
