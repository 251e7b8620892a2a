"""The inference twin of a model with several inputs and heads: the same trained layers rewired without the
augmentation layers, taking and returning the same dicts, so exports skip augmentation and feature maps can
read a subclass's layers."""
from __future__ import annotations

import numpy as np
import pytest

from tests.engine.runs.test_exports_several import _two_inputs


def _inputs(seed=2):
    rng = np.random.default_rng(seed)
    return {"image": rng.random((4, 8, 8, 1), dtype=np.float32), "extra": rng.random((4, 5), dtype=np.float32)}


@pytest.mark.parametrize("api", ["functional", "subclassing"])
def test_the_twin_takes_and_returns_the_same_dicts_without_augmentation(api):
    from tapedeck.engine.model.build import build_model
    from tapedeck.engine.model.inference import augmentation_layer_names, functional_twin, input_shapes

    experiment = _two_inputs(api)
    model = build_model(experiment, (8, 8, 1), extra_shapes={"x_extra": (5,)})
    x = _inputs()
    reference = {k: np.asarray(v) for k, v in model(x, training=False).items()}
    assert input_shapes(model) == {"image": (8, 8, 1), "extra": (5,)}
    for given in (experiment, None):   # wiring from the experiment, or read from the model itself
        twin = functional_twin(model, given, skip_augmentation=True)
        assert twin is not None and augmentation_layer_names(twin) == []
        assert {t.name for t in twin.inputs} == {"image", "extra"}
        out = twin(x, training=False)
        assert set(out) == {"digit", "size"}
        for name, value in reference.items():
            np.testing.assert_allclose(np.asarray(out[name]), value, atol=1e-6)
        # The twin shares the trained layers: no weight is copied.
        assert {id(w) for w in twin.weights} <= {id(w) for w in model.weights}
    again = functional_twin(functional_twin(model))   # a twin's own config rewires too (dict inputs, heads)
    np.testing.assert_allclose(np.asarray(again(x, training=False)["size"]), reference["size"], atol=1e-6)


@pytest.mark.parametrize("api", ["functional", "subclassing"])
def test_feature_maps_of_a_two_input_model_come_from_its_image(api):
    from tapedeck.engine.analysis.feature_maps import feature_maps
    from tapedeck.engine.model.build import build_model

    model = build_model(_two_inputs(api), (8, 8, 1), extra_shapes={"x_extra": (5,)})
    image = _inputs()["image"][0]
    maps = feature_maps(model, "conv2d", image)
    conv = next(layer for layer in (model.stack if api == "subclassing" else model.layers) if layer.name == "conv2d")
    np.testing.assert_allclose(maps, np.asarray(conv(image[np.newaxis]))[0], atol=1e-6)   # RandomFlip: identity
    assert maps.shape == (6, 6, 4)
