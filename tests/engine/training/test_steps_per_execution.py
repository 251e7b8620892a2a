"""Several training steps per compiled call: the same training, fewer calls; Stop, Step and the
reporter still act; "auto" says what it chose."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.training.events import BatchEnd, EpochEnd, RunNote, StepInspected
from tapedeck.engine.training.pacing import MAX_STEPS, choose_steps, one_step_reason
from tapedeck.engine.training.run import RunControl, run
from tests.support.training_support import Recorder, experiment, optimizer_iterations, stop_at_first_report


def test_tape_loop_takes_the_same_steps_and_loss_with_several_steps_per_call(tmp_path):
    """180 training images in batches of 16: 12 steps an epoch, calls of 5, 5 and a shorter 2."""
    runs = {}
    for steps in (1, 5):
        recorder = Recorder()
        run_dir = run(experiment(data={"limit": 200}, loop="tape", epochs=2, batch_size=16, inspect_every=0,
                                 steps_per_execution=steps), recorder, runs_dir=tmp_path)
        assert recorder.finished.reason == "completed"
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
        runs[steps] = (recorder, optimizer_iterations(run_dir), metrics)
    (one, one_steps, _), (five, five_steps, metrics) = runs[1], runs[5]
    assert one_steps == five_steps == 24
    np.testing.assert_allclose([e.loss for e in five.of(EpochEnd)], [e.loss for e in one.of(EpochEnd)], rtol=1e-4)
    np.testing.assert_allclose([e.val_loss for e in five.of(EpochEnd)], [e.val_loss for e in one.of(EpochEnd)],
                               rtol=1e-4)
    assert metrics["tape_traces"]["train"] == 1   # the shorter last call shares the trace
    # BatchEnd only at the end of a call: steps 5, 10, 12 of each epoch
    assert {e.step for e in five.of(BatchEnd)} <= {5, 10, 12}
    assert all(e.step == 12 for e in five.of(BatchEnd) if e.step not in (5, 10)) and five.of(BatchEnd)[-1].step == 12


def test_calls_end_before_an_inspected_step(tmp_path):
    recorder = Recorder()
    run(experiment(data={"limit": 300}, loop="tape", batch_size=8, inspect_every=10, steps_per_execution=8),
        recorder, runs_dir=tmp_path)
    from tapedeck.engine.training.events import GradientRecord

    assert [r.step for r in recorder.of(GradientRecord)][:4] == [1, 10, 20, 30]


def test_stop_acts_within_one_call(tmp_path):
    recorder, control, seen, run_dir = stop_at_first_report(
        experiment(data={"limit": 600}, loop="tape", batch_size=8, inspect_every=0, steps_per_execution=6), tmp_path)
    assert recorder.finished.reason == "stopped"
    assert seen[0] == 6
    assert optimizer_iterations(run_dir) <= seen[0] + 6


def test_step_takes_exactly_the_steps_asked_for_between_calls_of_several(tmp_path):
    control = RunControl()
    inspected = []
    paused_once = threading.Event()

    def on_event(event):
        if isinstance(event, BatchEnd) and not paused_once.is_set():
            paused_once.set()
            control.pause()
        if isinstance(event, StepInspected):
            inspected.append(event.step)

    recorder = Recorder(on_event)
    exp = experiment(data={"limit": 600}, loop="tape", batch_size=8, inspect_every=0, steps_per_execution=8, epochs=3)
    thread = threading.Thread(target=run, args=(exp, recorder, control), kwargs={"runs_dir": tmp_path})
    thread.start()
    deadline = time.time() + 60
    while not control.paused and time.time() < deadline:
        time.sleep(0.01)
    control.step(3)
    while not inspected and time.time() < deadline:
        time.sleep(0.01)
    while not control.paused and time.time() < deadline:
        time.sleep(0.01)
    control.stop()
    thread.join(60)
    assert recorder.finished.reason == "stopped" and len(inspected) == 1
    assert (inspected[0] - 3) % 8 == 0, inspected   # paused after a call of 8, then three single steps
    assert optimizer_iterations(recorder.finished.run_dir) == inspected[0]


@pytest.mark.parametrize("loop", ("fit", "tape"))
def test_auto_resolves_to_a_number_the_run_says(loop, tmp_path):
    recorder = Recorder()
    run_dir = run(experiment(data={"limit": 300}, loop=loop, steps_per_execution="auto"), recorder, runs_dir=tmp_path)
    assert recorder.finished.reason == "completed"
    chosen = json.loads((Path(run_dir) / "metrics.json").read_text())["steps_per_execution"]
    assert isinstance(chosen, int) and 1 <= chosen <= MAX_STEPS
    notes = [n.message for n in recorder.of(RunNote) if n.kind == "steps_per_execution"]
    assert len(notes) == 1 and f"auto: {chosen} training step(s) per call" in notes[0]
    assert "set a number to override" in notes[0]
    explicit = Recorder()
    run(experiment(data={"limit": 300}, loop=loop, steps_per_execution=2), explicit, runs_dir=tmp_path)
    assert not [n for n in explicit.of(RunNote) if n.kind == "steps_per_execution"]


@pytest.mark.parametrize("loop", ("fit", "train_step"))
def test_a_run_begun_with_step_on_auto_takes_one_step_per_call(loop, tmp_path):
    """In fit a Step is one call: a run the person began with Step (the window's Step, `tapedeck step`)
    gets one step per call from "auto", so that Step is one step, and says why."""
    control = RunControl()
    control.step(1)
    inspected = threading.Event()
    recorder = Recorder(on_event=lambda event: inspected.set() if isinstance(event, StepInspected) else None)
    exp = experiment(data={"limit": 300}, loop=loop, steps_per_execution="auto")
    thread = threading.Thread(target=run, args=(exp, recorder, control), kwargs={"runs_dir": tmp_path})
    thread.start()
    assert inspected.wait(120), "no step was inspected"
    deadline = time.time() + 60
    while not control.paused and time.time() < deadline:
        time.sleep(0.01)
    control.stop()
    thread.join(60)
    assert recorder.finished.reason == "stopped"
    assert optimizer_iterations(recorder.finished.run_dir) == 1
    notes = [n.message for n in recorder.of(RunNote) if n.kind == "steps_per_execution"]
    assert notes and "as the run began with Step" in notes[0]


def test_one_step_per_call_where_several_cannot_work_or_were_not_wanted():
    assert "on 2 replicas" in one_step_reason(8, "fit", 2, 1, False)          # Keras's loop fails there
    assert "on 2 replicas" in one_step_reason("auto", "train_step", 2, 1, False)
    assert one_step_reason(8, "tape", 2, 1, False) is None                    # the tape loop pulls its steps
    assert "began with Step" in one_step_reason("auto", "fit", 1, 1, True)
    assert one_step_reason(8, "fit", 1, 1, True) is None                      # a number is the person's word
    assert one_step_reason("auto", "tape", 1, 1, True) is None                # tape Steps are exact anyway
    assert "several workers" in one_step_reason("auto", "tape", 2, 2, False)
    assert one_step_reason("auto", "fit", 1, 1, False) is None


def test_choose_steps_aims_at_fifty_ms_within_the_caps():
    assert choose_steps(0.005, 100) == 10
    assert choose_steps(0.0001, 1000) == MAX_STEPS
    assert choose_steps(0.0001, 20) == 20         # never more than an epoch
    assert choose_steps(1.0, 100) == 1
    assert choose_steps(None, 100) == MAX_STEPS
