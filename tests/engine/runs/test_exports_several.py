"""Exports of models with several inputs and heads: .keras, SavedModel (a serving signature naming each input
and head), TensorFlow Lite and ONNX reload in the plain libraries and predict every head as the app does."""
from __future__ import annotations

import numpy as np
import pytest

from tapedeck.engine.runs.exports import ExportError, export_run, save_keras, save_onnx, save_savedmodel, save_tflite
from tapedeck.engine.runs.portable import litert_predict
from tests.support.run_support import copy_run, short_experiment

TOLERANCE = 1e-4   # as for one head (engine.runs.portable.TOLERANCE)
MEASURED: dict = {}


def _largest(got: dict, reference: dict) -> float:
    assert set(got) == set(reference), (sorted(got), sorted(reference))
    for name in reference:
        assert np.shape(got[name]) == np.shape(reference[name]), name
    return max(float(np.max(np.abs(np.asarray(got[name]) - reference[name]))) for name in reference)


@pytest.fixture(scope="module")
def two_head_run(tmp_path_factory):
    """A real run of the digits_two_heads preset (digit + derived parity), one epoch on 200 images."""
    from tapedeck.engine.training.events import Finished
    from tapedeck.engine.training.run import run

    experiment = short_experiment(name="two-heads", preset="digits_two_heads_functional", epochs=1)
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path_factory.mktemp("runs"))
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed", events[-1]
    return copy_run(run_dir, tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="module")
def test_images_and_reference(two_head_run):
    from tapedeck.engine.data.datasets import load_dataset
    from tapedeck.engine.runs.exports import load_run_model
    from tapedeck.engine.spec.experiment import load_experiment

    dataset = load_dataset(load_experiment(two_head_run / "experiment.json").data)
    x = {"image": dataset.x_test[:24]}
    out = load_run_model(two_head_run)(x, training=False)
    return x, {name: np.asarray(value) for name, value in out.items()}


def test_a_two_head_run_exports_in_every_format(two_head_run, test_images_and_reference):
    import keras
    import tensorflow as tf

    x, reference = test_images_and_reference
    assert set(reference) == {"digit", "parity"}
    reloaded = keras.models.load_model(export_run(two_head_run, "keras").path)
    MEASURED["keras"] = _largest({k: np.asarray(v) for k, v in reloaded(x, training=False).items()}, reference)
    served = tf.saved_model.load(str(export_run(two_head_run, "savedmodel").path))
    signature = served.signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["image"]
    assert set(signature.structured_outputs) == {"digit", "parity"}
    MEASURED["savedmodel"] = _largest({k: v.numpy() for k, v in signature(image=tf.constant(x["image"])).items()},
                                      reference)
    tflite = export_run(two_head_run, "tflite")
    assert tflite.max_difference is not None and tflite.max_difference <= TOLERANCE
    MEASURED["tflite"] = _largest(litert_predict(tflite.path.read_bytes(), x), reference)
    onnx = export_run(two_head_run, "onnx")
    assert onnx.max_difference is not None and onnx.max_difference <= TOLERANCE
    MEASURED["onnx"] = _largest(_onnxruntime(onnx.path, x), reference)
    assert MEASURED["keras"] <= 1e-5 and MEASURED["savedmodel"] <= 1e-5, MEASURED
    assert MEASURED["tflite"] <= TOLERANCE and MEASURED["onnx"] <= TOLERANCE, MEASURED
    print("largest differences on 24 test images:", MEASURED)


def _onnxruntime(path, x: dict) -> dict:
    """onnxruntime as a person would call it: inputs by name, outputs by name."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(x)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, x)))


def _two_inputs(api):
    """An image (through a RandomFlip, which exports must leave out) and a feature vector; two heads."""
    from tapedeck.engine.spec.experiment import Experiment

    return Experiment.from_dict({
        "format": "tapedeck/1", "name": "two inputs",
        "data": {"source": "digits"},
        "model": {"api": api,
                  "inputs": [{"name": "image", "data": "x"}, {"name": "extra", "data": "x_extra"}],
                  "layers": [{"type": "RandomFlip"},
                             {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
                             {"type": "BatchNormalization"},
                             {"type": "Flatten", "name": "flat"},
                             {"type": "Dense", "name": "extra_dense", "inputs": ["extra"], "units": 8},
                             {"type": "Concatenate", "name": "joined", "inputs": ["flat", "extra_dense"]},
                             {"type": "Dense", "name": "digit", "units": 10, "activation": "softmax"},
                             {"type": "Dense", "name": "size", "inputs": ["joined"], "units": 1}],
                  "outputs": [{"layer": "digit"},
                              {"layer": "size", "target": "size", "loss": "mean_squared_error"}]},
        "training": {"epochs": 1},
    })


@pytest.mark.parametrize("api", ["functional", "subclassing"])
def test_a_two_input_model_exports_with_named_inputs_and_heads(api, tmp_path):
    import keras
    import tensorflow as tf

    from tapedeck.engine.model.build import build_model
    from tapedeck.engine.model.inference import augmentation_layer_names, inference_model

    experiment = _two_inputs(api)
    model = build_model(experiment, (8, 8, 1), extra_shapes={"x_extra": (5,)})
    rng = np.random.default_rng(1)
    x = {"image": rng.random((6, 8, 8, 1), dtype=np.float32), "extra": rng.random((6, 5), dtype=np.float32)}
    reference = {k: np.asarray(v) for k, v in model(x, training=False).items()}
    twin = inference_model(model)   # wiring read from the model itself
    assert augmentation_layer_names(twin) == [] and twin.count_params() == model.count_params()
    measured = {}
    reloaded = keras.models.load_model(save_keras(model, tmp_path / "m.keras"))
    measured["keras"] = _largest({k: np.asarray(v) for k, v in reloaded(x, training=False).items()}, reference)
    signature = tf.saved_model.load(str(save_savedmodel(model, tmp_path / "served", experiment))) \
        .signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"image", "extra"}
    served = signature(image=tf.constant(x["image"]), extra=tf.constant(x["extra"]))
    measured["savedmodel"] = _largest({k: v.numpy() for k, v in served.items()}, reference)
    measured["tflite"] = _largest(litert_predict(save_tflite(model, tmp_path / "m.tflite", experiment).read_bytes(), x),
                                  reference)
    measured["onnx"] = _largest(_onnxruntime(save_onnx(model, tmp_path / "m.onnx", experiment), x), reference)
    assert measured["keras"] <= 1e-5 and measured["savedmodel"] <= 1e-5, measured
    assert measured["tflite"] <= TOLERANCE and measured["onnx"] <= TOLERANCE, measured
    print(api, "largest differences:", measured)


def test_an_export_one_head_of_which_disagrees_is_refused(two_head_run, test_images_and_reference, monkeypatch):
    """The check before writing compares every head: one head off by 0.01, or a head missing, is refused."""
    from tapedeck.engine.runs import portable
    from tapedeck.engine.runs.exports import load_run_model

    model = load_run_model(two_head_run)
    x, reference = test_images_and_reference
    off = {**reference, "parity": reference["parity"] + 0.01}
    monkeypatch.setattr(portable, "litert_predict", lambda content, x: off)
    with pytest.raises(ExportError, match=r"the tflite export predicts differently .* above 0\.0001\); it was not"):
        portable.verify("tflite", model, b"", x)
    monkeypatch.setattr(portable, "onnx_predict", lambda content, x: {"digit": reference["digit"]})
    with pytest.raises(ExportError, match="the onnx export has outputs digit where the app's model has digit, parity"):
        portable.verify("onnx", model, b"", x)
