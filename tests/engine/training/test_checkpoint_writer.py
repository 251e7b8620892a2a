"""Checkpoints off the training thread: the state copied at the epoch's end, written by a writer thread,
and still what a resume loads (exact weights, optimizer step), atomic, and resumable after kill -9."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.training.callbacks import CheckpointCallback, RunState
from tapedeck.engine.training.run import run
from tests.support.training_support import Recorder, experiment


class Folder:
    """A RunFolder's checkpoint half, recording the thread of each save and the state it saved."""

    def __init__(self, path, fail_on=None):
        from tapedeck.engine.runs.folder import RunFolder

        self.real = RunFolder.create(path, "writer")
        self.checkpoint_path = self.real.checkpoint_path
        self.threads, self.fail_on = [], fail_on

    def save_checkpoint(self, model, epoch):
        self.threads.append(threading.current_thread().name)
        if epoch == self.fail_on:
            raise OSError(28, "No space left on device")
        self.real.save_checkpoint(model, epoch)


def small_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu", name="hidden"),
                              keras.layers.Dense(3, activation="softmax", name="out")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 3, 64)


def test_later_epochs_are_written_off_the_training_thread_with_the_epochs_exact_state(tmp_path):
    import keras

    folder = Folder(tmp_path)
    model = small_model()
    states = []

    class Remember(keras.callbacks.Callback):   # the state at each epoch's end, before the next trains
        def on_epoch_end(self, epoch, logs=None):
            states.append([np.array(v) for v in model.weights] + [int(model.optimizer.iterations)])

    x, y = data()
    checkpoint = CheckpointCallback(folder, RunState(steps_per_epoch=4, batch_size=16, train_samples=64))
    with checkpoint:
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Remember(), checkpoint])
    assert folder.threads == ["tapedeck-checkpoint"] * 3
    saved = keras.models.load_model(folder.checkpoint_path)
    assert int(saved.optimizer.iterations) == states[-1][-1] == 12
    for kept, live in zip(saved.weights, states[-1][:-1]):
        np.testing.assert_array_equal(np.array(kept), live)
    assert json.loads(folder.real.checkpoint_state_path.read_text())["epoch"] == 3


def test_a_change_of_trainable_flags_the_shadow_cannot_mirror_is_saved_on_the_training_thread(tmp_path):
    """Frozen after the optimizer was built for its variables: a shadow rebuilt from the new config has
    fewer optimizer slots, so it cannot pair; the saves stay here, with the new flags."""
    import keras

    folder = Folder(tmp_path)
    model = small_model()

    class Freeze(keras.callbacks.Callback):   # what a Backbone's unfreeze does, the other way round
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                model.get_layer("hidden").trainable = False

    x, y = data()
    checkpoint = CheckpointCallback(folder, RunState(steps_per_epoch=4, batch_size=16, train_samples=64))
    with checkpoint:
        model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[Freeze(), checkpoint])
    here = threading.current_thread().name
    assert folder.threads == ["tapedeck-checkpoint"] * 2 + [here] * 2
    assert not keras.models.load_model(folder.checkpoint_path).get_layer("hidden").trainable


def test_a_failed_background_write_is_raised_on_the_training_thread(tmp_path):
    folder = Folder(tmp_path, fail_on=2)
    model = small_model()
    x, y = data()
    checkpoint = CheckpointCallback(folder, RunState(steps_per_epoch=4, batch_size=16, train_samples=64))
    with pytest.raises(OSError, match="No space left"), checkpoint:
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[checkpoint])
    assert folder.threads == ["tapedeck-checkpoint"] * 2
    assert json.loads(folder.real.checkpoint_state_path.read_text())["epoch"] == 1   # the last whole one


def test_a_state_too_large_to_copy_is_saved_on_the_training_thread(tmp_path, monkeypatch):
    from tapedeck.engine.training import checkpoint_writer

    monkeypatch.setattr(checkpoint_writer, "MAX_SHADOW_BYTES", 1000)   # the small model's state: ~2.4 kB
    folder = Folder(tmp_path)
    x, y = data()
    checkpoint = CheckpointCallback(folder, RunState(steps_per_epoch=4, batch_size=16, train_samples=64))
    with checkpoint:
        small_model().fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[checkpoint])
    assert folder.threads == [threading.current_thread().name] * 3


def test_a_bfloat16_run_checkpoints_in_the_background_with_its_policies(tmp_path):
    import keras

    recorder = Recorder()
    run_dir = run(experiment(data={"limit": 300}, loop="tape", epochs=2, precision="mixed_bfloat16"), recorder,
                  runs_dir=str(tmp_path))
    assert recorder.finished.reason == "completed", recorder.finished.message
    saved = keras.models.load_model(Path(run_dir) / "checkpoint.keras")
    final = keras.models.load_model(Path(run_dir) / "model.keras")
    assert saved.layers[0].dtype_policy.compute_dtype == "bfloat16"
    assert saved.layers[-1].dtype_policy.compute_dtype == "float32"
    assert int(saved.optimizer.iterations) == int(final.optimizer.iterations) > 0
    for kept, last in zip(saved.weights, final.weights):
        np.testing.assert_array_equal(np.asarray(kept), np.asarray(last))


KILLED = """
import sys
from tapedeck.engine.training.run import run
from tests.support.training_support import experiment
run(experiment(data={"limit": 400}, loop="tape", epochs=200, name="killed"), lambda e: None, runs_dir=sys.argv[1])
"""


def test_a_run_killed_while_checkpointing_resumes(tmp_path):
    """kill -9 at some point after a few background writes: checkpoint.keras is whole, and the run resumes."""
    root = Path(__file__).resolve().parents[3]
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp_path)], cwd=root,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(root)))
    try:
        deadline = time.monotonic() + 120
        state = None
        while time.monotonic() < deadline and child.poll() is None:
            states = list(tmp_path.glob("*/checkpoint.json"))
            state = json.loads(states[0].read_text()) if states else None
            if state and state["epoch"] >= 3:
                break
            time.sleep(0.05)
        assert state and state["epoch"] >= 3, "the child wrote no third checkpoint in time"
        time.sleep(0.13)   # somewhere in a later epoch, maybe mid-write
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    run_dir = next(tmp_path.glob("*/checkpoint.json")).parent
    resumed = experiment(data={"limit": 400}, loop="tape", epochs=200, name="killed")
    resumed.training.epochs = json.loads((run_dir / "checkpoint.json").read_text())["epoch"] + 1
    (run_dir / "experiment.json").write_text(json.dumps(resumed.to_dict()))
    recorder = Recorder()
    assert run(resumed, recorder, runs_dir=tmp_path, resume_dir=run_dir) == str(run_dir)
    assert recorder.finished.reason == "completed", recorder.finished.message
