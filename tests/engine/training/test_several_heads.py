"""Training several-head and several-input models for real on digits, in every loop."""
import numpy as np
import pytest

from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd, Finished, Predictions, RunStarted, TestResult
from tapedeck.engine.training.run import run
from tests.support.datafiles import write_digits_with_features


def _run(experiment, tmp_path):
    events = []
    run(experiment, events.append, runs_dir=tmp_path)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "completed", finished
    return events


def _first(events, kind):
    return next(e for e in events if isinstance(e, kind))


@pytest.mark.parametrize("loop", ["fit", "tape"])
def test_two_heads_on_digits_reach_the_issue_figures(tmp_path, loop):
    experiment = load_preset("digits_two_heads_functional")
    experiment.training.loop = loop
    experiment.training.epochs = 6
    events = _run(experiment, tmp_path)
    result = _first(events, TestResult)
    digit, parity = result.heads["digit"]["accuracy"], result.heads["parity"]["accuracy"]
    print(f"{loop}: digit {digit:.3f}, parity {parity:.3f}")
    assert digit >= 0.95 and parity >= 0.97
    epoch = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert {"digit_loss", "digit_accuracy", "parity_loss", "parity_accuracy", "val_digit_accuracy",
            "val_parity_loss"} <= set(epoch.heads)
    assert epoch.accuracy == pytest.approx(epoch.heads["digit_accuracy"])
    assert epoch.loss == pytest.approx(epoch.heads["digit_loss"] + 0.5 * epoch.heads["parity_loss"], rel=0.05)
    started = _first(events, RunStarted)
    assert [h.layer for h in started.heads] == ["digit", "parity"] and started.class_names[0] == "0"
    predictions = _first(events, Predictions)
    true, predicted, probabilities = predictions.heads["parity"]
    assert probabilities.shape == (len(true), 2) and set(np.unique(true)) <= {0, 1}


def test_subclass_and_functional_build_the_same_two_head_model():
    from tapedeck.engine.model.build import build_model

    experiment = load_preset("digits_two_heads_functional")
    functional = build_model(experiment, (8, 8, 1))
    subclass = build_model(experiment, (8, 8, 1), api="subclassing")
    assert functional.count_params() == subclass.count_params() == 101_500
    assert sorted(layer.name for layer in functional.layers if layer.weights) == sorted(
        layer.name for layer in subclass.stack if layer.weights)
    x = {"image": np.zeros((2, 8, 8, 1), np.float32)}
    assert set(functional(x)) == set(subclass(x)) == {"digit", "parity"}


def test_train_step_and_early_stopping_on_one_heads_figure(tmp_path):
    experiment = load_preset("digits_two_heads_subclassing")
    experiment.data.limit = 300
    experiment.training.loop = "train_step"
    experiment.training.epochs = 3
    experiment.training.early_stopping = True
    experiment.training.early_stopping_monitor = "val_parity_loss"
    experiment.training.early_stopping_patience = 0
    events = _run(experiment, tmp_path)
    assert "val_parity_loss" in _first(events, EpochEnd).heads


def test_two_inputs_from_an_npz_train_and_report(tmp_path):
    path = write_digits_with_features(tmp_path / "digits_with_features.npz")
    experiment = load_preset("npz_image_and_features")
    experiment.data.path = str(path)
    experiment.data.limit = 400
    experiment.training.epochs = 2
    events = _run(experiment, tmp_path / "runs")
    started = _first(events, RunStarted)
    assert started.inputs == ("image", "features")
    assert _first(events, TestResult).heads["digit"]["accuracy"] > 0.5
    from tapedeck.engine.runs.folder import RunFolder

    history = RunFolder(started.run_dir).read_history()
    assert [row["epoch"] for row in history] == [1, 2] and history[1]["val_accuracy"] > 0.3   # one head: plain names


def test_two_heads_write_their_figures_to_the_history(tmp_path):
    from tapedeck.engine.runs.folder import RunFolder

    experiment = load_preset("digits_two_heads_functional")
    experiment.data.limit, experiment.training.epochs, experiment.training.loop = 200, 1, "tape"
    events = _run(experiment, tmp_path)
    row = RunFolder(_first(events, RunStarted).run_dir).read_history()[0]
    assert set(_first(events, EpochEnd).heads) <= set(row) and row["val_parity_accuracy"] > 0


def test_cifar100_fine_and_coarse_preset_checks_and_trains_on_real_format_files(tmp_path):
    from tapedeck.engine.model.check import check
    from tests.support.datafiles import cifar100_files, write_tar

    archive = write_tar(tmp_path / "cifar-100-python.tar.gz", "cifar-100-python", cifar100_files(60, 20))
    experiment = load_preset("cifar100_fine_coarse_subclassing")
    experiment.data.source, experiment.data.path = "cifar", str(archive)
    experiment.training.epochs = 1
    report = check(experiment, (32, 32, 3), 100)
    assert report.ok, report.all_problems()
    assert "target coarse (20 classes)" in report.format_table()
    result = _first(_run(experiment, tmp_path / "runs"), TestResult)
    assert set(result.heads) == {"fine", "coarse"}
    assert np.asarray(result.heads["coarse"]["confusion"]).shape == (20, 20)
    assert result.heads["fine"]["class_names"][3] == "bear"


def test_a_two_head_run_resumes_from_its_checkpoint(tmp_path):
    from tapedeck.engine.runs.folder import RunFolder

    experiment = load_preset("digits_two_heads_functional")
    experiment.data.limit, experiment.training.epochs = 200, 1
    first = _first(_run(experiment, tmp_path), RunStarted).run_dir
    experiment.training.epochs = 2
    events = []
    run(experiment, events.append, runs_dir=tmp_path, resume_dir=first)
    assert events[-1].reason == "completed", events[-1]
    history = RunFolder(first).read_history()
    assert [row["epoch"] for row in history] == [1, 2] and history[1]["parity_loss"] > 0
    assert set(_first(events, TestResult).heads) == {"digit", "parity"}
