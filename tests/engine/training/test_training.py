"""fit and tape learn alike, emit the same events, and leave the same run folder."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tapedeck.engine.runs.folder import HISTORY_COLUMNS
from tapedeck.engine.training.events import (
    BatchEnd,
    EpochEnd,
    Finished,
    GradientRecord,
    Predictions,
    RunStarted,
    StepTiming,
    TestResult,
)
from tapedeck.engine.training.run import run
from tests.support.training_support import Recorder, digits_cnn, experiment


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """The default preset, 10 epochs, once per loop, same seed: shared by the tests below."""
    runs = {}
    for loop in ("fit", "tape"):
        exp = digits_cnn()
        exp.training.loop = loop
        exp.training.epochs = 10
        recorder = Recorder()
        run_dir = run(exp, recorder, runs_dir=tmp_path_factory.mktemp(loop))
        runs[loop] = (recorder, run_dir)
    return runs


def test_both_loops_reach_95_percent_and_agree_on_the_first_epoch(digits_runs):
    first = {}
    for loop, (recorder, _run_dir) in digits_runs.items():
        assert recorder.finished.reason == "completed", recorder.finished.message
        (test,) = recorder.of(TestResult)
        assert test.accuracy >= 0.95, f"{loop}: test accuracy {test.accuracy:.3f}"
        first[loop] = recorder.of(EpochEnd)[0].loss
    assert abs(first["fit"] - first["tape"]) / first["fit"] <= 0.05, first


def test_both_loops_emit_the_same_events_with_the_same_names(digits_runs):
    shapes = {}
    for loop, (recorder, _run_dir) in digits_runs.items():
        # BatchEnd is sampled; StepTiming and GradientRecord look inside the step (checked below)
        kinds = [type(e) for e in recorder.events if not isinstance(e, (BatchEnd, StepTiming, GradientRecord))]
        assert kinds[0] is RunStarted
        assert len(recorder.of(StepTiming)) == 10
        assert bool(recorder.of(GradientRecord)) == (loop == "tape")   # fit keeps its gradients to itself
        assert kinds[1:-2] == [EpochEnd, Predictions] * 10
        assert kinds[-2:] == [TestResult, Finished]
        started = recorder.of(RunStarted)[0]
        assert started.steps_per_epoch == int(np.ceil(len_train() / digits_cnn().training.batch_size))
        assert started.trainable > 0 and "Conv2D" in started.summary or "conv2d" in started.summary
        assert started.sample_images.shape[1:] == (8, 8, 1)
        batches = recorder.of(BatchEnd)
        assert batches and all(b.steps == started.steps_per_epoch for b in batches)
        # the last step of every epoch is always reported; the rest may be sampled
        assert sum(b.step == b.steps for b in batches) == 10
        assert batches[-1].samples_seen == len_train()
        epoch = recorder.of(EpochEnd)[-1]
        assert [epoch.val_loss is None, epoch.val_accuracy is None] == [False, False]
        assert epoch.learning_rate == pytest.approx(digits_cnn().training.learning_rate)
        predictions = recorder.of(Predictions)[-1]
        assert predictions.probabilities.shape == (len(started.sample_labels), 10)
        np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1.0, atol=1e-4)
        np.testing.assert_array_equal(predictions.true_labels, started.sample_labels)
        shapes[loop] = predictions.probabilities.shape
    assert shapes["fit"] == shapes["tape"]


def len_train():
    from tapedeck.engine.data.datasets import load_dataset

    return len(load_dataset(digits_cnn().data).x_train)


def test_run_folder_holds_what_ran_and_what_it_learnt(digits_runs):
    import keras

    for loop, (recorder, run_dir) in digits_runs.items():
        from pathlib import Path

        folder = Path(run_dir)
        saved = json.loads((folder / "experiment.json").read_text())
        assert saved["training"]["loop"] == loop and saved["format"] == "tapedeck/1"
        with open(folder / "history.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert tuple(rows[0].keys()) == HISTORY_COLUMNS
        assert [int(r["epoch"]) for r in rows] == list(range(1, 11))
        assert float(rows[0]["loss"]) == pytest.approx(recorder.of(EpochEnd)[0].loss)
        metrics = json.loads((folder / "metrics.json").read_text())
        test = recorder.of(TestResult)[0]
        assert metrics["status"] == "completed"
        assert metrics["test"]["accuracy"] == pytest.approx(test.accuracy)
        assert np.sum(metrics["test"]["confusion"]) == sum(map(sum, test.confusion))
        assert metrics["samples_per_second"] > 0 and metrics["versions"]["tensorflow"]
        assert json.loads((folder / "checkpoint.json").read_text())["epoch"] == 10
        assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name]
        model = keras.models.load_model(folder / "model.keras")
        x = recorder.of(RunStarted)[0].sample_images
        np.testing.assert_allclose(
            np.asarray(model(x, training=False)), recorder.of(Predictions)[-1].probabilities, atol=1e-5
        )


def test_confusion_matrix_precision_and_recall_agree(digits_runs):
    test = digits_runs["fit"][0].of(TestResult)[0]
    confusion = np.array(test.confusion)
    assert confusion.shape == (10, 10)
    assert np.trace(confusion) / confusion.sum() == pytest.approx(test.accuracy)
    np.testing.assert_allclose(test.recall, np.diag(confusion) / confusion.sum(axis=1))
    np.testing.assert_allclose(test.precision, np.diag(confusion) / confusion.sum(axis=0))


def test_tape_step_is_traced_once_over_three_epochs_with_a_smaller_last_batch(tmp_path):
    exp = experiment(data={"limit": 200}, loop="tape", epochs=3, batch_size=32)  # 180 train: last batch 20
    recorder = Recorder()
    run_dir = run(exp, recorder, runs_dir=tmp_path)
    assert recorder.finished.reason == "completed"
    traces = json.loads((tmp_path / run_dir.split("/")[-1] / "metrics.json").read_text())["tape_traces"]
    assert traces["train"] <= 2 and traces["validation"] <= 2, traces
    assert traces["train"] == 1
