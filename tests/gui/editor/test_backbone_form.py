"""A Backbone from the palette: its form comes from the catalogue, the check names a missing ImageNet
weights file before Train is enabled, and weights null + frozen shows the backbone's count as frozen."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


def test_a_backbone_layer_is_edited_and_checked_in_the_window(qtbot, make_window, tmp_path, monkeypatch):
    from tapedeck.engine.spec.catalogue import layer_type

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))   # an empty cache
    window = make_window()
    window.resize(1280, 800)
    row = window.editor.add_layer("Backbone", row=0)
    if row > 0:   # placed below the first Conv2D: the backbone must see the image itself
        window.editor.remove_layer(0)
        row = 0
    assert window.document.experiment.model.layers[row].type == "Backbone"
    window.editor.select_row(row)
    window.form.show_row(row)
    assert {p.name for p in layer_type("Backbone").params} <= set(window.form.editors)
    assert window.document.experiment.model.layers[row].params == {"architecture": "MobileNetV2"}
    qtbot.waitUntil(lambda: window.checker.report is not None and not window.checker.ok, timeout=60_000)
    problems = " ".join(window.checker.report.all_problems())
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" in problems
    assert str(tmp_path / "keras" / "models") in problems

    window.form.editors["input_size"].setValue(32)
    weights = window.form.editors["weights"]
    weights.setCurrentIndex(1)
    weights.activated.emit(1)                                  # as a person picks null: random weights
    assert weights.currentText() == "None"
    window.form.editors["trainable"].setChecked(False)
    layer = window.document.experiment.model.layers[row]
    assert layer.params["weights"] is None and layer.params["input_size"] == 32 and layer.trainable is False
    def frozen_and_counted():
        report = window.checker.report
        assert report is not None and report.layers[row].frozen, report and report.format_table()
        assert report.layers[row].params == 2_257_984, report.format_table()
    qtbot.waitUntil(frozen_and_counted, timeout=60_000)
    window.grab().save("/tmp/tapedeck-backbone-form.png")
