"""The fine-tuning step: a frozen layer keeps its weights until its unfreeze epoch, then trains with the
learning rate times its factor — in ``model.fit`` (the callback, on a tiny model) and through a whole
tape-loop run of a Backbone (64 digits, MobileNetV3Small at 32×32, random weights: offline; eager, as
tracing the network's gradient costs more than two eager steps)."""
import json

import numpy as np
import pytest

from tapedeck.engine.training.unfreeze import UnfreezeCallback, optimizer_variables

keras = pytest.importorskip("keras")


def test_fit_keeps_the_layer_frozen_until_its_epoch_then_trains_it_slower():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="body", trainable=False),
                              keras.layers.Dense(3, activation="softmax", name="head")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    plan = [("body", 2, 0.1)]
    variables = optimizer_variables(model, plan)
    assert len(variables) == 4 and len(model.trainable_variables) == 2   # the layer is frozen again after
    model.optimizer.build(variables)
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(
        (model.get_layer("body").get_weights()[0].copy(), float(np.asarray(model.optimizer.learning_rate)))))
    unfreeze = UnfreezeCallback(plan)
    x = np.random.default_rng(0).random((64, 4), dtype=np.float32)
    y = (x[:, 0] * 3).astype(int)
    before = model.get_layer("body").get_weights()[0].copy()
    model.fit(x, y, epochs=3, batch_size=16, callbacks=[unfreeze, record], verbose=0)
    assert np.array_equal(seen[0][0], before) and seen[0][1] == pytest.approx(0.01)
    assert not np.array_equal(seen[1][0], before) and seen[1][1] == pytest.approx(0.001)
    assert seen[2][1] == pytest.approx(0.001)   # the factor is applied once
    assert unfreeze.events == [{"epoch": 2, "layer": "body", "learning_rate": pytest.approx(0.001)}]


def test_a_resumed_run_past_the_epoch_unfreezes_without_a_second_factor():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="body", trainable=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    unfreeze = UnfreezeCallback([("body", 2, 0.1)])
    unfreeze.set_model(model)
    unfreeze.on_epoch_begin(4)   # Keras counts from 0: the fifth epoch
    assert model.get_layer("body").trainable
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.05)


def test_a_tape_loop_run_unfreezes_its_backbone(tmp_path):
    from tapedeck.engine.model.build import build_model
    from tapedeck.engine.training.run import run
    from tests.engine.model.test_backbone import backbone_experiment
    from tests.support.training_support import Recorder

    rng = np.random.default_rng(0)   # a small test split: predicting it through the network costs most
    path = tmp_path / "small.npz"
    np.savez(path, x_train=rng.random((48, 8, 8), dtype=np.float32), y_train=np.arange(48) % 10,
             x_test=rng.random((10, 8, 8), dtype=np.float32), y_test=np.arange(10))
    experiment = backbone_experiment(loop="tape", unfreeze_at_epoch=2, unfreeze_learning_rate_factor=0.1)
    experiment.data.source, experiment.data.path, experiment.data.limit = "npz", str(path), None
    experiment.training.execution = "eager"
    keras.utils.set_random_seed(0)   # the run seeds the same way right before it builds
    initial = build_model(experiment, (8, 8, 1)).get_layer("backbone").network.get_weights()
    recorder = Recorder()
    run_dir = run(experiment, recorder, runs_dir=tmp_path)
    assert recorder.finished.reason == "completed", recorder.finished
    trained = keras.models.load_model(f"{run_dir}/model.keras").get_layer("backbone").network.get_weights()
    assert sum(not np.array_equal(a, b) for a, b in zip(initial, trained)) > 50   # most kernels moved
    metrics = json.loads(open(f"{run_dir}/metrics.json").read())
    assert metrics["unfrozen"] == [{"epoch": 2, "layer": "backbone", "learning_rate": pytest.approx(1e-4)}]
    notes = [e.message for e in recorder.events if type(e).__name__ == "RunNote" and e.kind == "unfreeze"]
    assert notes == ["epoch 2: backbone unfrozen, learning rate now 0.0001"]
