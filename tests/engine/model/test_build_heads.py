"""Several-input / several-head presets: the Functional API and the subclass build the same model."""
import numpy as np
import pytest

from tapedeck.engine.data.datasets import describe_feeds
from tapedeck.engine.model.build import build_model
from tapedeck.engine.model.check import check
from tapedeck.engine.spec.experiment import list_presets, load_preset
from tapedeck.engine.spec.heads import is_multi
from tests.support.datafiles import write_digits_with_features

SEVERAL = [name for name in list_presets() if is_multi(load_preset(name).model)]


def test_the_several_head_presets_are_there():
    assert {"digits_two_heads_functional", "digits_two_heads_subclassing", "mnist_two_heads_functional",
            "cifar100_fine_coarse_subclassing", "npz_image_and_features"} <= set(SEVERAL)


@pytest.mark.parametrize("name", SEVERAL)
def test_functional_and_subclass_agree_on_names_counts_and_outputs(name, tmp_path):
    experiment = load_preset(name)
    if experiment.data.source == "npz":
        experiment.data.path = str(write_digits_with_features(tmp_path / "digits_with_features.npz"))
    feeds = describe_feeds(experiment.data)
    report = check(experiment, feeds.shapes["x"], len(feeds.targets["label"][1]), feeds=feeds)
    assert report.ok, report.all_problems()
    extra = {k: v for k, v in feeds.shapes.items() if k != "x"}
    functional = build_model(experiment, feeds.shapes["x"], "functional", extra_shapes=extra)
    subclass = build_model(experiment, feeds.shapes["x"], "subclassing", extra_shapes=extra)
    assert functional.count_params() == subclass.count_params() == report.trainable + report.non_trainable
    rng = np.random.default_rng(0)
    for layer in subclass.stack:
        weights = [rng.normal(0, 0.3, w.shape).astype("float32") for w in layer.weights]
        layer.set_weights(weights)
        functional.get_layer(layer.name).set_weights(weights)
    x = {name: rng.random((3, *shape), dtype="float32") for name, shape in report.inputs.items()}
    a, b = functional(x, training=False), subclass(x, training=False)
    assert set(a) == set(b) == {head[0] for head in report.heads}
    for head in a:
        np.testing.assert_allclose(np.asarray(a[head]), np.asarray(b[head]), atol=1e-5)
