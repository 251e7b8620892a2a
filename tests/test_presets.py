"""The presets: canonical files, the tutorial's architectures in every api × loop, a residual net only
Functional and subclassing can build, and an offline default that really learns digits."""
from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from tapedeck.engine.model.check import check
from tapedeck.engine.spec import graph
from tapedeck.engine.spec.experiment import DEFAULT_PRESET, dumps, list_presets, load_preset

APIS = ("sequential", "functional", "subclassing")
LOOPS = ("fit", "tape")
TUTORIAL = {
    # preset family -> (data source, [(type, key params)...])
    "mnist_cnn": ("mnist", [("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
                            ("Conv2D", {"filters": 64, "kernel_size": 3, "activation": "relu"}),
                            ("Flatten", {}),
                            ("Dense", {"units": 128, "activation": "relu"}),
                            ("Dense", {"units": 10, "activation": "softmax"})]),
    "cifar100_cnn": ("cifar100", [("Conv2D", {"filters": 16, "kernel_size": 3, "activation": "relu"}),
                                  ("MaxPooling2D", {"pool_size": 2}),
                                  ("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
                                  ("MaxPooling2D", {"pool_size": 2}),
                                  ("Flatten", {}),
                                  ("Dense", {"units": 256, "activation": "relu"}),
                                  ("Dense", {"units": 100, "activation": "softmax"})]),
}
SHAPES = {"digits": ((8, 8, 1), 10), "mnist": ((28, 28, 1), 10), "cifar100": ((32, 32, 3), 100)}


def test_preset_files_are_canonical_and_named_after_their_file():
    folder = resources.files("tapedeck.resources.presets")
    names = list_presets()
    assert DEFAULT_PRESET == "digits_cnn" and "digits_cnn" in names and "digits_residual" in names
    for name in names:
        text = (folder / f"{name}.json").read_text(encoding="utf-8")
        experiment = load_preset(name)
        assert text == dumps(experiment), f"{name}.json is not in the canonical layout"
        assert experiment.name == name


@pytest.mark.parametrize("family", sorted(TUTORIAL))
def test_tutorial_cnns_in_every_api_and_loop(family):
    source, layers = TUTORIAL[family]
    for api in APIS:
        for loop in LOOPS:
            experiment = load_preset(f"{family}_{api}_{loop}")
            assert (experiment.model.api, experiment.training.loop) == (api, loop)
            assert experiment.data.source == source
            assert [(spec.type, spec.params) for spec in experiment.model.layers] == layers
            shape, classes = SHAPES[source]
            report = check(experiment, shape, classes)
            assert report.ok, report.all_problems()


def test_parameter_counts():
    """The figures a reader can compare with the tutorial's model.summary()."""
    expected = {
        # conv 3*3*1*32+32, conv 3*3*32*64+64, dense (4*4*64)*64+64, dense 64*10+10
        "digits_cnn": 320 + 18_496 + 65_600 + 650,
        # stem, conv_a, conv_b (3*3*32*32+32 each after the first), dense (4*4*32)*64+64, dense 64*10+10
        "digits_residual": 320 + 9_248 + 9_248 + 32_832 + 650,
        # conv 320, conv 18,496, dense (24*24*64)*128+128, dense 128*10+10
        "mnist_cnn_sequential_fit": 320 + 18_496 + 4_718_720 + 1_290,
        # conv 448, conv 4,640, dense (6*6*32)*256+256, dense 256*100+100
        "cifar100_cnn_sequential_fit": 448 + 4_640 + 295_168 + 25_700,
    }
    for name, count in expected.items():
        experiment = load_preset(name)
        shape, classes = SHAPES[experiment.data.source]
        report = check(experiment, shape, classes)
        assert report.ok, report.all_problems()
        assert report.trainable == count, (name, report.trainable)
        assert report.non_trainable == 0


def test_residual_preset_has_a_skip_connection_that_sequential_refuses():
    from tapedeck.engine.model.build import BuildError, build_model

    experiment = load_preset("digits_residual")
    nodes, problems = graph.resolve(experiment.model.layers)
    assert not problems and not graph.is_chain(nodes)
    add = next(node for node in nodes if node.spec.type == "Add")
    assert add.inputs == ["stem", "conv_b"]
    assert experiment.model.api == "functional"
    for api in ("functional", "subclassing"):
        assert check(experiment, (8, 8, 1), 10, api=api).ok
    with pytest.raises(BuildError, match="Sequential supports a single chain"):
        build_model(experiment, (8, 8, 1), "sequential")


def test_default_preset_learns_digits_offline():
    """The app's default reaches ≥ 95% test accuracy on digits within its 10 epochs (plain model.fit on
    the app's data, so the figure is the preset's, not one loop's)."""
    import keras

    from tapedeck.engine.data.datasets import load_dataset
    from tapedeck.engine.model.build import build_model

    experiment = load_preset("digits_cnn")
    training = experiment.training
    assert (training.epochs, training.seed) == (10, 0)
    data = load_dataset(experiment.data)
    keras.utils.set_random_seed(training.seed)
    model = build_model(experiment, data.input_shape)
    model.compile(optimizer=keras.optimizers.Adam(training.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, batch_size=training.batch_size, epochs=training.epochs,
              validation_data=(data.x_val, data.y_val), verbose=0)
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    assert accuracy >= 0.95, accuracy
    assert np.isfinite(accuracy)
