"""Runs of one experiment compared: the legend stays off the curves and the differences table's run
headers are whole (fault 12 of issue 23)."""
import json

from tests.support.fake_runs import fake_run


def test_legend_outside_the_curves_and_headers_not_cut(qtbot, tmp_path):
    from tapedeck.gui.runs.runs_panel import RunsPanel

    paths = []
    for n, (api, loop) in enumerate((("sequential", "tape"), ("functional", "fit"))):
        folder = fake_run(tmp_path, f"20261206-12000{n}-a-rather-long-experiment-name", epochs=3)
        experiment = json.loads((folder / "experiment.json").read_text())
        experiment["name"], experiment["model"]["api"], experiment["training"]["loop"] = "digits_cnn_long", api, loop
        (folder / "experiment.json").write_text(json.dumps(experiment))
        paths.append(str(folder))
    panel = RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    panel.resize(1024, 600)
    panel.show()
    qtbot.waitUntil(lambda: not panel.listing)
    panel.select_paths(paths)

    for widget, legend in zip((panel.curves.loss_plot, panel.curves.acc_plot), panel.curves.legends):
        assert len(legend.items) == 2
        view = widget.getPlotItem().getViewBox()
        qtbot.waitUntil(lambda: legend.sceneBoundingRect().top() >= view.sceneBoundingRect().bottom(), timeout=2000)
        assert not legend.sceneBoundingRect().intersects(view.sceneBoundingRect())

    header = panel.differences.horizontalHeader()
    metrics = header.fontMetrics()
    for column in range(1, panel.differences.columnCount()):
        text = panel.differences.horizontalHeaderItem(column).text()
        assert "\n" in text and "digits_cnn_long" in text
        assert header.sectionSize(column) >= max(metrics.horizontalAdvance(line) for line in text.splitlines())
