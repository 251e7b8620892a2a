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
