"""`tapedeck export --format onnx`: the file onnxruntime loads, the check's figure printed, and a
missing package named in one line (exit 2)."""
import sys

import numpy as np

from tapedeck.engine.cli.main import main
from tapedeck.engine.runs.exports import load_run_model
from tests.support.run_support import copy_run, trained_run


def test_export_onnx_prints_the_check_and_predicts_like_the_model(tmp_path, capsys):
    import onnxruntime

    run = copy_run(trained_run(), tmp_path)
    assert main(["export", str(run), "--format", "onnx"]) == 0
    target = run / "exports" / "model.onnx"
    out = capsys.readouterr().out
    assert f"wrote {target}" in out and "predicts as the model does, largest difference" in out
    x = np.random.default_rng(3).random((5, 8, 8, 1), dtype=np.float32)
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    predicted = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(predicted, np.asarray(load_run_model(run)(x, training=False)), atol=1e-4)


def test_export_onnx_without_tf2onnx_names_the_package(tmp_path, capsys, monkeypatch):
    run = copy_run(trained_run(), tmp_path)
    monkeypatch.setitem(sys.modules, "tf2onnx.convert", None)
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install tf2onnx" in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()
