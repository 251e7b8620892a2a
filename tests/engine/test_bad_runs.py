"""Damaged run folders and faults (issue 12): a resume that cannot proceed leaves the run as it was,
an edited or impossible run is refused with what is wrong, two writers cannot share a run, a stop
before the first step leaves no model, a damaged model names itself and offers the checkpoint, and
export scratch stays inside the run folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.runs.folder import RunFolder
from tests.support.run_support import copy_run, short_experiment, trained_run

RUN_FILES = ("experiment.json", "metrics.json", "history.csv", "checkpoint.json", "model.keras")


def _contents(folder: Path) -> dict:
    return {name: (folder / name).read_bytes() for name in RUN_FILES}


@pytest.fixture
def run_copy(tmp_path):
    return copy_run(trained_run(), tmp_path)


def _resume(folder, capsys, *extra):
    code = main(["train", "--resume", str(folder), *extra])
    return code, capsys.readouterr().err


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_resume_from_a_damaged_checkpoint_touches_nothing(run_copy, capsys):
    (run_copy / "checkpoint.keras").write_bytes(b"PK\x03\x04 damaged")
    before = _contents(run_copy)
    code, err = _resume(run_copy, capsys, "--epochs", "3")
    assert code == 2 and "Traceback" not in err
    assert "checkpoint.keras: could not be loaded" in err
    assert _contents(run_copy) == before   # status "completed" and the test results are still there
    assert json.loads(before["metrics.json"])["status"] == "completed"


def test_a_resume_of_an_edited_model_is_refused_with_what_differs(run_copy, capsys):
    _edit_json(run_copy / "experiment.json", lambda e: e["model"]["layers"][4].update(units=32))
    before = _contents(run_copy)
    code, err = _resume(run_copy, capsys, "--epochs", "3")
    assert code == 2 and "Traceback" not in err
    assert "model.layers[4].units: 64 → 32" in err
    assert _contents(run_copy) == before


@pytest.mark.parametrize("epoch", [-1, 0, 99, True, "2"])
def test_an_impossible_checkpoint_epoch_is_refused(run_copy, capsys, epoch):
    _edit_json(run_copy / "checkpoint.json", lambda state: state.update(epoch=epoch))
    before = _contents(run_copy)
    code, err = _resume(run_copy, capsys)
    assert code == 2 and "Traceback" not in err
    assert "checkpoint" in err
    assert _contents(run_copy) == before


def test_a_resume_asked_for_fewer_epochs_than_the_checkpoint_names_the_fix(run_copy, capsys):
    before = _contents(run_copy)
    code, err = _resume(run_copy, capsys, "--epochs", "1")
    assert code == 2 and "the checkpoint is after epoch 2, beyond the 1 epoch(s) asked for" in err
    assert "--epochs 3 or more" in err
    assert _contents(run_copy) == before


def test_a_resume_stopped_before_it_began_leaves_the_run_unchanged(run_copy):
    from tapedeck.engine.spec.experiment import load_experiment
    from tapedeck.engine.training.events import Finished
    from tapedeck.engine.training.run import RunControl, run

    before = _contents(run_copy)
    experiment = load_experiment(run_copy / "experiment.json")
    experiment.training.epochs = 3
    control = RunControl()
    control.stop()
    events = []
    run(experiment, events.append, control, resume_dir=run_copy)
    assert isinstance(events[-1], Finished) and events[-1].reason == "stopped"
    assert _contents(run_copy) == before


def test_a_run_being_trained_cannot_be_resumed_by_a_second_process(run_copy, capsys):
    before = _contents(run_copy)
    with RunFolder(run_copy).locked():
        code, err = _resume(run_copy, capsys, "--epochs", "3")
    assert code == 2 and "another Tapedeck process is training this run" in err
    assert _contents(run_copy) == before


def test_the_run_lock_goes_with_a_killed_process(tmp_path):
    """flock is released by the kernel when the holder dies, even by kill -9: no stale lock."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from tapedeck.engine.runs.folder import RunFolder\n"
         f"with RunFolder({str(tmp_path)!r}).locked():\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        from tapedeck.engine.runs.folder import RunFolderError

        with pytest.raises(RunFolderError), RunFolder(tmp_path).locked():
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    with RunFolder(tmp_path).locked():
        pass


def test_a_run_stopped_before_its_first_step_keeps_its_experiment_and_no_model(tmp_path):
    from tapedeck.engine.training.events import Finished, TestResult
    from tapedeck.engine.training.run import RunControl, run

    control = RunControl()
    control.stop()   # Ctrl-C while the data was loading
    events = []
    run_dir = Path(run(short_experiment(limit=64, epochs=1), events.append, control, runs_dir=tmp_path))
    assert isinstance(events[-1], Finished) and events[-1].reason == "stopped"
    assert not any(isinstance(e, TestResult) for e in events)
    assert (run_dir / "experiment.json").is_file()
    assert not (run_dir / "model.keras").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "stopped" and "test" not in metrics


def test_a_damaged_model_names_itself_and_offers_the_checkpoint(run_copy, tmp_path, capsys):
    (run_copy / "model.keras").write_bytes(b"not a zip at all")
    out = tmp_path / "exported.keras"
    assert main(["export", str(run_copy), "--format", "keras", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{run_copy / 'model.keras'}: damaged" in err and "--from-checkpoint" in err
    assert "Traceback" not in err and not out.exists()
    assert main(["export", str(run_copy), "--format", "keras", "--out", str(out), "--from-checkpoint"]) == 0
    assert out.is_file()


def test_tflite_scratch_stays_in_the_run_folder_and_a_dead_exports_is_cleaned(run_copy, tmp_path, monkeypatch):
    import tempfile

    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    dead = _dead_pid()
    left = run_copy / ".tmp" / f"{dead}-0123abcd" / "saved_model"
    left.mkdir(parents=True)   # what a kill -9 during an earlier export left
    alive = run_copy / ".tmp" / f"{os.getpid()}-feedf00d"
    alive.mkdir()   # a live export's scratch is left alone
    import tensorflow as tf

    converted_from = []
    original = tf.lite.TFLiteConverter.from_saved_model

    def recording(path, *args, **kwargs):
        converted_from.append(Path(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model", recording)
    assert main(["export", str(run_copy), "--format", "tflite", "--out", str(tmp_path / "m.tflite")]) == 0
    assert converted_from and converted_from[0].is_relative_to(run_copy / ".tmp")
    assert (tmp_path / "m.tflite").stat().st_size > 0
    assert not left.parent.exists() and alive.exists()
    assert not [p for p in system_temp.iterdir() if p.name.startswith("tapedeck-")]
    assert list((run_copy / ".tmp").iterdir()) == [alive]   # this export's own scratch is gone too


def _dead_pid() -> int:
    """A process id that belonged to a process now gone."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_very_long_experiment_name_gives_a_short_folder_name(tmp_path):
    folder = RunFolder.create(tmp_path, "a" * 300)
    assert folder.path.is_dir() and len(folder.path.name) < 100


def test_ctrl_c_while_tensorflow_loads_exits_130_quietly(tmp_path):
    experiment = tmp_path / "exp.json"
    from tapedeck.engine.spec.experiment import load_preset, save_experiment

    save_experiment(load_preset("digits_cnn"), experiment)
    process = subprocess.Popen([sys.executable, "-m", "tapedeck.gui.entry", "check", str(experiment)],
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    time.sleep(1.5)   # TensorFlow takes several seconds to import here
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_a_run_refused_for_a_megabyte_layer_name_reports_it_cut(tmp_path):
    """The window shows Finished.message as it is: a 1 MB name must not come back in full."""
    from tapedeck.engine.training.events import Finished
    from tapedeck.engine.training.run import run

    experiment = short_experiment(limit=64, epochs=1)
    experiment.model.layers[1].name = "n" * 1_000_000
    experiment.model.layers[1].inputs = ["n" * 1_000_000]
    events = []
    run(experiment, events.append, runs_dir=tmp_path)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "failed" and finished.problems
    assert "(1,000,0" in finished.message and len(finished.message) < 2000
    assert all(len(line) < 2000 for line in finished.problems)
