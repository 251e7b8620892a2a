"""Runs > Export… writes ONNX and TensorFlow Lite files that were checked in their runtimes first, and
says by how much they differ from the app's model."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.support.run_support import copy_run, trained_run  # noqa: E402


def test_export_dialog_writes_checked_onnx_and_tflite(qtbot, tmp_path):
    import onnxruntime

    from tapedeck.engine.runs.exports import load_run_model
    from tapedeck.gui.runs.export_dialog import ExportDialog

    run = copy_run(trained_run(), tmp_path)
    dialog = ExportDialog(run)
    qtbot.addWidget(dialog)
    assert "ONNX" in dialog.checks["onnx"].text()
    dialog.choose({"onnx", "tflite"})
    assert dialog.export()
    qtbot.waitUntil(lambda: dialog.results is not None, timeout=120_000)
    assert [r[2] for r in dialog.results] == ["", ""], dialog.results
    paths = {fmt: path for fmt, path, _problem in dialog.results}
    assert paths["onnx"] == str(run / "exports" / "model.onnx")
    assert set(dialog.differences) == {"onnx", "tflite"} and max(dialog.differences.values()) <= 1e-4
    status = dialog.status.text()
    assert "checked in onnxruntime: largest difference" in status and "checked in LiteRT" in status

    x = np.random.default_rng(1).random((4, 8, 8, 1), dtype=np.float32)
    session = onnxruntime.InferenceSession(paths["onnx"], providers=["CPUExecutionProvider"])
    predicted = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(predicted, np.asarray(load_run_model(run)(x, training=False)), atol=1e-4)
