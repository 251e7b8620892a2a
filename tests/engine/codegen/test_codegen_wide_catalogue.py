"""The wider layer catalogue end to end: one branched digits stack using the layers added for issue 15
checks, builds the same model in the engine and in the exported code, and its scripts train one epoch
under plain ``python``."""
from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from tapedeck.engine.codegen.script import generate_code, model_code
from tapedeck.engine.spec.experiment import Experiment, LayerSpec, load_preset
from tests.engine.codegen.test_codegen import ACCURACY_LINE, _exec_model, _run_script, _short

NEW_TYPES = {"Conv2DTranspose", "UpSampling2D", "ZeroPadding2D", "Cropping2D", "LeakyReLU", "PReLU", "ReLU",
             "ELU", "Softmax", "GaussianNoise", "GaussianDropout", "Resizing", "CenterCrop", "RandomCrop",
             "RandomContrast", "RandomBrightness", "GroupNormalization", "UnitNormalization", "Subtract",
             "Minimum", "Dot"}


def wide_experiment() -> Experiment:
    """Digits (8×8×1, pixels in [0, 1]) through every new layer type; the shapes are in the comments."""
    layers = [
        LayerSpec("RandomContrast", {"factor": 0.2, "value_range": [0, 1]}),
        LayerSpec("RandomBrightness", {"factor": 0.1, "value_range": [0, 1]}),
        LayerSpec("RandomCrop", {"height": 7, "width": 7}),                       # 7×7×1
        LayerSpec("Resizing", {"height": 8, "width": 8}),                         # 8×8×1
        LayerSpec("GaussianNoise", {"stddev": 0.05}),
        LayerSpec("ZeroPadding2D", {"padding": [[1, 1], [1, 1]]}),                # 10×10×1
        LayerSpec("Conv2D", {"filters": 8, "kernel_size": 3}, name="c1"),         # 8×8×8
        LayerSpec("GroupNormalization", {"groups": 4}),
        LayerSpec("LeakyReLU", {"negative_slope": 0.1}),
        LayerSpec("Conv2DTranspose", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"}),  # 16×16
        LayerSpec("PReLU", {"shared_axes": [1, 2]}),
        LayerSpec("Cropping2D", {"cropping": [[2, 2], [2, 2]]}),                  # 12×12×8
        LayerSpec("CenterCrop", {"height": 8, "width": 8}, name="t"),             # 8×8×8
        LayerSpec("ReLU", {"max_value": 6.0}, name="r", inputs=["t"]),
        LayerSpec("ELU", {}, name="e", inputs=["t"]),
        # r - c1, not r - e: ReLU6(t) - ELU(t) is exactly 0 wherever 0 < t < 6, and a vector of zeros
        # through UnitNormalization is where TFLite (NaN) and Keras (0) part ways.
        LayerSpec("Subtract", {}, name="diff", inputs=["r", "c1"]),
        LayerSpec("Minimum", {}, name="low", inputs=["diff", "e"]),
        LayerSpec("UpSampling2D", {"size": 2, "interpolation": "bilinear"}),     # 16×16×8
        LayerSpec("MaxPooling2D", {"pool_size": 4}),                              # 4×4×8
        LayerSpec("GaussianDropout", {"rate": 0.1}),
        LayerSpec("UnitNormalization", {}),
        LayerSpec("Flatten", {}, name="flat"),                                    # 128
        LayerSpec("Dense", {"units": 16}, name="d1"),
        LayerSpec("Dense", {"units": 16}, name="d2", inputs=["flat"]),
        LayerSpec("Dot", {"axes": -1, "normalize": True}, name="cosine", inputs=["d1", "d2"]),  # 1
        LayerSpec("Concatenate", {}, name="joined", inputs=["d1", "cosine"]),    # 17
        LayerSpec("Dense", {"units": 10}),
        LayerSpec("Softmax", {}),
    ]
    experiment = _short(load_preset("digits_cnn"))
    experiment.name = "wide catalogue"
    experiment.model.api = "functional"
    experiment.model.layers = layers
    return experiment


def test_the_stack_uses_every_new_type_and_checks():
    from tapedeck.engine.model.check import check

    experiment = wide_experiment()
    assert {layer.type for layer in experiment.model.layers} >= NEW_TYPES
    report = check(experiment, (8, 8, 1), 10)
    assert report.ok, report.all_problems()
    shapes = {layer.name: layer.output_shape for layer in report.layers}
    assert shapes["t"] == (8, 8, 8) and shapes["flat"] == (128,) and shapes["cosine"] == (1,)
    assert report.layers[-1].output_shape == (10,)


@pytest.mark.parametrize("api", ["functional", "subclassing"])
def test_exported_model_matches_the_engine_build(api):
    from tapedeck.engine.model.build import build_model

    experiment = wide_experiment()
    reference = build_model(experiment, (8, 8, 1), api)
    exported = _exec_model(model_code(experiment, api), (8, 8, 1))["model"]
    assert exported.count_params() == reference.count_params()
    exported.set_weights(reference.get_weights())
    x = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(exported(x, training=False)),
                               np.asarray(reference(x, training=False)), atol=1e-5)


def test_scripts_with_the_new_layers_train_one_epoch(tmp_path):
    cases = {"wide_functional_fit": generate_code(wide_experiment(), "functional", "fit"),
             "wide_subclassing_tape": generate_code(wide_experiment(), "subclassing", "tape")}
    scripts = []
    for name, text in cases.items():
        (tmp_path / name).mkdir()
        script = tmp_path / name / f"{name}.py"
        script.write_text(text)
        scripts.append(script)
    for type_name in NEW_TYPES:
        assert f"layers.{type_name}(" in cases["wide_functional_fit"], type_name
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run_script, scripts))
    for path, code, stdout, stderr in results:
        last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
        assert code == 0 and ACCURACY_LINE.match(last), f"{path.name}: exit {code}, {last!r}\n{stderr[-2000:]}"
