"""tapedeck runs / compare / export, in-process on real run folders."""
import json

import keras
import numpy as np

from tapedeck.engine.cli.main import main
from tapedeck.engine.runs.exports import load_run_model
from tests.support.run_support import copy_run, trained_run


def _changed_copy(run, destination, **training):
    """A copy of the run whose experiment says it trained with other settings."""
    copy = copy_run(run, destination)
    experiment = json.loads((copy / "experiment.json").read_text())
    experiment["training"].update(training)
    (copy / "experiment.json").write_text(json.dumps(experiment))
    return copy


def test_runs_prints_the_table(tmp_path, capsys):
    run = copy_run(trained_run(), tmp_path)
    (tmp_path / "stray").mkdir()
    assert main(["runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert run.name in out and "functional" in out and "completed" in out and "stray" not in out
    assert main(["runs", str(tmp_path), "--all"]) == 0
    assert "note: no experiment.json" in capsys.readouterr().out
    assert main(["runs", str(tmp_path / "absent")]) == 2
    assert "absent: no such folder" in capsys.readouterr().err


def test_compare_prints_metrics_and_only_the_differences(tmp_path, capsys):
    a = copy_run(trained_run(), tmp_path / "a")
    b = _changed_copy(trained_run(), tmp_path / "b", learning_rate=0.01, batch_size=64)
    base = json.loads((a / "experiment.json").read_text())["training"]
    lr, size = json.dumps(base["learning_rate"]), str(base["batch_size"])
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("best val accuracy") for line in lines)
    assert any(line.split()[:3] == ["training.learning_rate", lr, "0.01"] for line in lines)
    assert any(line.split()[:3] == ["training.batch_size", size, "64"] for line in lines)
    assert "training.epochs" not in out and "model.layers" not in out

    c = _changed_copy(trained_run(), tmp_path / "c", loop="tape")
    assert main(["compare", str(a), str(b), str(c), "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("training.")}
    assert rows == {"training.loop": ["fit", "fit", "tape"], "training.learning_rate": [lr, "0.01", lr],
                    "training.batch_size": [size, "64", size]}


def test_compare_mistakes_exit_2(tmp_path, capsys):
    assert main(["compare", str(trained_run()), str(tmp_path / "nope")]) == 2
    assert "nope: no such run folder" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert main(["compare", str(trained_run()), str(tmp_path / "plain")]) == 2
    assert "not a Tapedeck run" in capsys.readouterr().err


def test_export_writes_into_the_run_folder_or_out(tmp_path, capsys):
    run = copy_run(trained_run(), tmp_path)
    assert main(["export", run.name, "--format", "keras", "--runs-dir", str(tmp_path)]) == 0
    target = run / "exports" / "model.keras"
    assert f"wrote {target}" in capsys.readouterr().out
    x = np.random.default_rng(2).random((4, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(keras.models.load_model(target)(x)), np.asarray(load_run_model(run)(x)),
                               atol=1e-5)
    assert main(["export", str(run), "--format", "savedmodel", "--out", str(tmp_path / "serving")]) == 0
    assert (tmp_path / "serving" / "saved_model.pb").is_file()
    assert main(["export", str(run), "--format", "tflite", "--out", str(tmp_path / "m.keras")]) == 2
    assert "must end in .tflite" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope"), "--format", "keras"]) == 2
