"""Mixed precision: the policy is set inside the run, the output computes in float32, float16 scales its loss."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tapedeck.engine.training.events import RunNote, RunStarted
from tapedeck.engine.training.run import run
from tests.support.training_support import Recorder, experiment


@pytest.mark.parametrize("loop", ["fit", "tape", "train_step"])
def test_bfloat16_trains_with_a_float32_output_and_says_so(tmp_path, loop):
    import keras

    recorder = Recorder()
    run_dir = run(experiment(data={"limit": 300}, loop=loop, precision="mixed_bfloat16"), recorder,
                  runs_dir=str(tmp_path))
    assert recorder.finished.reason == "completed", recorder.finished.message
    assert recorder.of(RunStarted)[0].precision == "mixed_bfloat16"
    assert json.loads((Path(run_dir) / "metrics.json").read_text())["precision"] == "mixed_bfloat16"
    model = keras.models.load_model(Path(run_dir) / "model.keras")
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"
    assert model.layers[0].dtype_policy.compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"   # this thread's policy is left alone elsewhere


def test_float16_on_a_cpu_trains_with_loss_scaling_and_a_note(tmp_path):
    recorder = Recorder()
    run(experiment(data={"limit": 200}, loop="tape", precision="mixed_float16"), recorder, runs_dir=str(tmp_path))
    assert recorder.finished.reason == "completed", recorder.finished.message
    notes = recorder.of(RunNote)
    assert notes and "mixed_bfloat16 is the 16-bit choice for CPUs" in notes[0].message
