"""Runs panel, confusion view, own input and feature maps, driven on one real short run
(tests/run_support.py: functional digits CNN, 200 examples, 2 epochs)."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402

from tests.support.run_support import copy_run, trained_run  # noqa: E402


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Two copies of the real run, the second with a changed learning rate and a renamed run."""
    root = tmp_path_factory.mktemp("runs")
    first = copy_run(trained_run(), root)
    second = root / (first.name.replace("history-run", "history-run-b"))
    import shutil

    shutil.copytree(first, second)
    experiment = json.loads((second / "experiment.json").read_text())
    experiment["training"]["learning_rate"] = 0.01
    experiment["name"] = "history-run-b"
    (second / "experiment.json").write_text(json.dumps(experiment))
    return root


@pytest.fixture(scope="module")
def analysed():
    from tapedeck.engine.analysis.reopen import open_run

    return open_run(trained_run())


def test_runs_panel_lists_overlays_and_diffs(qtbot, runs_root):
    from tapedeck.gui.runs.runs_panel import RunsPanel

    panel = RunsPanel(str(runs_root))
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: not panel.listing)   # the runs folder is listed in the background
    assert panel.table.rowCount() == 2
    names = {panel.table.item(r, 0).text() for r in range(2)}
    assert names == {"history-run", "history-run-b"}
    header = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())]
    row = {header[c]: panel.table.item(0, c).text() for c in range(len(header))}
    assert row["API"] == "functional" and row["status"] == "completed" and row["epochs"] == "2/2"
    assert row["best val acc"].endswith("%") and row["test acc"].endswith("%")

    panel.select_paths([str(p) for p in runs_root.iterdir()])
    # one solid (validation) and one dashed (training) curve per run on each of the two plots
    assert panel.curves.curve_count() == 2 * 2 * 2
    assert sorted(panel.curves.runs) == ["history-run", "history-run-b"]
    legend_names = [label.text for _sample, label in panel.curves.legends[0].items]
    assert sorted(legend_names) == ["history-run", "history-run-b"]
    assert panel.difference_keys() == ["name", "training.learning_rate"]

    panel.select_paths([str(next(runs_root.iterdir()))])
    assert panel.curves.curve_count() == 4 and panel.difference_keys() == []


def test_runs_panel_opens_and_deletes(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from tapedeck.engine.spec.experiment import Experiment
    from tapedeck.gui.runs.runs_panel import RunsPanel

    run = copy_run(trained_run(), tmp_path)
    panel = RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: not panel.listing)   # the runs folder is listed in the background
    panel.select_paths([str(run)])
    opened = []
    panel.open_experiment.connect(opened.append)
    panel.open_button.click()
    assert isinstance(opened[0], Experiment) and opened[0].name == "history-run"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Cancel)
    assert panel.delete_selected() == [] and run.exists()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    assert panel.delete_selected() == [str(run)]
    qtbot.waitUntil(lambda: not panel.listing)
    assert not run.exists() and panel.table.rowCount() == 0


def test_analysis_tab_opens_a_run_in_the_background(qtbot):
    from tapedeck.gui.analysis.analysis_tab import AnalysisTab

    tab = AnalysisTab()
    qtbot.addWidget(tab)
    tab.open_run(trained_run())
    assert tab.loading  # the window stays responsive: the load is in a QThread
    qtbot.waitUntil(lambda: not tab.loading, timeout=60_000)
    assert tab.error is None and tab.analysed is not None
    assert tab.confusion.matrix.rowCount() == len(tab.analysed.class_names)

    tab.open_run(trained_run().parent / "no-such-run")
    qtbot.waitUntil(lambda: not tab.loading, timeout=60_000)
    assert "no-such-run" in tab.error and "Traceback" not in tab.title.text()


def test_confusion_cell_click_opens_its_images(qtbot, analysed):
    from tapedeck.gui.analysis.confusion_view import ConfusionView

    view = ConfusionView()
    qtbot.addWidget(view)
    view.show_run(analysed)
    confusion = analysed.confusion()
    total = sum(int(view.matrix.item(r, c).text() or 0) for r in range(confusion.shape[0])
                for c in range(confusion.shape[1]))
    assert total == len(analysed.true_labels)
    wrong = np.argwhere((confusion > 0) & ~np.eye(len(confusion), dtype=bool))
    true_class, predicted_class = (int(v) for v in (wrong[0] if len(wrong) else (0, 0)))
    rect = view.matrix.visualItemRect(view.matrix.item(true_class, predicted_class))
    view.show()
    qtbot.mouseClick(view.matrix.viewport(), Qt.LeftButton, pos=rect.center())
    indices = view.cell_gallery.indices()
    assert len(indices) == confusion[true_class, predicted_class]
    assert all(analysed.true_labels[i] == true_class and analysed.predicted_labels[i] == predicted_class
               for i in indices)
    confidence = [analysed.probabilities[i, predicted_class] for i in indices]
    assert confidence == sorted(confidence, reverse=True)
    assert view.classes.rowCount() == len(analysed.class_names)
    assert view.wrong_gallery.count() == min(48, int((analysed.predicted_labels != analysed.true_labels).sum()))


def test_drawing_gives_probabilities(qtbot, analysed, tmp_path):
    from PIL import Image

    from tapedeck.gui.analysis.own_input_view import OwnInputView

    view = OwnInputView()
    qtbot.addWidget(view)
    view.show()
    view.set_run(analysed)
    assert view.canvas.isEnabled()
    canvas = view.canvas
    qtbot.mousePress(canvas, Qt.LeftButton, pos=QPoint(140, 40))
    for y in range(50, 250, 20):
        qtbot.mouseMove(canvas, QPoint(140, y))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=QPoint(140, 250))
    assert not canvas.is_blank()
    qtbot.waitUntil(lambda: view.probabilities is not None, timeout=5000)
    assert view.probabilities.shape == (len(analysed.class_names),)
    assert abs(float(view.probabilities.sum()) - 1.0) < 1e-4

    canvas.clear()
    assert canvas.is_blank()
    path = tmp_path / "digit.png"
    Image.fromarray((np.asarray(analysed.dataset.x_test[0][..., 0]) * 255).astype(np.uint8)).save(path)
    assert view.open_image(str(path))
    assert abs(float(view.probabilities.sum()) - 1.0) < 1e-4
    assert not view.open_image(str(tmp_path / "missing.png")) and "missing.png" in view.status.text()


def test_feature_map_grid_shows_the_layers_channels(qtbot, analysed):
    from tapedeck.gui.analysis.feature_maps_view import FeatureMapsView

    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.set_run(analysed)
    conv = [layer for layer in analysed.model.layers if type(layer).__name__ == "Conv2D"]
    assert conv, "the digits preset has convolutions"
    for layer in conv:
        view.select(image_index=3, layer_name=layer.name)
        assert view.channels == layer.filters
        assert f"{layer.filters} maps" in view.info.text()
        assert view.image.image is not None
