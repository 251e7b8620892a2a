"""The Backbone layer: keras.applications behind the catalogue. Shapes and counts (trainable vs frozen)
in the check, the fine-tuning rules, ImageNet weights read offline from Keras's cache (a file of the real
format written into a temporary KERAS_HOME first), a clear message when the file is missing, and a saved
model that reloads without the weights file."""
import h5py
import numpy as np
import pytest

from tapedeck.engine.model.build import BuildError, build_model
from tapedeck.engine.model.check import check
from tapedeck.engine.spec import backbones
from tapedeck.engine.spec.experiment import Experiment

keras = pytest.importorskip("keras")


def backbone_experiment(weights=None, trainable=False, architecture="MobileNetV3Small", loop="fit", **params):
    backbone = {"type": "Backbone", "architecture": architecture, "input_size": 32, "weights": weights,
                "trainable": trainable, **params}
    return Experiment.from_dict({
        "format": "tapedeck/1", "name": "backbone",
        "data": {"source": "digits", "limit": 64, "validation_split": 0.25},
        "model": {"api": "functional", "layers": [backbone, {"type": "GlobalAveragePooling2D"},
                                                   {"type": "Dense", "units": 10, "activation": "softmax"}]},
        "training": {"epochs": 2, "batch_size": 32, "seed": 0, "loop": loop}})


def test_check_counts_the_frozen_backbone_apart_from_the_head():
    report = check(backbone_experiment(), (8, 8, 1), 10)
    assert report.ok, report.all_problems()
    row = report.layers[0]
    assert row.output_shape == (1, 1, 576) and row.frozen
    assert row.params == 939_120 and row.params_text == "939,120 frozen"
    assert (report.trainable, report.non_trainable) == (5_770, 939_120)
    trainable = check(backbone_experiment(trainable=True), (8, 8, 1), 10)
    # trainable: only BatchNormalization's moving statistics stay out of the gradient
    assert 0 < trainable.non_trainable < 20_000 and trainable.trainable + trainable.non_trainable == 944_890
    resnet = check(backbone_experiment(architecture="ResNet50"), (8, 8, 1), 10)
    assert resnet.layers[0].params == 23_587_712 and resnet.layers[0].output_shape == (1, 1, 2048)


def test_fine_tuning_rules_are_plain_words():
    def problems(**kwargs):
        return " | ".join(check(backbone_experiment(**kwargs), (8, 8, 1), 10).all_problems())

    assert "needs a frozen backbone" in problems(trainable=True, unfreeze_at_epoch=2)
    assert "set training.loop to fit or tape" in problems(loop="train_step", unfreeze_at_epoch=2)
    from tapedeck.engine.spec.catalogue import check_params
    from tapedeck.engine.spec.experiment import LayerSpec

    def param_problems(**params):
        return " | ".join(check_params(LayerSpec("Backbone", params), "layer"))

    assert "alpha must be 1.0" in param_problems(architecture="ResNet50", alpha=0.5)
    assert "ImageNet weights for alpha 0.75, 1.0" in param_problems(architecture="MobileNetV3Small", alpha=0.5)
    assert param_problems(architecture="MobileNetV3Small", alpha=0.5, weights=None) == ""
    assert "grayscale (1 channel) or RGB" in " ".join(check(backbone_experiment(), (8, 8, 2), 10).all_problems())


def write_cached_weights(home, architecture="MobileNetV3Small", alpha=1.0):
    """A freshly built network's weights in the legacy .h5 layout the published files use, under the name
    keras.applications looks for; returns the weights written."""
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(7)
    network = getattr(keras.applications, architecture)(include_top=False, weights=None, input_shape=(32, 32, 3))
    folder = home / "models"
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / backbones.weights_file_name(architecture, alpha, 32), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, network)
    return network.get_weights()


def test_imagenet_weights_load_offline_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    expected = write_cached_weights(tmp_path)
    experiment = backbone_experiment(weights="imagenet")
    assert check(experiment, (8, 8, 1), 10).ok
    model = build_model(experiment, (8, 8, 1))
    loaded = model.get_layer("backbone").network.get_weights()
    assert len(loaded) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(loaded, expected))
    # the model saved by a run reloads without the cache (its own weights follow in the file)
    path = tmp_path / "model.keras"
    model.save(path)
    (tmp_path / "models" / backbones.weights_file_name("MobileNetV3Small")).unlink()
    again = keras.models.load_model(path)
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-5)


def test_a_missing_weights_file_is_one_message_naming_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    experiment = backbone_experiment(weights="imagenet", architecture="MobileNetV2")
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert backbones.weights_file_name("MobileNetV2", 1.0, 32) != name   # 32 is not a published size: 224
    problems = check(experiment, (8, 8, 1), 10).all_problems()
    assert len(problems) == 1, problems
    text = problems[0]
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" in text
    assert str(tmp_path / "empty" / "models") in text and "weights to null" in text
    with pytest.raises(BuildError, match="not in Keras's cache: put mobilenet_v2_weights"):
        build_model(experiment, (8, 8, 1))
