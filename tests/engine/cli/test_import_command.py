"""`tapedeck import` and fine-tuning: a trained model's weights carried into a new run."""
import json

import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.runs.exports import load_run_model, save_keras
from tapedeck.engine.runs.index import read_run
from tapedeck.engine.spec.experiment import load_experiment, save_experiment
from tapedeck.engine.training.events import EpochEnd, RunNote
from tapedeck.engine.training.run import run
from tests.support.training_support import Recorder, experiment

LIMIT = 500


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A Tapedeck run on digits, exported as .keras: (exported file, its run's test accuracy)."""
    folder = tmp_path_factory.mktemp("source")
    source = experiment(data={"limit": LIMIT}, epochs=3, learning_rate=0.01, name="source")
    run_dir = run(source, Recorder(), runs_dir=folder / "runs")
    path = save_keras(load_run_model(run_dir), folder / "source.keras")
    return path, read_run(run_dir).test_accuracy


def _still(exp):
    """One epoch at a learning rate too small to move any weight: the run shows where it started."""
    exp.data.limit = LIMIT
    exp.training.learning_rate = 1e-12
    exp.training.epochs = 1
    return exp


def test_import_keep_weights_then_train_starts_from_them(trained, tmp_path, capsys):
    path, source_accuracy = trained
    out = tmp_path / "exp.json"
    assert main(["import", str(path), "-o", str(out), "--keep-weights"]) == 0
    assert "wrote" in capsys.readouterr().out
    weights = tmp_path / "exp.weights.npz"
    imported = load_experiment(out)
    assert imported.training.initial_weights == str(weights.resolve())
    with np.load(weights, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["dense:0", "dense:1", "dense_1:0", "dense_1:1"]

    recorder = Recorder()
    run_dir = run(_still(imported), recorder, runs_dir=tmp_path / "runs")
    assert recorder.finished.reason == "completed", recorder.finished.message
    assert read_run(run_dir).test_accuracy == pytest.approx(source_accuracy, abs=1e-9)
    assert any(n.kind == "weights" and "2 layer(s) loaded" in n.message for n in recorder.of(RunNote))
    assert list((tmp_path / "runs").glob("*/initial.weights.npz"))   # the run records what it started from
    first = recorder.of(EpochEnd)[0]

    fresh = load_experiment(out)   # the test can fail: the same run without the weights starts far lower
    fresh.training.initial_weights = None
    fresh_recorder = Recorder()
    fresh_dir = run(_still(fresh), fresh_recorder, runs_dir=tmp_path / "runs")
    assert read_run(fresh_dir).test_accuracy < source_accuracy - 0.3
    assert first.accuracy > fresh_recorder.of(EpochEnd)[0].accuracy + 0.3


def test_a_changed_layer_is_named_and_a_new_one_starts_fresh(trained, tmp_path):
    path, _accuracy = trained
    out = tmp_path / "exp.json"
    assert main(["import", str(path), "-o", str(out), "--keep-weights"]) == 0
    changed = load_experiment(out)
    changed.model.layers[1].params["units"] = 16
    recorder = Recorder()
    run(_still(changed), recorder, runs_dir=tmp_path / "runs")
    assert recorder.finished.reason == "failed"
    assert "layer 'dense' holds weights of shapes [(64, 32), (32,)]" in recorder.finished.message
    assert "rename the layer to start it fresh" in recorder.finished.message

    renamed = load_experiment(out)
    renamed.model.layers[2].name = "new_head"
    recorder = Recorder()
    run(_still(renamed), recorder, runs_dir=tmp_path / "runs")
    assert recorder.finished.reason == "completed"
    assert any("fresh weights: new_head" in n.message for n in recorder.of(RunNote))


def test_import_prints_the_experiment_and_refuses_bad_input(trained, tmp_path, capsys):
    path, _accuracy = trained
    assert main(["import", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["model"]["layers"] == [{"type": "Flatten"}, {"type": "Dense", "units": 32, "activation": "relu"},
                                          {"type": "Dense", "units": 10, "activation": "softmax"}]
    assert main(["import", str(path), "--keep-weights"]) == 2
    assert "give one with -o EXP.json" in capsys.readouterr().err
    bad = tmp_path / "bad.keras"
    bad.write_text("nope")
    assert main(["import", str(bad), "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a .keras model file" in err
    assert not (tmp_path / "x.json").exists()


def test_a_missing_weights_file_is_one_message(tmp_path):
    exp = _still(experiment())
    exp.training.initial_weights = str(tmp_path / "gone.weights.npz")
    recorder = Recorder()
    run(exp, recorder, runs_dir=tmp_path / "runs")
    assert recorder.finished.reason == "failed"
    assert "training.initial_weights:" in recorder.finished.message and "does not exist" in recorder.finished.message
    save_experiment(exp, tmp_path / "e.json")   # the setting is part of the file
    assert load_experiment(tmp_path / "e.json").training.initial_weights.endswith("gone.weights.npz")
