"""training.fused_update: Adam's update in TensorFlow's fused kernel gives Keras's Adam's weights and state,
keeps Keras's own where the kernel does not apply, and leaves saved models plain Keras."""
from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from tapedeck.engine.cli.main import main
from tapedeck.engine.spec.experiment import Experiment, TrainingSpec, load_preset, save_experiment
from tapedeck.engine.training.fused_update import fuse, unfused_note
from tapedeck.engine.training.optimizers import make_optimizer


def _train(optimizer, layers=None, x=None, y=None, epochs=3):
    """``layers``: a function that makes them, after the seed is set."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), *(layers() if layers else [keras.layers.Dense(16, activation="relu"),
                                                                             keras.layers.Dense(3)])])
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 8)).astype("float32") if x is None else x
    y = np.arange(64) % 3 if y is None else y
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model


def _largest_difference(a, b) -> float:
    pairs = list(zip(a.get_weights(), b.get_weights())) + list(zip(a.optimizer.variables, b.optimizer.variables))
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in pairs)


@pytest.mark.parametrize("make", [lambda: keras.optimizers.Adam(0.01, beta_1=0.5),
                                  lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05)], ids=["adam", "adamw"])
def test_the_fused_update_matches_keras_adam(make):
    fused = make()
    assert fuse(fused)
    plain, fast = _train(make()), _train(fused)
    assert _largest_difference(plain, fast) < 1e-5
    moved = np.abs(fast.get_weights()[0] - _train(make(), epochs=0).get_weights()[0]).max()
    assert moved > 1e-2   # it trained: the weights moved far beyond the rounding allowed above


def test_calls_go_through_the_kernel_and_fall_back_where_it_does_not_apply(monkeypatch):
    """Dense gradients reach ResourceApplyAdam; AMSGrad and an Embedding's sparse gradient take Keras's own
    update (the kernel has neither), which still trains alike."""
    calls = set()   # the shapes of the gradients the kernel was given (at trace time)
    kernel = tf.raw_ops.ResourceApplyAdam
    monkeypatch.setattr(tf.raw_ops, "ResourceApplyAdam",
                        lambda **kw: calls.add(tuple(kw["grad"].shape)) or kernel(**kw))
    fused = keras.optimizers.Adam(0.01)
    fuse(fused)
    _train(fused, epochs=1)
    assert calls == {(8, 16), (16,), (16, 3), (3,)}
    calls.clear()
    amsgrad = keras.optimizers.Adam(0.01, amsgrad=True)
    fuse(amsgrad)
    assert _largest_difference(_train(amsgrad), _train(keras.optimizers.Adam(0.01, amsgrad=True))) == 0.0
    tokens = np.random.default_rng(2).integers(0, 20, (64, 8))

    def embedding():
        return [keras.layers.Embedding(20, 4), keras.layers.Flatten(), keras.layers.Dense(3)]

    sparse = keras.optimizers.Adam(0.01)
    fuse(sparse)
    fast = _train(sparse, embedding, x=tokens)
    plain = _train(keras.optimizers.Adam(0.01), embedding, x=tokens)
    assert calls == {(32, 3), (3,)}   # the Dense layer's; the embedding's sparse gradient took Keras's update
    assert _largest_difference(plain, fast) < 1e-5


def test_under_loss_scaling_the_inner_adam_is_fused():
    inner = keras.optimizers.Adam(0.01)
    scaled = keras.optimizers.LossScaleOptimizer(inner)
    assert fuse(scaled) and "update_step" in vars(inner)
    assert not fuse(keras.optimizers.SGD(0.1)) and not fuse(keras.optimizers.RMSprop(0.01))


def test_the_run_builds_it_only_when_asked():
    assert "update_step" in vars(make_optimizer(TrainingSpec(fused_update=True), 10))
    assert "update_step" not in vars(make_optimizer(TrainingSpec(), 10))
    assert "update_step" not in vars(make_optimizer(TrainingSpec(optimizer="sgd", fused_update=True), 10))


def test_a_saved_model_names_plain_adam(tmp_path):
    """Installed on the object, not a subclass: model.keras loads in plain Keras, as Adam with its state."""
    fused = keras.optimizers.Adam(0.01)
    fuse(fused)
    model = _train(fused)
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        optimizer = json.loads(archive.read("config.json"))["compile_config"]["optimizer"]
    assert (optimizer["module"], optimizer["class_name"]) == ("keras.optimizers", "Adam")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is keras.optimizers.Adam and "update_step" not in vars(loaded.optimizer)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)


def test_the_note_names_optimizers_without_a_fused_update():
    experiment = Experiment()
    assert unfused_note(experiment) is None
    experiment.training.fused_update = True
    assert unfused_note(experiment) is None
    experiment.training.optimizer = "sgd"
    assert unfused_note(experiment) == ("training.fused_update: sgd has no fused update (only adam and adamw have "
                                        "one); it trains with Keras's own")
    gan = load_preset("digits_gan")
    gan.training.fused_update = True
    assert unfused_note(gan) is None   # both models' own Adam
    gan.models["discriminator"].optimizer = {"name": "rmsprop", "learning_rate": 0.001}
    assert "rmsprop has no fused update" in unfused_note(gan)



@pytest.mark.parametrize("optimizer, warns", [("sgd", True), ("adamw", False)])
def test_check_command_names_an_optimizer_it_cannot_fuse(tmp_path, capsys, optimizer, warns):
    experiment = load_preset("digits_cnn")
    experiment.training.optimizer, experiment.training.fused_update = optimizer, True
    save_experiment(experiment, tmp_path / "fused.json")
    assert main(["check", str(tmp_path / "fused.json")]) == 0   # a warning, not a refusal
    assert ("warning: training.fused_update: sgd has no fused update" in capsys.readouterr().err) is warns
