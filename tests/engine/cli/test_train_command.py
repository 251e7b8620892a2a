"""`tapedeck train` on a terminal and in a log, its exit codes, Ctrl-C and --resume."""
from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.cli.train import ConsoleReporter
from tapedeck.engine.training.events import BatchEnd, EpochEnd, Finished, RunStarted, TestResult
from tests.support.training_support import SMALL_LAYERS, experiment


def _started(**changes):
    fields = dict(run_dir="runs/x", name="net", summary="", trainable=1234, non_trainable=0, epochs=2,
                  steps_per_epoch=10, batch_size=32, num_classes=10, class_names=list("0123456789"),
                  sample_images=np.zeros((1, 8, 8, 1)), sample_labels=np.zeros(1), initial_epoch=0)
    fields.update(changes)
    return RunStarted(**fields)


def _play(reporter):
    reporter(_started())
    for step in range(1, 11):
        reporter(BatchEnd(1, step, 10, 0.5, 0.8, step * 32, 1000.0))
    reporter(EpochEnd(1, 0.5, 0.8, 0.4, 0.85, 0.001, 1.5))
    reporter(TestResult(0.3, 0.9125, [1.0] * 10, [1.0] * 10, [[1] * 10] * 10))
    reporter(Finished("completed", "completed", "runs/x", epoch=1))


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, tty=False)
    _play(reporter)
    text = stream.getvalue()
    assert "\r" not in text and "ETA" not in text
    lines = text.strip().splitlines()
    assert lines[0].startswith("net: 1,234 trainable parameters, 2 epochs of 10 steps")
    assert "epoch 1/2 - 1.5s - loss 0.5000 - accuracy 0.8000 - val_loss 0.4000 - val_accuracy 0.8500" in text
    assert lines[-1] == "test accuracy 0.9125"
    assert reporter.exit_code == 0


def test_progress_bar_with_eta_on_a_terminal():
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, tty=True)
    _play(reporter)
    text = stream.getvalue()
    assert "\repoch 1/2 [" in text and "ETA" in text and "10/10" in text
    last_bar = text.split("\repoch")[-1].split("[")[1].split("]")[0]
    assert len(last_bar) >= 10 and set(last_bar) == {"#"}  # the last step of the epoch draws a full bar
    assert text.strip().splitlines()[-1] == "test accuracy 0.9125"


@pytest.mark.parametrize(
    "finished, code",
    [
        (Finished("early_stopped", "no improvement", "r"), 0),
        (Finished("stopped", "stopped on request", "r"), 130),
        (Finished("diverged", "loss became nan", "r", step=3), 1),
        (Finished("failed", "RuntimeError: boom", "r"), 1),
        (Finished("failed", "bad", None, problems=("layer 1: bad",)), 2),
    ],
)
def test_exit_codes(finished, code):
    reporter = ConsoleReporter(io.StringIO(), tty=False)
    reporter(finished)
    assert reporter.exit_code == code


def _write(tmp_path, exp) -> str:
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(exp.to_dict()))
    return str(path)


def _runs(out):
    return sorted(p for p in Path(out).iterdir() if p.is_dir())


def test_train_command_end_to_end_and_resume(tmp_path, capsys):
    from tapedeck.engine.cli.main import main

    path = _write(tmp_path, experiment(epochs=5))
    out = tmp_path / "runs"
    code = main(["train", path, "--out", str(out), "--epochs", "1", "--limit", "150", "--loop", "tape"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip().splitlines()[-1].startswith("test accuracy ")
    (run_dir,) = _runs(out)
    saved = json.loads((run_dir / "experiment.json").read_text())
    assert (saved["training"]["epochs"], saved["training"]["loop"], saved["data"]["limit"]) == (1, "tape", 150)

    code = main(["train", "--resume", str(run_dir), "--epochs", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "resuming after epoch 1" in captured.out
    assert [line.split(",")[0] for line in (run_dir / "history.csv").read_text().splitlines()[1:]] == ["1", "2"]


def test_bad_input_exits_2_with_the_messages(tmp_path, capsys):
    from tapedeck.engine.cli.main import main

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["train", str(broken), "--out", str(tmp_path)]) == 2
    assert "broken.json" in capsys.readouterr().err

    bad_stack = [{"type": "Flatten"}, {"type": "Dense", "units": 3, "activation": "softmax"}]
    path = _write(tmp_path, experiment(layers=bad_stack))
    assert main(["train", path, "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "cannot run" in err and "Dense" in err
    assert not (tmp_path / "runs").exists() or not _runs(tmp_path / "runs")

    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_ctrl_c_stops_after_the_current_step_and_leaves_the_folder_consistent(tmp_path, capsys):
    from tapedeck.engine.cli.main import main

    path = _write(tmp_path, experiment(layers=SMALL_LAYERS, epochs=1000, data={"limit": 300}))
    out = tmp_path / "runs"

    def interrupt_once_training():
        deadline = time.time() + 60
        while time.time() < deadline:
            folders = list(out.glob("*/checkpoint.json")) if out.exists() else []
            if folders:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=interrupt_once_training)
    thread.start()
    code = main(["train", path, "--out", str(out)])
    thread.join()
    captured = capsys.readouterr()
    assert code == 130, captured.err
    assert "Stopping after the current step" in captured.err
    (run_dir,) = _runs(out)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "stopped"
    done = json.loads((run_dir / "checkpoint.json").read_text())["epoch"]
    rows = (run_dir / "history.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == done == metrics["epochs_completed"]
    assert (run_dir / "model.keras").exists()
    assert not [p for p in run_dir.iterdir() if ".tmp-" in p.name]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
