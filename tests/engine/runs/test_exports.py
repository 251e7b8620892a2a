"""Every export loaded back with the plain library, predicting what the app's model predicts."""
import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.runs.exports import (
    ExportError,
    default_export_path,
    export_run,
    load_run_model,
    save_keras,
    save_onnx,
    save_savedmodel,
    save_tflite,
)
from tapedeck.engine.runs.folder import RunFolder
from tests.support.run_support import copy_run, short_experiment, trained_run


@pytest.fixture(scope="module")
def run_copy(tmp_path_factory):
    """Exports write into the run folder: work on a copy, keep the shared run pristine."""
    return copy_run(trained_run(), tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="module")
def inputs_and_reference(run_copy):
    from tapedeck.engine.data.datasets import load_dataset
    from tapedeck.engine.spec.experiment import load_experiment

    dataset = load_dataset(load_experiment(run_copy / "experiment.json").data)
    x = dataset.x_test[:24]
    return x, np.asarray(load_run_model(run_copy)(x, training=False))


def tflite_predict(path_or_bytes, x):
    """LiteRT's interpreter, as an app on a phone would load the file (tf.lite.Interpreter is deprecated)."""
    from tapedeck.engine.runs.portable import litert_predict

    content = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return litert_predict(content, x)


def test_keras_file_reloads_with_plain_keras(run_copy, inputs_and_reference):
    import keras

    x, reference = inputs_and_reference
    result = export_run(run_copy, "keras")
    assert result.path == run_copy / "exports" / "model.keras" and result.bytes == result.path.stat().st_size
    reloaded = keras.models.load_model(result.path)
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False)), reference, atol=1e-5)
    assert (run_copy / "model.keras").stat().st_size > result.bytes  # the run's own file keeps its optimizer


def test_savedmodel_serves_the_same_predictions(run_copy, inputs_and_reference):
    import tensorflow as tf

    x, reference = inputs_and_reference
    result = export_run(run_copy, "savedmodel")
    assert (result.path / "saved_model.pb").is_file()
    loaded = tf.saved_model.load(str(result.path))
    serving = loaded.signatures["serving_default"]
    (output,) = serving(tf.constant(x)).values()
    np.testing.assert_allclose(output.numpy(), reference, atol=1e-5)
    again = export_run(run_copy, "savedmodel")  # replaces the old folder whole, leaves no temporaries
    assert again.path == result.path
    assert sorted(p.name for p in result.path.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name) == []


def test_tflite_interpreter_agrees(run_copy, inputs_and_reference):
    x, reference = inputs_and_reference
    result = export_run(run_copy, "tflite")
    assert result.path.suffix == ".tflite" and result.bytes > 10_000
    np.testing.assert_allclose(tflite_predict(result.path, x), reference, atol=1e-4)


def onnx_predict(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_onnx_runtime_agrees(run_copy, inputs_and_reference):
    x, reference = inputs_and_reference
    result = export_run(run_copy, "onnx")
    assert result.path == run_copy / "exports" / "model.onnx" and result.bytes > 10_000
    assert result.max_difference is not None and result.max_difference <= 1e-4
    np.testing.assert_allclose(onnx_predict(result.path, x), reference, atol=1e-4)
    assert export_run(run_copy, "tflite").max_difference <= 1e-4


def test_an_export_whose_runtime_disagrees_is_not_written(run_copy, tmp_path, monkeypatch):
    from tapedeck.engine.runs import portable

    real = portable.onnx_predict
    monkeypatch.setattr(portable, "onnx_predict", lambda content, x: real(content, x) + 0.01)
    refused = r"the onnx export predicts differently .* above 0\.0001\); it was not written"
    with pytest.raises(ExportError, match=refused):
        export_run(run_copy, "onnx", out=tmp_path / "wrong.onnx")
    assert not (tmp_path / "wrong.onnx").exists()


@pytest.mark.parametrize("module, package", [("tf2onnx.convert", "tf2onnx"), ("onnxruntime", "onnxruntime"),
                                             ("ai_edge_litert.interpreter", "ai-edge-litert")])
def test_a_missing_runtime_package_is_named(run_copy, tmp_path, monkeypatch, module, package):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError, as when not installed
    fmt = "tflite" if "litert" in module else "onnx"
    with pytest.raises(ExportError, match=f"needs the Python package {package}, which is not installed here; "
                                          f"install it with: pip install {package}"):
        export_run(run_copy, fmt, out=tmp_path / f"m.{fmt}")


def test_subclassed_model_exports_in_every_format(tmp_path):
    """The registered Model subclass, branches included (the residual preset), through all three formats."""
    import keras
    import tensorflow as tf

    from tapedeck.engine.model.build import build_model

    model = build_model(short_experiment(preset="digits_residual"), (8, 8, 1), api="subclassing")
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32)
    reference = np.asarray(model(x, training=False))
    reloaded = keras.models.load_model(save_keras(model, tmp_path / "sub.keras"))
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False)), reference, atol=1e-5)
    served = tf.saved_model.load(str(save_savedmodel(model, tmp_path / "served")))
    np.testing.assert_allclose(served.serve(tf.constant(x)).numpy(), reference, atol=1e-5)
    np.testing.assert_allclose(tflite_predict(save_tflite(model, tmp_path / "sub.tflite"), x), reference, atol=1e-4)
    np.testing.assert_allclose(onnx_predict(save_onnx(model, tmp_path / "sub.onnx"), x), reference, atol=1e-4)


def test_script_and_history_exports(run_copy, tmp_path):
    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.spec.experiment import load_experiment

    script = export_run(run_copy, "script", api="subclassing", loop="tape")
    assert script.path.name == "train_subclassing_tape.py"
    text = script.path.read_text()
    from tapedeck.engine.codegen.formatting import ruff_formatted

    assert text == ruff_formatted(generate_code(load_experiment(run_copy / "experiment.json"), api="subclassing",
                                                loop="tape"))
    compile(text, str(script.path), "exec")
    history = export_run(run_copy, "history", out=tmp_path)
    assert history.path == tmp_path / "history.csv"
    with open(history.path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = RunFolder(run_copy).read_history()
    assert [float(r["val_accuracy"]) for r in rows] == [r["val_accuracy"] for r in expected]


def test_mistakes_are_one_clear_message(run_copy, tmp_path):
    with pytest.raises(ExportError, match=r"must end in \.tflite"):
        export_run(run_copy, "tflite", out=tmp_path / "model.bin")
    with pytest.raises(ExportError, match="not a run folder"):
        export_run(tmp_path, "keras")
    with pytest.raises(ExportError, match="expected one of keras"):
        export_run(run_copy, "pytorch")
    with pytest.raises(ExportError, match=r"onnx export must end in \.onnx"):
        export_run(run_copy, "onnx", out=tmp_path / "model.bin")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="other files in it"):
        export_run(run_copy, "savedmodel", out=tmp_path / "busy")
    empty = tmp_path / "empty-run"
    empty.mkdir()
    (empty / "experiment.json").write_text((run_copy / "experiment.json").read_text())
    with pytest.raises(ExportError, match="holds no model.keras"):
        export_run(empty, "keras")
    assert default_export_path(run_copy, "savedmodel") == run_copy / "exports" / "saved_model"


def _augmented_experiment(api):
    from tapedeck.engine.spec.experiment import LayerSpec

    experiment = short_experiment(api=api)
    layers = [LayerSpec("RandomFlip"), LayerSpec("RandomRotation", {"factor": 0.2}),
              LayerSpec("RandomZoom", {"height_factor": 0.2}),
              LayerSpec("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same"}, name="a"),
              LayerSpec("BatchNormalization"), LayerSpec("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same"})]
    if api != "sequential":  # a branch around the second convolution
        layers.append(LayerSpec("Add", inputs=["a", "conv2d"]))
    layers += [LayerSpec("Flatten"), LayerSpec("Dense", {"units": 10, "activation": "softmax"})]
    experiment.model.layers = layers
    return experiment


@pytest.mark.parametrize("api", ["sequential", "functional", "subclassing"])
def test_augmentation_layers_are_left_out_of_served_models(api, tmp_path):
    """Keras traces RandomFlip & co. with training=True: exported as is, they augment every request."""
    import tensorflow as tf

    from tapedeck.engine.model.build import build_model
    from tapedeck.engine.model.inference import augmentation_layer_names, inference_model

    model = build_model(_augmented_experiment(api), (8, 8, 1))
    assert augmentation_layer_names(model) == ["random_flip", "random_rotation", "random_zoom"]
    x = np.random.default_rng(3).random((6, 8, 8, 1), dtype=np.float32)
    before = np.asarray(model(x, training=False))
    assert np.abs(np.asarray(model(x)) - before).max() > 1e-3  # the trap: the default call augments
    reference = np.asarray(model(x, training=False))  # (that call also moved BatchNormalization's statistics)
    twin = inference_model(model)  # wiring read from the model itself, no experiment given
    assert augmentation_layer_names(twin) == [] and twin.count_params() == model.count_params()
    served = tf.saved_model.load(str(save_savedmodel(model, tmp_path / "served")))
    np.testing.assert_allclose(served.serve(tf.constant(x)).numpy(), reference, atol=1e-5)
    np.testing.assert_allclose(tflite_predict(save_tflite(model, tmp_path / "m.tflite"), x), reference, atol=1e-4)
    np.testing.assert_allclose(onnx_predict(save_onnx(model, tmp_path / "m.onnx"), x), reference, atol=1e-4)


def test_tflite_turns_a_unit_normalized_zero_vector_into_nan_and_the_check_refuses_it(tmp_path):
    """Measured: Keras's UnitNormalization gives 0 for a zero vector, TFLite's L2_NORMALIZATION NaN. The
    check before writing catches it in words; onnxruntime agrees with Keras."""
    import keras

    from tapedeck.engine.runs import portable
    from tapedeck.engine.runs.exports import tflite_bytes

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.UnitNormalization()(inputs))
    x = np.array([[0, 0, 0, 0], [1, 2, 0, 0]], dtype=np.float32)
    assert np.isnan(tflite_predict(tflite_bytes(model), x)[0]).all()
    with pytest.raises(ExportError, match="gives NaN where the app's model gives numbers"):
        portable.verify("tflite", model, tflite_bytes(model), x)
    assert portable.verify("onnx", model, portable.onnx_bytes(model), x) <= 1e-6


@pytest.mark.parametrize("api", ["functional", "subclassing"])
def test_the_wider_catalogue_exports_to_tflite_and_onnx(api, tmp_path):
    """Every layer type added for issue 15 (RandomCrop centre-crops at inference: kept, not skipped)."""
    import keras

    from tapedeck.engine.model.build import build_model
    from tests.engine.codegen.test_codegen_wide_catalogue import wide_experiment

    keras.utils.set_random_seed(0)
    experiment = wide_experiment()
    model = build_model(experiment, (8, 8, 1), api)
    x = np.random.default_rng(5).random((6, 8, 8, 1), dtype=np.float32)
    reference = np.asarray(model(x, training=False))
    np.testing.assert_allclose(tflite_predict(save_tflite(model, tmp_path / "w.tflite", experiment), x),
                               reference, atol=1e-4)
    np.testing.assert_allclose(onnx_predict(save_onnx(model, tmp_path / "w.onnx", experiment), x), reference,
                               atol=1e-4)
