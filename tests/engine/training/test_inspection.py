"""Inside the step: execution modes, step-by-step training, per-layer gradient figures, divergence."""
from __future__ import annotations

import csv
import json
import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.training.events import (
    Finished,
    GradientRecord,
    RunNote,
    StepInspected,
    StepTiming,
)
from tapedeck.engine.training.execution import StepClock
from tapedeck.engine.training.run import RunControl, run
from tests.support.training_support import Recorder, experiment

NO_DROPOUT = [
    {"type": "Flatten"},
    {"type": "Dense", "units": 16, "activation": "relu", "name": "hidden"},
    {"type": "Dense", "units": 10, "activation": "softmax", "name": "out"},
]


def _step_run(tmp_path, steps=1, then=None, **training):
    """Train in a thread with ``control.step(steps)``; ``then(recorder, control)`` runs once it paused."""
    control = RunControl()
    control.step(steps)
    paused = threading.Event()
    recorder = Recorder(on_event=lambda event: paused.set() if isinstance(event, StepInspected) else None)
    api = training.pop("api", "sequential")
    exp = experiment(layers=training.pop("layers", NO_DROPOUT), data={"limit": 200}, batch_size=16, **training)
    exp.model.api = api
    worker = threading.Thread(target=run, args=(exp, recorder, control), kwargs={"runs_dir": str(tmp_path)})
    worker.start()
    try:
        assert paused.wait(120), "no step was inspected"
        assert _until(lambda: control.paused), "the run did not pause after its step"
        (then or (lambda r, c: None))(recorder, control)
    finally:
        control.stop()
        worker.join(120)
    assert not worker.is_alive()
    return recorder


def _until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_inspector_matches_gradients_computed_independently(tmp_path):
    """The same batch and the same initial weights, gradients taken by hand with tf.GradientTape."""
    import keras
    import tensorflow as tf

    recorder = _step_run(tmp_path, loop="tape", optimizer="sgd", learning_rate=0.05)
    inspected = recorder.of(StepInspected)[0]
    assert inspected.step == 1 and inspected.gradients_visible

    keras.utils.set_random_seed(0)   # the run seeds right before drawing the weights
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(16, activation="relu", name="hidden"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    x = tf.constant(inspected.images)
    y = tf.constant(inspected.labels)
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(y, model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert float(loss) == pytest.approx(inspected.loss, rel=1e-5)
    by_layer = {layer.name: layer for layer in inspected.layers}
    assert list(by_layer) == ["hidden", "out"]
    for name, pair in (("hidden", (0, 1)), ("out", (2, 3))):
        grad = math.sqrt(sum(float(tf.norm(gradients[i])) ** 2 for i in pair))
        weight = math.sqrt(sum(float(tf.norm(model.trainable_variables[i])) ** 2 for i in pair))
        assert by_layer[name].grad_norm == pytest.approx(grad, rel=1e-4)
        assert by_layer[name].weight_norm == pytest.approx(weight, rel=1e-4)
        # plain SGD: the update is -lr * g
        assert by_layer[name].update_ratio == pytest.approx(0.05 * grad / weight, rel=1e-3)
        assert 0.0 <= by_layer[name].zero_grad_share <= 1.0 and by_layer[name].nonfinite == 0
    assert not np.allclose(inspected.before, inspected.after)   # the predictions moved with the update


def test_step_takes_exactly_one_step_each_time_then_stops_cleanly(tmp_path):
    def step_again(recorder, control):
        assert control.paused and control.steps_left is None
        seen = threading.Event()
        recorder.on_event = lambda event: seen.set() if isinstance(event, StepInspected) else None
        control.step(1)
        assert seen.wait(60)
        assert _until(lambda: control.paused)

    recorder = _step_run(tmp_path, then=step_again, loop="tape")
    assert [event.step for event in recorder.of(StepInspected)] == [1, 2]
    assert recorder.finished.reason == "stopped"


def test_plain_fit_steps_too_but_does_not_pretend_to_see_gradients(tmp_path):
    recorder = _step_run(tmp_path, loop="fit")
    inspected = recorder.of(StepInspected)[0]
    assert inspected.step == 1 and not inspected.gradients_visible
    assert all(layer.grad_norm is None and layer.update_ratio > 0 for layer in inspected.layers)


@pytest.mark.parametrize("loop, executions", [("tape", ("eager", "graph", "xla")), ("fit", ("eager", "graph"))])
def test_eager_graph_and_xla_give_the_same_first_step_loss(tmp_path, loop, executions):
    losses = {execution: _step_run(tmp_path / execution, loop=loop, execution=execution).of(StepInspected)[0].loss
              for execution in executions}
    for execution in executions:
        assert losses[execution] == pytest.approx(losses["graph"], rel=1e-4), losses


def test_gradients_are_recorded_every_k_steps_to_events_and_csv(tmp_path):
    recorder = Recorder()
    run_dir = run(experiment(layers=NO_DROPOUT, data={"limit": 200}, batch_size=30, loop="tape", inspect_every=2),
                  recorder, runs_dir=str(tmp_path))
    assert recorder.finished.reason == "completed"
    steps = [record.step for record in recorder.of(GradientRecord)]
    assert steps == [1, 2, 4, 6]          # 180 training images / 30 = 6 steps
    rows = list(csv.DictReader(open(Path(run_dir) / "gradients.csv")))
    assert [(int(r["step"]), r["layer"]) for r in rows][:4] == [(1, "hidden"), (1, "out"), (2, "hidden"), (2, "out")]
    assert all(float(r["grad_norm"]) > 0 for r in rows)
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert metrics["gradients_recorded"] == 4 and metrics["execution"] == "graph"
    assert metrics["traces"] == 1 and metrics["step_ms"] > 0
    timing = recorder.of(StepTiming)
    assert len(timing) == 1 and timing[0].traces == 1 and timing[0].step_ms > 0


def test_eager_runs_record_no_traces(tmp_path):
    recorder = Recorder()
    run_dir = run(experiment(layers=NO_DROPOUT, data={"limit": 100}, loop="fit", execution="eager"), recorder,
                  runs_dir=str(tmp_path))
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert metrics["execution"] == "eager" and metrics["traces"] is None
    assert recorder.of(StepTiming)[0].traces is None


def test_a_retrace_after_the_first_epoch_is_a_note_with_its_cause():
    emitted, traces = [], [1]
    clock = StepClock(emitted.append, "graph", lambda: traces[0])
    for epoch in range(3):
        clock.on_train_batch_begin(0)
        clock.on_train_batch_end(0)
        if epoch == 1:
            traces[0] = 2
        clock.on_epoch_end(epoch)
    notes = [e for e in emitted if isinstance(e, RunNote)]
    assert len(notes) == 1 and "epoch 2" in notes[0].message and "input signature" in notes[0].message


@pytest.mark.parametrize("steps", [1, 8])
def test_a_diverging_tape_run_names_the_layer(tmp_path, steps):
    """Two linear layers and SGD at learning rate 10: the weights grow each other until they overflow. With
    8 steps per call only the call's last two steps compute the gradient sums the diagnosis reads."""
    linear = [{"type": "Flatten"}, {"type": "Dense", "units": 16, "name": "hidden"},
              {"type": "Dense", "units": 10, "name": "out"}]
    recorder = Recorder()
    run(experiment(layers=linear, data={"limit": 300}, loop="tape", optimizer="sgd", learning_rate=10.0,
                   from_logits=True, epochs=3, batch_size=16, steps_per_execution=steps), recorder,
        runs_dir=str(tmp_path))
    finished = recorder.of(Finished)[0]
    assert finished.reason == "diverged", finished.message
    assert "layer 'hidden'" in finished.message or "layer 'out'" in finished.message
    assert "lower the learning rate" in finished.message


def test_a_step_request_arriving_mid_step_is_not_taken_by_that_step():
    """Pause, then Step while a step is still under way: the next step is the one inspected and counted."""
    control = RunControl()
    assert not control.begin_step()   # a step starts, nothing asked
    control.step(1)                   # Step pressed while it runs
    assert not control.step_done() and not control.paused
    assert control.begin_step()       # the next step is the requested one, inspected in full
    assert control.step_done() and control.paused and control.steps_left is None


@pytest.mark.parametrize("loop", ["tape", "fit"])
def test_global_norm_clipping_bounds_the_applied_update(tmp_path, loop):
    """Plain SGD at learning rate 1 with global_clipnorm 0.01: no step moves the weights further than 0.01."""
    inspected = _step_run(tmp_path, loop=loop, optimizer="sgd", learning_rate=1.0,
                          global_clipnorm=0.01).of(StepInspected)[0]
    update = math.sqrt(sum((layer.update_ratio * layer.weight_norm) ** 2 for layer in inspected.layers))
    assert 0.009 < update <= 0.01 + 1e-6
    if loop == "tape":
        assert math.sqrt(sum(layer.grad_norm ** 2 for layer in inspected.layers)) > 0.01   # it did clip


def test_four_accumulated_batches_of_8_equal_one_step_of_32(tmp_path):
    import keras

    weights = {}
    for name, batch, steps in (("accumulated", 8, 4), ("single", 32, 1)):
        exp = experiment(layers=NO_DROPOUT, data={"limit": 32, "validation_split": 0.0}, loop="tape",
                         optimizer="sgd", learning_rate=0.5, batch_size=batch, gradient_accumulation_steps=steps)
        run_dir = run(exp, Recorder(), runs_dir=str(tmp_path / name))
        model = keras.models.load_model(Path(run_dir) / "model.keras")
        weights[name] = [np.asarray(w) for w in model.weights]
    initial = experiment(layers=NO_DROPOUT, data={"limit": 32, "validation_split": 0.0}, loop="tape",
                         optimizer="sgd", learning_rate=1e-12, batch_size=32)   # as good as untrained
    run_dir = run(initial, Recorder(), runs_dir=str(tmp_path / "untrained"))
    untrained = [np.asarray(w) for w in keras.models.load_model(Path(run_dir) / "model.keras").weights]
    for a, b, start in zip(weights["accumulated"], weights["single"], untrained):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert any(not np.allclose(a, s) for a, s in zip(weights["single"], untrained))   # one real update


def test_a_custom_train_step_trains_like_fit_and_shows_its_gradients(tmp_path):
    """Same seed: the first epoch's loss of train_step and tape within 5 % of fit's; the inspector
    sees gradients in train_step; the saved model reloads as a plain Keras model."""
    import keras

    from tapedeck.engine.training.events import EpochEnd

    losses, runs = {}, {}
    for loop in ("fit", "tape", "train_step"):
        recorder = Recorder()
        runs[loop] = run(experiment(layers=NO_DROPOUT, data={"limit": 300}, loop=loop, inspect_every=3),
                         recorder, runs_dir=str(tmp_path / loop))
        assert recorder.finished.reason == "completed", recorder.finished.message
        losses[loop] = recorder.of(EpochEnd)[0].loss
        if loop == "train_step":
            records = recorder.of(GradientRecord)
            assert records and all(layer.grad_norm > 0 for layer in records[0].layers)
    assert losses["train_step"] == pytest.approx(losses["fit"], rel=0.05)
    assert losses["tape"] == pytest.approx(losses["fit"], rel=0.05)
    reloaded = keras.models.load_model(Path(runs["train_step"]) / "model.keras")
    assert type(reloaded) is keras.Sequential


def test_step_in_a_custom_train_step_sees_the_gradients(tmp_path):
    inspected = _step_run(tmp_path, loop="train_step").of(StepInspected)[0]
    assert inspected.gradients_visible and all(layer.grad_norm > 0 for layer in inspected.layers)


@pytest.mark.parametrize("loop, api", [("fit", "sequential"), ("tape", "subclassing"), ("train_step", "functional")])
def test_a_frozen_layer_stays_bit_identical_in_every_loop(tmp_path, loop, api):
    import keras

    layers = [dict(layer) for layer in NO_DROPOUT]
    layers[1]["trainable"] = False       # the hidden Dense layer
    weights = {}
    for name, rate in (("trained", 0.05), ("untouched", 1e-12)):
        exp = experiment(layers=layers, data={"limit": 200}, loop=loop, optimizer="sgd", learning_rate=rate)
        exp.model.api = api
        run_dir = run(exp, Recorder(), runs_dir=str(tmp_path / name))
        model = keras.models.load_model(Path(run_dir) / "model.keras")
        # by layer/variable: the model's own name prefixes the paths of a subclassed model
        weights[name] = {"/".join(w.path.split("/")[-2:]): np.asarray(w) for w in model.weights}
    hidden = [path for path in weights["trained"] if path.startswith("hidden/")]
    assert hidden and all(np.array_equal(weights["trained"][p], weights["untouched"][p]) for p in hidden)
    assert not np.allclose(weights["trained"]["out/kernel"], weights["untouched"]["out/kernel"])


def test_the_check_counts_frozen_weights_and_refuses_a_stack_with_nothing_to_train():
    from tapedeck.engine.model.check import check

    layers = [dict(layer) for layer in NO_DROPOUT]
    layers[1]["trainable"] = False
    report = check(experiment(layers=layers), (8, 8, 1), 10)
    assert report.ok and report.non_trainable == 64 * 16 + 16 and report.trainable == 16 * 10 + 10
    assert "1,040 frozen" in report.format_table()
    layers[2]["trainable"] = False
    report = check(experiment(layers=layers), (8, 8, 1), 10)
    assert not report.ok and any("nothing would learn" in p for p in report.problems)


@pytest.mark.parametrize("loop, api", [("tape", "subclassing"), ("train_step", "functional")])
def test_a_learning_rate_multiplier_scales_that_layers_update(tmp_path, loop, api):
    """Plain SGD: the hidden layer moves by lr × 0.5 × its gradient, the output layer by lr × its gradient."""
    layers = [dict(layer) for layer in NO_DROPOUT]
    layers[1]["lr_multiplier"] = 0.5
    layers[1]["trainable"] = True
    inspected = _step_run(tmp_path, layers=layers, loop=loop, optimizer="sgd", learning_rate=0.05,
                          api=api).of(StepInspected)[0]
    by_layer = {layer.name: layer for layer in inspected.layers}
    for name, factor in (("hidden", 0.5), ("out", 1.0)):
        layer = by_layer[name]
        assert layer.update_ratio == pytest.approx(0.05 * factor * layer.grad_norm / layer.weight_norm, rel=1e-3)


def test_the_check_refuses_a_multiplier_with_plain_fit():
    from tapedeck.engine.model.check import check

    layers = [dict(layer) for layer in NO_DROPOUT]
    layers[1]["lr_multiplier"] = 0.1
    assert check(experiment(layers=layers, loop="tape"), (8, 8, 1), 10).ok
    report = check(experiment(layers=layers, loop="fit"), (8, 8, 1), 10)
    assert any("lr_multiplier on hidden: model.fit applies one learning rate" in p for p in report.problems)


def test_tensorboard_gets_gradient_and_weight_histograms_from_the_tape_loop(tmp_path):
    import tensorflow as tf

    run_dir = run(experiment(layers=NO_DROPOUT, data={"limit": 200}, batch_size=30, loop="tape", inspect_every=2,
                             tensorboard=True), Recorder(), runs_dir=str(tmp_path))
    events = list((Path(run_dir) / "tensorboard" / "gradients").glob("events.out.tfevents.*"))
    assert events
    tags = {value.tag for event in tf.compat.v1.train.summary_iterator(str(events[0]))
            for value in event.summary.value}
    assert {"gradients/test-run/hidden/kernel", "weights/test-run/out/bias"} <= tags, sorted(tags)[:6]
