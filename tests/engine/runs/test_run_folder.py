"""The run folder: names, history rows, checkpoints, metrics — all written atomically."""
from __future__ import annotations

import json
import math

import pytest

from tapedeck.engine.runs.folder import HISTORY_COLUMNS, RunFolder, RunFolderError


def _row(epoch, loss=0.5):
    return {"epoch": epoch, "loss": loss, "accuracy": 0.9, "val_loss": None, "val_accuracy": None,
            "learning_rate": 0.001, "seconds": 1.25}


def test_new_folders_are_named_by_time_and_name_and_never_collide(tmp_path):
    first = RunFolder.create(tmp_path, "my net/v2")
    second = RunFolder.create(tmp_path, "my net/v2")
    assert first.path != second.path
    assert first.path.name.endswith("-my-net-v2") and first.path.is_dir()
    assert second.path.name.startswith(first.path.name)


def test_history_appends_rows_and_reads_them_back(tmp_path):
    folder = RunFolder.create(tmp_path, "h")
    folder.write_history([])
    assert folder.history_path.read_text() == ",".join(HISTORY_COLUMNS) + "\n"
    folder.append_history(_row(1, 0.75))
    folder.append_history(_row(2, 0.5))
    rows = folder.read_history()
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[0]["loss"] == 0.75 and rows[0]["val_loss"] is None and rows[0]["seconds"] == 1.25
    folder.append_history(_row(2, 0.25))  # the same epoch again replaces, never duplicates
    assert [r["loss"] for r in folder.read_history()] == [0.75, 0.25]
    folder.truncate_history(1)
    assert [r["epoch"] for r in folder.read_history()] == [1]
    assert not [p for p in folder.path.iterdir() if ".tmp-" in p.name]


def test_checkpoint_epoch_needs_both_files(tmp_path):
    folder = RunFolder.create(tmp_path, "c")
    assert folder.checkpoint_epoch() is None
    folder.checkpoint_state_path.write_text(json.dumps({"epoch": 3}))
    assert folder.checkpoint_epoch() is None  # no checkpoint.keras next to it
    folder.checkpoint_path.write_bytes(b"zip")
    assert folder.checkpoint_epoch() == 3
    folder.checkpoint_state_path.write_text("{half")
    assert folder.checkpoint_epoch() is None


def test_resume_refuses_missing_folders_and_folders_without_checkpoint(tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder"):
        RunFolder.open_for_resume(tmp_path / "absent")
    folder = RunFolder.create(tmp_path, "r")
    with pytest.raises(RunFolderError, match="start a new run"):
        RunFolder.open_for_resume(folder.path)


def test_checkpoint_and_model_are_saved_atomically_and_load(tmp_path):
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    folder = RunFolder.create(tmp_path, "m")
    folder.save_checkpoint(model, 1)
    assert folder.checkpoint_epoch() == 1
    assert folder.keep_checkpoint_as_model()
    loaded = keras.models.load_model(folder.model_path)
    assert int(np.asarray(loaded.optimizer.iterations)) == 1
    assert not [p for p in folder.path.iterdir() if ".tmp-" in p.name]


def test_metrics_turn_non_finite_numbers_into_readable_json(tmp_path):
    folder = RunFolder.create(tmp_path, "j")
    folder.write_metrics({"status": "diverged", "loss": math.nan, "values": [1.0, math.inf]})
    text = folder.metrics_path.read_text()
    assert json.loads(text) == {"status": "diverged", "loss": "nan", "values": [1.0, "inf"]}
    assert folder.read_metrics()["status"] == "diverged"


def test_events_runs_and_console_load_without_tensorflow():
    """The window imports these before TensorFlow has loaded in the background."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, engine.training.events, engine.runs.folder, engine.cli.train; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[3], timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
