"""The training section's options: optimizers, schedules, early stopping, TensorBoard, resume, labels."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.training.events import EpochEnd, Predictions, RunStarted, TestResult
from tapedeck.engine.training.optimizers import make_optimizer, resolve_monitor
from tapedeck.engine.training.run import run
from tests.support.training_support import Recorder, experiment

LOOPS = ("fit", "tape", "train_step")


def _lr(optimizer) -> float:
    return float(np.asarray(optimizer.learning_rate))


@pytest.mark.parametrize(
    "options, kind, checks",
    [
        ({"optimizer": "adam"}, "Adam", {}),
        ({"optimizer": "adamw", "weight_decay": 0.01}, "AdamW", {"weight_decay": 0.01}),
        ({"optimizer": "sgd", "momentum": 0.9, "nesterov": True}, "SGD", {"momentum": 0.9, "nesterov": True}),
        ({"optimizer": "rmsprop", "momentum": 0.5}, "RMSprop", {"momentum": 0.5}),
    ],
)
def test_optimizers_follow_the_training_section(options, kind, checks):
    optimizer = make_optimizer(experiment(learning_rate=0.01, **options).training, steps_per_epoch=10)
    assert type(optimizer).__name__ == kind
    assert _lr(optimizer) == pytest.approx(0.01)
    for name, value in checks.items():
        assert getattr(optimizer, name) == pytest.approx(value)


def test_step_and_cosine_schedules_follow_the_iteration_counter():
    step = make_optimizer(experiment(schedule="step", schedule_every=2, schedule_factor=0.5, learning_rate=0.1,
                                     epochs=6).training, steps_per_epoch=10)
    cosine = make_optimizer(experiment(schedule="cosine", learning_rate=0.1, epochs=6).training, steps_per_epoch=10)
    assert _lr(step) == pytest.approx(0.1) and _lr(cosine) == pytest.approx(0.1)
    step.iterations.assign(19)
    assert _lr(step) == pytest.approx(0.1)
    step.iterations.assign(20)  # two epochs of 10 steps
    assert _lr(step) == pytest.approx(0.05)
    cosine.iterations.assign(30)
    assert _lr(cosine) == pytest.approx(0.05, rel=1e-3)
    cosine.iterations.assign(60)
    assert _lr(cosine) == pytest.approx(0.0, abs=1e-7)


def test_monitor_falls_back_to_training_metrics_without_validation():
    assert resolve_monitor("val_accuracy", has_validation=False) == "accuracy"
    assert resolve_monitor("val_loss", has_validation=True) == "val_loss"


@pytest.mark.parametrize("loop", LOOPS)
def test_plateau_lowers_the_rate_and_early_stopping_ends_the_run(loop, tmp_path):
    # a rate so small nothing improves by Keras's min_delta: the plateau and the patience both run out
    exp = experiment(data={"limit": 200}, loop=loop, epochs=10, learning_rate=1e-7, schedule="plateau",
                     schedule_patience=1, schedule_factor=0.5, early_stopping=True,
                     early_stopping_monitor="val_accuracy", early_stopping_patience=2)
    recorder = Recorder()
    run(exp, recorder, runs_dir=tmp_path)
    assert recorder.finished.reason == "early_stopped", recorder.finished
    rates = [e.learning_rate for e in recorder.of(EpochEnd)]
    assert len(rates) == 3
    assert rates[0] == pytest.approx(1e-7) and rates[-1] == pytest.approx(5e-8)


@pytest.mark.parametrize("loop", LOOPS)
def test_resume_continues_from_the_checkpoint_with_the_optimizer_state(loop, tmp_path, monkeypatch):
    """The tape loop's run also takes the fused Adam update: the resumed run installs it again on the fresh
    optimizer that carries the saved state, and the saved model still names plain Adam."""
    import keras

    from tapedeck.engine.training import fused_update

    fused, fuse = [], fused_update.fuse
    monkeypatch.setattr(fused_update, "fuse", lambda optimizer: fused.append(optimizer) or fuse(optimizer))
    exp = experiment(data={"limit": 200}, loop=loop, epochs=2, schedule="cosine", fused_update=loop == "tape")
    first = Recorder()
    run_dir = run(exp, first, runs_dir=tmp_path)
    steps = first.of(RunStarted)[0].steps_per_epoch
    assert first.finished.reason == "completed"

    exp.training.epochs = 3
    second = Recorder()
    assert run(exp, second, runs_dir=tmp_path, resume_dir=run_dir) == run_dir
    assert second.finished.reason == "completed"
    assert second.of(RunStarted)[0].initial_epoch == 2
    assert [e.epoch for e in second.of(EpochEnd)] == [3]
    with open(Path(run_dir) / "history.csv", newline="") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [1, 2, 3]
    model = keras.models.load_model(Path(run_dir) / "model.keras")
    assert int(np.asarray(model.optimizer.iterations)) == 3 * steps
    assert len(fused) == (2 if loop == "tape" else 0) and type(model.optimizer) is keras.optimizers.Adam
    if fused:   # the resumed run trained with the fused optimizer it built, carrying the saved state
        assert int(np.asarray(fused[1].iterations)) == 3 * steps
    # the cosine curve continued: epoch 3 started where two epochs of steps had left it
    expected = 0.5 * 0.001 * (1 + np.cos(np.pi * 2 / 3))
    assert second.of(EpochEnd)[0].learning_rate == pytest.approx(expected, rel=1e-3)
    assert json.loads((Path(run_dir) / "experiment.json").read_text())["training"]["epochs"] == 3


def test_resume_refuses_a_folder_without_checkpoint(tmp_path):
    recorder = Recorder()
    run(experiment(), recorder, runs_dir=tmp_path, resume_dir=tmp_path / "missing")
    assert recorder.finished.reason == "failed" and "missing" in recorder.finished.message
    assert recorder.finished.problems


@pytest.mark.parametrize("loop", LOOPS)
def test_tensorboard_event_files_when_asked(loop, tmp_path):
    """TensorFlow 2.21 no longer pulls TensorBoard in: without it, one clear message instead."""
    import importlib.util

    recorder = Recorder()
    run_dir = run(experiment(data={"limit": 100}, loop=loop, tensorboard=True), recorder, runs_dir=tmp_path)
    if importlib.util.find_spec("tensorboard") is None:
        assert recorder.finished.reason == "failed"
        assert recorder.finished.problems == (
            "training.tensorboard: the tensorboard package is not installed; "
            "run `pip install tensorboard` or set tensorboard to false",
        )
        assert run_dir is None
        return
    assert recorder.finished.reason == "completed"
    assert list((Path(run_dir) / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((Path(run_dir) / "tensorboard" / "validation").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("loop", LOOPS)
def test_one_hot_labels_logits_and_a_subclassed_model(loop, tmp_path):
    import keras

    layers = [{"type": "Flatten"}, {"type": "Dense", "units": 16, "activation": "relu"}, {"type": "Dense", "units": 10}]
    exp = experiment(layers=layers, data={"limit": 400, "labels": "one_hot"}, loop=loop, epochs=2, batch_size=8,
                     loss="categorical_crossentropy", from_logits=True, learning_rate=0.01)
    exp.model.api = "subclassing"
    recorder = Recorder()
    run_dir = run(exp, recorder, runs_dir=tmp_path)
    assert recorder.finished.reason == "completed", recorder.finished.message
    epochs = recorder.of(EpochEnd)
    assert epochs[-1].accuracy > 0.5  # learning, measured with the categorical accuracy
    probabilities = recorder.of(Predictions)[-1].probabilities
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)  # softmax applied to logits
    assert recorder.of(TestResult)[0].accuracy > 0.5
    model = keras.models.load_model(Path(run_dir) / "model.keras")
    assert type(model).__name__ == "TapedeckModel"
