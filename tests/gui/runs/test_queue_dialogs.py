"""Sweep and compare-the-APIs dialogs train real tiny runs through the queue worker; exports load back."""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from tapedeck.engine.training.events import Finished  # noqa: E402
from tests.support.run_support import copy_run, short_experiment, trained_run  # noqa: E402

QUEUE_TIMEOUT_MS = 120_000


def tiny(name="tiny", limit=96, epochs=1):
    experiment = short_experiment(name=name, api="sequential", limit=limit, epochs=epochs)
    experiment.training.batch_size = 32
    return experiment


def test_sweep_fills_the_ranking_and_a_stop_skips_the_rest(qtbot, tmp_path):
    from tapedeck.gui.runs.queue_dialogs import SweepDialog

    dialog = SweepDialog(tiny("sweep"), str(tmp_path / "runs"))
    qtbot.addWidget(dialog)
    dialog.show()
    settings = [path for path, _label, _value in dialog.settings]
    assert "training.learning_rate" in settings and "training.batch_size" in settings

    dialog.set_axis(0, "training.batch_size", "16, x")
    assert not dialog.start() and "training.batch_size" in dialog.progress.text()
    assert not dialog.running

    dialog.set_axis(0, "training.batch_size", "16, 32, 64")
    # Press Stop the moment the first run's end reaches the window (as a person would, from the GUI thread).
    dialog.controller.event.connect(
        lambda index, event: dialog.stop_button.click() if index == 0 and isinstance(event, Finished) else None)
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=QUEUE_TIMEOUT_MS)
    results = dialog.controller.results
    assert [r.index for r in results] == [0, 1, 2]
    assert results[0].reason == "completed" and results[2].reason == "skipped"
    started = [r for r in results if r.run_dir]
    assert dialog.table.rowCount() == len(started)
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    assert "training.batch_size" in headers and "best val acc" in headers
    first = {headers[c]: dialog.table.item(0, c).text() for c in range(len(headers))}
    assert first["rank"] == "1" and first["status"] == "completed" and first["training.batch_size"] == "16"
    assert "skipped" in dialog.progress.text()
    qtbot.wait(50)
    _assert_table_fits(dialog.table)
    # the ranking is sortable: sort by rank descending puts the last rank first
    dialog.table.sortItems(headers.index("rank"), Qt.DescendingOrder)
    assert dialog.table.item(0, headers.index("rank")).text() == str(len(started))


def test_a_four_run_ranking_shows_every_row_and_column(qtbot, tmp_path):
    """The ranking of a 2 × 2 sweep (four copies of a real run, their settings changed)."""
    import json
    import shutil
    from types import SimpleNamespace

    from tapedeck.engine.queues.sweep import parse_axis
    from tapedeck.gui.runs.queue_dialogs import SweepDialog

    run = copy_run(trained_run(), tmp_path)
    runs = []
    for index, (rate, batch) in enumerate([(0.001, 16), (0.001, 32), (0.003, 16), (0.003, 32)]):
        folder = tmp_path / f"{run.name}-sweep-{index}"
        shutil.copytree(run, folder)
        experiment = json.loads((folder / "experiment.json").read_text())
        experiment["training"].update(learning_rate=rate, batch_size=batch)
        (folder / "experiment.json").write_text(json.dumps(experiment))
        runs.append(SimpleNamespace(run_dir=str(folder)))
    dialog = SweepDialog(tiny("sweep-four"), str(tmp_path / "runs"))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.axes = [parse_axis("training.learning_rate=0.001,0.003"), parse_axis("training.batch_size=16,32")]
    dialog.fill_table(runs)
    assert dialog.table.rowCount() == 4
    qtbot.wait(50)
    _assert_table_fits(dialog.table)


def test_compare_apis_overlays_three_runs_with_equal_parameter_counts(qtbot, tmp_path):
    from tapedeck.gui.runs.queue_dialogs import CompareApisDialog

    dialog = CompareApisDialog(tiny("apis", limit=64), str(tmp_path / "runs"), input_shape=(8, 8, 1))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.counts is not None, timeout=60_000)
    counts = dialog.counts
    assert set(counts) == {"sequential", "functional", "subclassing"}
    assert len({counts[api] for api in counts}) == 1 and counts["sequential"][0] > 0
    assert f"{counts['functional'][0]:,} trainable" in dialog.counts_label.text()

    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=QUEUE_TIMEOUT_MS)
    assert [r.reason for r in dialog.controller.results] == ["completed"] * 3
    assert sorted(dialog.curves.runs) == ["apis-functional", "apis-sequential", "apis-subclassing"]
    assert dialog.curves.curve_count() == 3 * 2 * 2
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    trainable = {dialog.table.item(r, headers.index("trainable")).text() for r in range(3)}
    assert trainable == {f"{counts['sequential'][0]:,}"}
    # Sequential and Functional build the same graph from the same seed: their curves coincide, and the
    # dialog says so (one would otherwise hide the other)
    assert any({"sequential", "functional"} <= set(group) for group in dialog.identical_curves())
    assert "Identical curves" in dialog.progress.text()
    qtbot.wait(50)
    _assert_table_fits(dialog.table)


def _assert_table_fits(table):
    """Every row in view and the last column whole (the ranking showed 3 of 4 rows, "test ac")."""
    rows_height = sum(table.rowHeight(r) for r in range(table.rowCount()))
    assert table.viewport().height() >= rows_height
    assert sum(table.columnWidth(c) for c in range(table.columnCount())) <= table.viewport().width()
    assert table.horizontalScrollBar().maximum() == 0 and table.verticalScrollBar().maximum() == 0


def test_sweep_value_field_hints_the_current_value_instead_of_holding_it(qtbot, tmp_path):
    from tapedeck.gui.runs.queue_dialogs import SweepDialog

    dialog = SweepDialog(tiny("sweep"), str(tmp_path / "runs"))
    qtbot.addWidget(dialog)
    box, edit = dialog.setting_boxes[0], dialog.value_edits[0]
    box.setCurrentIndex(box.findData("training.learning_rate"))
    assert edit.text() == ""                      # typing must not append to "0.003"
    assert "0.003" in edit.placeholderText()
    qtbot.keyClicks(edit, "0.001, 0.01")
    assert edit.text() == "0.001, 0.01"


def test_export_dialog_writes_files_that_load_back(qtbot, tmp_path):
    import keras
    import tensorflow as tf
    from PIL import Image

    from tapedeck.engine.runs.exports import load_run_model
    from tapedeck.gui.runs.export_dialog import ExportDialog

    run = copy_run(trained_run(), tmp_path)
    dialog = ExportDialog(run)
    qtbot.addWidget(dialog)
    dialog.choose({"keras", "savedmodel", "tflite", "script", "history", "png", "svg"})
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    assert dialog.export()
    assert dialog.running
    qtbot.waitUntil(lambda: dialog.results is not None, timeout=120_000)
    problems = [r for r in dialog.results if r[2]]
    assert not problems, problems
    paths = {fmt: [p for f, p, _ in dialog.results if f == fmt] for fmt in {f for f, _p, _e in dialog.results}}

    x = np.zeros((2, 8, 8, 1), dtype=np.float32)
    x[1, 2:6, 3:5, 0] = 1.0
    expected = np.asarray(load_run_model(run)(x, training=False))
    assert np.allclose(keras.models.load_model(paths["keras"][0], compile=False)(x), expected, atol=1e-5)
    served = tf.saved_model.load(paths["savedmodel"][0]).signatures["serving_default"]
    assert np.allclose(list(served(tf.constant(x)).values())[0].numpy(), expected, atol=1e-5)
    from ai_edge_litert.interpreter import Interpreter  # tf.lite.Interpreter is deprecated in TF 2.21

    interpreter = Interpreter(model_path=paths["tflite"][0])
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], x[:1])
    interpreter.invoke()
    assert np.allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected[:1], atol=1e-4)
    compile(open(paths["script"][0]).read(), paths["script"][0], "exec")
    rows = list(csv.DictReader(open(paths["history"][0])))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert len(paths["png"]) == 3 and len(paths["svg"]) == 3     # loss, accuracy, learning rate
    for png in paths["png"]:
        with Image.open(png) as image:
            assert image.width >= 800
    for svg in paths["svg"]:
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        assert any(e.tag.endswith(("polyline", "path")) for e in root.iter())  # vector curves, not a bitmap
