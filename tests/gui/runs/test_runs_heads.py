"""The runs table and the comparison of runs per head: a two-head run's test figures per head."""
from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.support.run_support import copy_run, trained_run, two_head_run  # noqa: E402


def test_runs_table_and_differences_show_each_heads_test_figure(qtbot, tmp_path):
    from tapedeck.gui.runs.head_figures import head_test_text
    from tapedeck.gui.runs.runs_panel import PATH_ROLE, RunsPanel

    first = copy_run(two_head_run(), tmp_path)
    second = tmp_path / first.name.replace("two-heads", "two-heads-b")
    shutil.copytree(first, second)
    experiment = json.loads((second / "experiment.json").read_text())
    experiment["training"]["learning_rate"] = 0.01
    (second / "experiment.json").write_text(json.dumps(experiment))
    one = copy_run(trained_run(), tmp_path)
    heads = json.loads((first / "metrics.json").read_text())["test"]["heads"]
    expected = (f"digit {100 * heads['digit']['accuracy']:.1f}% · "
                f"parity {100 * heads['parity']['accuracy']:.1f}%")
    assert head_test_text(json.loads((first / "metrics.json").read_text())) == expected
    assert head_test_text({"test": {"heads": {"age": {"loss": 1.0, "mae": 0.1234}}}}) == "age MAE 0.123"
    assert head_test_text({"test": {"accuracy": 0.9}}) is None

    panel = RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: not panel.listing)   # the runs folder is listed in the background
    column = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())].index("test acc")
    texts = {panel.table.item(r, 0).data(PATH_ROLE): panel.table.item(r, column).text()
             for r in range(panel.table.rowCount())}
    assert texts[str(first)] == expected and texts[str(one)].endswith("%") and "·" not in texts[str(one)]

    panel.select_paths([str(first), str(second), str(one)])
    rows = {panel.differences.item(r, 0).text(): [panel.differences.item(r, c).text()
                                                  for c in range(1, panel.differences.columnCount())]
            for r in range(panel.differences.rowCount())}
    order = panel.selected_paths()
    digit = rows["test · digit"]
    assert digit[order.index(str(one))] == "-"
    assert digit[order.index(str(first))] == f"{100 * heads['digit']['accuracy']:.1f}%"
    assert "test · parity" in rows and "training.learning_rate" in panel.difference_keys()
    assert not any(key.startswith("test · ") for key in panel.difference_keys())


def test_run_curves_pick_a_heads_own_curves(qtbot):
    from tapedeck.gui.runs.run_curves import RunCurves, history_heads

    two = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": 0.5, "val_accuracy": 0.6,
            "digit_loss": 0.8 / e, "val_digit_loss": 0.9 / e, "digit_accuracy": 0.7, "val_digit_accuracy": 0.1 * e,
            "age_loss": 2.0 / e, "val_age_loss": 2.5 / e, "age_mae": 3.0 / e, "val_age_mae": 4.0 / e}
           for e in (1, 2, 3)]
    one = [{"epoch": e, "loss": 0.5, "val_loss": 0.6, "accuracy": 0.9, "val_accuracy": 0.8} for e in (1, 2)]
    assert history_heads([two, one]) == ["digit", "age"] and history_heads([one]) == []
    curves = RunCurves()
    qtbot.addWidget(curves)
    curves.show()
    curves.show_runs([("one", one)])
    assert curves.head_box.isHidden()
    curves.show_runs([("two", two), ("one", one)])
    assert not curves.head_box.isHidden() and curves.head_box.count() == 3

    def solid(widget):   # the first run's validation curve on a plot
        return list(widget.getPlotItem().listDataItems()[0].getData()[1])

    assert solid(curves.loss_plot) == pytest.approx([1.2, 0.6, 0.4])        # the total
    curves.set_head("digit")
    assert solid(curves.loss_plot) == pytest.approx([0.9, 0.45, 0.3])
    assert solid(curves.acc_plot) == pytest.approx([0.1, 0.2, 0.3])
    assert curves.acc_plot.getPlotItem().titleLabel.text == "Accuracy — digit"
    curves.set_head("age")                                                  # a regression head: MAE
    assert solid(curves.acc_plot) == pytest.approx([4.0, 2.0, 4.0 / 3])
    assert curves.acc_plot.getPlotItem().titleLabel.text == "MAE — age"
    assert curves.acc_plot.getPlotItem().listDataItems()[2].getData()[0] is None   # "one" has no age: empty
    curves.show_runs([("two", two)])                                        # the chosen head stays chosen
    assert curves.head_box.currentData() == "age"
