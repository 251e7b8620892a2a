"""Stop within one step, pause between steps, divergence, and failures that never escape run()."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.training.events import BatchEnd, EpochEnd, Finished, RunStarted, TestResult
from tapedeck.engine.training.run import RunControl, run
from tests.support.training_support import Recorder, experiment, optimizer_iterations, stop_at_first_report

LOOPS = ("fit", "tape")


@pytest.mark.parametrize("loop", LOOPS)
def test_stop_takes_effect_within_one_step(loop, tmp_path):
    control = RunControl()
    stopped_at = {}

    def on_event(event):
        if isinstance(event, BatchEnd) and not stopped_at:
            stopped_at["step"] = event.step  # reported from the training thread, after that step
            control.stop()

    recorder = Recorder(on_event)
    run_dir = run(experiment(data={"limit": 600}, loop=loop, epochs=3), recorder, control, runs_dir=tmp_path)
    finished = recorder.finished
    assert finished.reason == "stopped"
    assert optimizer_iterations(run_dir) <= stopped_at["step"] + 1
    assert not recorder.of(EpochEnd)  # the cut-short epoch is not reported, written or checkpointed
    folder = Path(run_dir)
    assert json.loads((folder / "metrics.json").read_text())["status"] == "stopped"
    assert (folder / "history.csv").read_text().strip().count("\n") == 0  # header only
    assert not (folder / "checkpoint.keras").exists()


@pytest.mark.parametrize("loop", LOOPS)
def test_stop_from_another_thread_and_its_latency(loop, tmp_path):
    control = RunControl()
    first_batch = threading.Event()
    recorder = Recorder(lambda e: isinstance(e, BatchEnd) and first_batch.set())
    end_of_training = {}
    exp = experiment(data={"limit": 1200}, loop=loop, epochs=50, batch_size=8)

    thread = threading.Thread(target=run, args=(exp, recorder, control), kwargs={"runs_dir": tmp_path})
    thread.start()
    assert first_batch.wait(60)
    time.sleep(0.2)
    requested = time.perf_counter()
    batches_before = len(recorder.of(BatchEnd))
    control.stop()
    thread.join(60)
    end_of_training["seconds"] = time.perf_counter() - requested
    assert not thread.is_alive()
    assert recorder.finished.reason == "stopped"
    # The stop lands after the current step; Finished follows after saving and testing the model.
    assert end_of_training["seconds"] < 5.0, end_of_training
    assert len(recorder.of(BatchEnd)) - batches_before <= 2
    print(f"{loop}: stop → Finished in {end_of_training['seconds'] * 1000:.0f} ms")


@pytest.mark.parametrize("loop", LOOPS)
def test_pause_blocks_between_steps_until_resume(loop, tmp_path):
    control = RunControl()
    recorder = Recorder(lambda e: isinstance(e, BatchEnd) and e.step == 1 and e.epoch == 1 and control.pause())
    exp = experiment(data={"limit": 300}, loop=loop, epochs=1)
    thread = threading.Thread(target=run, args=(exp, recorder, control), kwargs={"runs_dir": tmp_path})
    thread.start()
    deadline = time.time() + 60
    while not control.paused and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    count = len(recorder.events)
    time.sleep(0.5)
    assert len(recorder.events) == count and thread.is_alive()  # nothing moved while paused
    control.resume()
    thread.join(60)
    assert recorder.finished.reason == "completed"
    assert len(recorder.of(EpochEnd)) == 1


def test_stop_while_paused_ends_the_run(tmp_path):
    control = RunControl()
    recorder = Recorder(lambda e: isinstance(e, BatchEnd) and control.pause())
    thread = threading.Thread(target=run, args=(experiment(data={"limit": 300}, loop="tape"), recorder, control),
                              kwargs={"runs_dir": tmp_path})
    thread.start()
    deadline = time.time() + 60
    while not control.paused and time.time() < deadline:
        time.sleep(0.01)
    control.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert recorder.finished.reason == "stopped"


class _CountingControl(RunControl):
    """Counts how often the loop looks at the stop flag once a stop was requested."""

    def __init__(self):
        super().__init__()
        self.looks_after_stop = 0

    @property
    def stop_requested(self):
        requested = super().stop_requested
        self.looks_after_stop += requested
        return requested


@pytest.mark.parametrize("loop", LOOPS)
def test_stop_at_the_end_of_an_epoch_skips_the_validation_pass(loop, tmp_path):
    control = _CountingControl()
    recorder = Recorder(lambda e: isinstance(e, BatchEnd) and e.step == e.steps and control.stop())
    # validation: 50% of 400 examples in batches of 4 = 50 validation steps if it ran in full
    exp = experiment(data={"limit": 400, "validation_split": 0.5}, loop=loop, epochs=2, batch_size=4)
    run(exp, recorder, control, runs_dir=tmp_path)
    assert recorder.finished.reason == "stopped"
    assert not recorder.of(EpochEnd)
    assert control.looks_after_stop <= 4, control.looks_after_stop


def test_steps_per_execution_reports_every_execution_and_stops_there(tmp_path):
    recorder, _control, seen, run_dir = stop_at_first_report(
        experiment(data={"limit": 600}, epochs=1, steps_per_execution=4), tmp_path)
    assert recorder.finished.reason == "stopped"
    assert seen[0] == 4  # callbacks see the end of each 4-step execution
    assert optimizer_iterations(run_dir) <= seen[0] + 4


@pytest.mark.parametrize("loop", ["fit", "tape"])
def test_several_steps_per_call_never_report_a_step_past_the_epoch(loop, tmp_path):
    """540 training images at batch 32: 17 steps, so the last call of 4 ends on step 17, not 20
    (Keras's fit passed its nominal end, and the window showed "step 20/17")."""
    recorder = Recorder()
    run(experiment(data={"limit": 600}, epochs=2, steps_per_execution=4, loop=loop), recorder, runs_dir=tmp_path)
    assert recorder.finished.reason == "completed", recorder.finished.message
    batches = recorder.of(BatchEnd)
    assert batches[0].steps == 17 and max(b.step for b in batches) == 17
    for epoch in (1, 2):
        assert [b.step for b in batches if b.epoch == epoch][-1] == 17


DIVERGING = [
    {"type": "Flatten"},
    {"type": "Dense", "units": 32},  # linear: the logits grow geometrically with SGD at lr 30
    {"type": "Dense", "units": 10},
]


@pytest.mark.parametrize("loop", LOOPS)
def test_divergence_stops_at_the_step_and_keeps_the_last_good_epoch(loop, tmp_path):
    import keras

    exp = experiment(layers=DIVERGING, data={"limit": 128, "validation_split": 0}, loop=loop, epochs=8,
                     optimizer="sgd", learning_rate=30.0, from_logits=True)
    recorder = Recorder()
    run_dir = run(exp, recorder, runs_dir=tmp_path)
    finished = recorder.finished
    assert finished.reason == "diverged", finished
    good_epochs = recorder.of(EpochEnd)
    assert good_epochs, "expected at least one good epoch before the divergence"
    assert finished.epoch == len(good_epochs) + 1
    steps = recorder.of(RunStarted)[0].steps_per_epoch
    assert len(good_epochs) * steps < finished.step <= (len(good_epochs) + 1) * steps
    assert f"step {finished.step}" in finished.message
    assert not recorder.of(TestResult)
    folder = Path(run_dir)
    assert json.loads((folder / "metrics.json").read_text())["status"] == "diverged"
    assert json.loads((folder / "checkpoint.json").read_text())["epoch"] == len(good_epochs)
    model = keras.models.load_model(folder / "model.keras")
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_a_stack_that_does_not_check_fails_with_the_checks_messages(tmp_path):
    bad = [{"type": "Flatten"}, {"type": "Dense", "units": 3, "activation": "softmax"}]  # 10 classes
    recorder = Recorder()
    run_dir = run(experiment(layers=bad), recorder, runs_dir=tmp_path)
    finished = recorder.finished
    assert (finished.reason, run_dir, finished.run_dir) == ("failed", None, None)
    assert finished.problems and finished.message == "\n".join(finished.problems)
    assert not list(tmp_path.iterdir())  # no run folder for a run that never started


def test_missing_data_file_fails_with_a_clear_message(tmp_path):
    recorder = Recorder()
    run(experiment(data={"source": "npz", "path": str(tmp_path / "nowhere.npz")}), recorder, runs_dir=tmp_path)
    finished = recorder.finished
    assert finished.reason == "failed" and "nowhere.npz" in finished.message
    assert [type(e) for e in recorder.events] == [Finished]


def test_an_exception_inside_the_run_becomes_failed_then_finished(tmp_path):
    def explode(event):
        if isinstance(event, EpochEnd):
            raise RuntimeError("listener broke")

    recorder = Recorder(explode)
    run_dir = run(experiment(data={"limit": 100}), recorder, runs_dir=tmp_path)
    finished = recorder.finished
    assert finished.reason == "failed" and "listener broke" in finished.message
    assert not finished.problems  # not a user mistake
    assert json.loads((Path(run_dir) / "metrics.json").read_text())["status"] == "failed"


def test_run_settings_are_made_inside_the_worker_thread(tmp_path):
    """Keras keeps the dtype policy per thread: a policy set elsewhere must not leak into a run."""
    import keras

    keras.config.set_dtype_policy("mixed_float16")
    try:
        recorder = Recorder()
        result = {}
        thread = threading.Thread(
            target=lambda: result.setdefault("dir", run(experiment(data={"limit": 100}), recorder,
                                                        runs_dir=tmp_path)))
        thread.start()
        thread.join(60)
        assert recorder.finished.reason == "completed"
        model = keras.models.load_model(Path(result["dir"]) / "model.keras")
        assert all(w.dtype == "float32" for w in model.weights)
    finally:
        keras.config.set_dtype_policy("float32")
