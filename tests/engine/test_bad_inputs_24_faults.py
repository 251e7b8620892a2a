"""Issue 24's process and file faults: kill -9 and SIGTERM while a checkpoint is written, a worker waiting for
one never started, a full disk at a checkpoint, an export into a person's folder, and imports whose layer names
TensorFlow cannot use. Split from ``test_bad_inputs_24.py`` (the catalogue of one-line messages): each case here
runs a process or a fault of its own. As there: exit 2 and one ``tapedeck:`` line naming the thing, no traceback,
nothing lost.
"""
from __future__ import annotations

import json

import numpy as np

from tapedeck.engine.cli.main import main
from tests.support import badfiles as bad


def _experiment(tmp_path, data=None, change=None, name="exp.json") -> str:
    return bad.experiment_file(tmp_path, data, change, name)


DEAD_PID = 2**22 + 7   # above Linux's largest pid: no such process


def test_leftover_temporaries_of_dead_writers_are_cleaned_at_the_next_write(tmp_path):
    """kill -9 mid-write left ``checkpoint.tmp-<pid>-<hex>.keras`` (a broken zip) beside the real checkpoint;
    the next write into the folder removes the dead writers' temporaries and keeps a live one's."""
    import os

    from tapedeck.engine.files import write_text_atomic

    (tmp_path / f"checkpoint.tmp-{DEAD_PID}-0123abcd.keras").write_bytes(b"PK\x03\x04 cut")
    (tmp_path / f".tmp-{DEAD_PID}-89abcdef").mkdir()
    (tmp_path / f".tmp-{DEAD_PID}-89abcdef" / "model.keras").write_bytes(b"PK")
    live = tmp_path / f".tmp-{os.getppid()}-00000000"
    live.mkdir()
    (tmp_path / "notes.tmp.txt").write_text("a person's file")
    write_text_atomic(tmp_path / "history.csv", "epoch\n1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "history.csv", "notes.tmp.txt"])


_SIGTERM_MID_CHECKPOINT = """
import os, signal, sys
import keras
original = keras.Model.save
def save(self, filepath, *args, **kwargs):
    result = original(self, filepath, *args, **kwargs)
    if "checkpoint" in str(filepath):
        os.kill(os.getpid(), signal.SIGTERM)   # the checkpoint's temporary is written, not yet renamed
    return result
keras.Model.save = save
from tapedeck.engine.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_while_a_checkpoint_is_written_stops_like_ctrl_c(tmp_path):
    """SIGTERM killed the process at once (exit -15) with ``checkpoint.tmp-…keras`` left in the run folder;
    now it stops after the current step like Ctrl-C: the checkpoint is whole and nothing temporary is left."""
    import subprocess
    import sys

    experiment = _experiment(tmp_path, change=lambda e: e["training"].update(epochs=3))
    done = subprocess.run([sys.executable, "-c", _SIGTERM_MID_CHECKPOINT, "train", experiment, "--out",
                           str(tmp_path / "runs")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 130, done.stderr[-2000:]
    assert "SIGTERM" in done.stderr and "Traceback" not in done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "stopped"
    assert json.loads((run_dir / "checkpoint.json").read_text())["epoch"] == 1
    assert not [p.name for p in run_dir.iterdir() if ".tmp-" in p.name]


def test_a_savedmodel_export_never_deletes_a_persons_file_in_the_folder(tmp_path, capsys):
    """``served/`` holds an earlier SavedModel and notes.txt: the export swapped the folder whole and
    notes.txt was gone (exit 0). Now refused, naming the file; a folder of only an export is replaced."""
    from tests.support.run_support import copy_run, trained_run

    run_dir = copy_run(trained_run(), tmp_path / "runs")
    served = tmp_path / "served"
    assert main(["export", str(run_dir), "--format", "savedmodel", "--out", str(served)]) == 0
    assert main(["export", str(run_dir), "--format", "savedmodel", "--out", str(served)]) == 0   # replaced
    (served / "notes.txt").write_text("which request shapes the server sees")
    capsys.readouterr()
    assert main(["export", str(run_dir), "--format", "savedmodel", "--out", str(served)]) == 2
    err = capsys.readouterr().err
    assert "served: holds files a SavedModel export does not write (notes.txt)" in err
    assert (served / "notes.txt").read_text() == "which request shapes the server sees"
    assert (served / "saved_model.pb").exists()


def test_import_renames_a_layer_named_input_so_its_own_check_accepts_it(tmp_path, capsys):
    """A layer named ``input`` was written as it is, and ``check`` then refused the experiment ("name 'input'
    is reserved"). It is renamed (and said so), and the kept weights follow the new name."""
    import keras

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(name="flat"),
                              keras.layers.Dense(10, activation="softmax", name="input")])
    model.save(tmp_path / "model.keras")
    argv = ["import", str(tmp_path / "model.keras"), "-o", str(tmp_path / "exp.json"), "--keep-weights"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "layer 'input' is named 'input_layer' in the experiment" in err
    experiment = json.loads((tmp_path / "exp.json").read_text())
    assert experiment["model"]["layers"][1]["name"] == "input_layer"
    assert main(["check", str(tmp_path / "exp.json")]) == 0, capsys.readouterr().err
    with np.load(tmp_path / "exp.weights.npz") as weights:
        assert sorted(weights.files) == ["input_layer:0", "input_layer:1"]   # the name the experiment uses


def test_import_renames_functional_layers_tensorflow_cannot_scope(tmp_path, capsys):
    import keras

    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, name="caché")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="sortie")(hidden)
    model = keras.Model(inputs, outputs)
    from tapedeck.engine.model.importer import experiment_from_model

    imported = experiment_from_model(model)
    names = [(layer.name, layer.inputs) for layer in imported.experiment.model.layers]
    assert names == [("cache", None), ("sortie", None)]
    assert any("'caché' is named 'cache'" in note for note in imported.notes)


_WAIT = """
import sys
from tapedeck.engine.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _waiting_worker(tmp_path, timeout_s):
    """Worker 0 of a two-worker TF_CONFIG whose worker 1 is never started."""
    import os
    import socket
    import subprocess
    import sys

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": 0}}
    env = dict(os.environ, TF_CONFIG=json.dumps(config), TAPEDECK_WORKER_TIMEOUT=str(timeout_s),
               TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    experiment = _experiment(tmp_path, change=lambda e: e["training"].update(distribute="multi_worker"))
    process = subprocess.Popen([sys.executable, "-c", _WAIT, "train", experiment, "--out", str(tmp_path / "runs")],
                               cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    return process, ports


def test_a_worker_waiting_for_a_missing_one_says_so_and_gives_up_at_its_limit(tmp_path):
    """Worker 1 never started: train printed nothing and waited forever. Now a line names worker 1 and its
    address and the limit; at the limit it names the worker that never answered and stops (TensorFlow's
    wait holds the GIL, so a watchdog process ends it with SIGTERM)."""
    import signal
    import time

    process, ports = _waiting_worker(tmp_path, 4)
    start = time.monotonic()
    _out, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    assert f"waiting up to 4 s (TAPEDECK_WORKER_TIMEOUT) for the other task(s) to join: worker 1 at " \
           f"127.0.0.1:{ports[1]}" in err
    assert f"worker 1 at 127.0.0.1:{ports[1]} did not join within 4 s" in err
    assert "Traceback" not in err
    assert time.monotonic() - start < 100


def test_sigterm_is_obeyed_while_a_worker_waits_for_the_others(tmp_path):
    """TensorFlow's wait is C++: a Python handler never ran and SIGTERM was ignored for ten minutes."""
    import signal
    import subprocess

    process, _ports = _waiting_worker(tmp_path, 600)
    try:
        line = ""
        while "waiting up to" not in line:
            line = process.stderr.readline()
            assert line, "the worker ended before it waited"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == -signal.SIGTERM
    except subprocess.TimeoutExpired:
        raise AssertionError("SIGTERM was ignored while the worker waited") from None
    finally:
        process.kill()
        process.wait()


def test_a_full_disk_at_an_epoch_end_checkpoint_says_free_space_and_resume(tmp_path, capsys, monkeypatch):
    """ENOSPC while checkpoint.keras was written: OSError, exit 1. Now exit 2 naming the file, the full
    disk and the resume; the earlier checkpoint is kept (resume worked, and still works)."""
    import errno

    import keras

    original = keras.Model.save
    saves = []

    def save(self, filepath, *args, **kwargs):
        if "checkpoint" in str(filepath):
            saves.append(filepath)
            if len(saves) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", save)
    experiment = _experiment(tmp_path, change=lambda e: e["training"].update(epochs=3))
    code = main(["train", experiment, "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert "checkpoint.keras: cannot be written (No space left on device); the disk is full" in err
    assert "--resume" in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "checkpoint.json").read_text())["epoch"] == 1
    assert not [p.name for p in run_dir.iterdir() if ".tmp-" in p.name]
