"""A GAN (GradientTape loop) and a VAE (fit's train_step) with ``training.distribute: multi_worker`` across two
real processes on 127.0.0.1, as a classifier's run is tested (tests/engine/training/test_multi_worker.py).

Checked: both workers complete; the chief wrote the run folder, and the other worker nothing outside its temporary
folder, which is gone afterwards; the epoch's figures (summed across the workers) are the same on both; the
sample grids drawn from the fixed noise are the same on both (the models stayed in step); a stop asked on the
chief alone stops both. And the exported GradientTape script for multi_worker runs as-is on two workers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.ports import free_ports

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 240   # seconds for both workers together: a collective op that never completes fails the test

WORKER = r"""
import json, sys
import numpy as np
from tapedeck.engine.objectives.run import RunControl, run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import BatchEnd, EpochEnd, SampleGrid

index = sys.argv[1]
results = {}
for preset, loop in (("digits_gan", "tape"), ("digits_vae", "train_step")):
    experiment = load_preset(preset)
    experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 2, 32
    experiment.training.loop, experiment.training.distribute = loop, "multi_worker"
    experiment.objective.settings["quality_samples"] = 0
    events = []
    run_dir = run(experiment, events.append, runs_dir="runs")
    grids = [e for e in events if isinstance(e, SampleGrid) and e.kind == "samples"]
    results[preset] = {"reason": events[-1].reason, "message": events[-1].message, "run_dir": run_dir,
                       "heads": [e.heads for e in events if isinstance(e, EpochEnd)],
                       "steps": [[e.epoch, e.step, e.steps] for e in events if isinstance(e, BatchEnd)][-1],
                       "grid": np.asarray(grids[-1].images).ravel()[::7].tolist() if grids else None}

experiment = load_preset("digits_gan")
experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 3, 32
experiment.training.distribute = "multi_worker"
experiment.objective.settings["quality_samples"] = 0
control = RunControl()
steps = []

def stopper(event):
    if isinstance(event, BatchEnd):
        steps.append(event.step)
        if index == "0":
            control.stop()
    elif type(event).__name__ == "Finished":
        results["stop"] = {"reason": event.reason, "epoch": event.epoch}

run(experiment, stopper, control, runs_dir="runs")
print("RESULT " + json.dumps(results), flush=True)
"""


def _start(tmp_path, command) -> list:
    """Two processes of ``command`` (given the worker's index), each in its own folder with its own TMPDIR."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        home = tmp_path / f"worker{index}"
        (home / "tmp").mkdir(parents=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", TMPDIR=str(home / "tmp"),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        env.pop("http_proxy", None)   # gRPC between the workers must not go through a proxy
        env.pop("https_proxy", None)
        processes.append(subprocess.Popen(command(index), cwd=home, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
    return processes


def _outputs(processes) -> list[str]:
    """Each process's standard output, once both ended well."""
    deadline = time.monotonic() + TIMEOUT
    outputs = []
    try:
        for process in processes:
            try:
                stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError("the workers did not finish in time (a collective op waiting for a peer?)") \
                    from None
            assert process.returncode == 0, stderr[-3000:]
            outputs.append(stdout)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


def _workers(tmp_path) -> list[dict]:
    outputs = _outputs(_start(tmp_path, lambda index: [sys.executable, "-c", WORKER, str(index)]))
    lines = [[line for line in output.splitlines() if line.startswith("RESULT ")] for output in outputs]
    assert all(lines), outputs
    return [json.loads(found[0][len("RESULT "):]) for found in lines]


def test_a_gan_and_a_vae_train_on_two_workers_and_the_chief_alone_writes(tmp_path):
    chief, other = _workers(tmp_path)
    for preset, first in (("digits_gan", "generator"), ("digits_vae", "encoder")):
        ran, also = chief[preset], other[preset]
        assert ran["reason"] == also["reason"] == "completed", (ran["message"], also["message"])
        folder = tmp_path / "worker0" / ran["run_dir"]   # relative to the chief's working folder
        assert ran["run_dir"].startswith("runs") and (folder / f"{first}.keras").exists(), ran["run_dir"]
        assert json.loads((folder / "metrics.json").read_text())["workers"] == 2
        assert len(ran["heads"]) == len(also["heads"]) == 2
        assert ran["steps"] == also["steps"] == [2, 4, 4]   # 128 images in global batches of 32, each epoch
        for mine, theirs in zip(ran["heads"], also["heads"]):   # the epoch's means, summed across the workers
            assert mine.keys() == theirs.keys() and all(abs(mine[k] - theirs[k]) < 1e-5 for k in mine), (mine, theirs)
        assert np.allclose(ran["grid"], also["grid"], atol=1e-5)   # the same models on both workers
    assert not (tmp_path / "worker1" / "runs").exists()            # the other worker wrote no run folder
    assert list((tmp_path / "worker1" / "tmp").iterdir()) == []    # and its temporary one is gone
    assert chief["stop"] == other["stop"] and chief["stop"]["reason"] == "stopped", (chief["stop"], other["stop"])


def test_the_exported_multi_worker_tape_script_runs_on_two_workers(tmp_path):
    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset("digits_gan")
    experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 1, 32
    experiment.training.distribute = "multi_worker"
    script = tmp_path / "gan.py"
    script.write_text(generate_code(experiment, loop="tape"))
    source = script.read_text()
    assert source.index("strategy = tf.distribute.MultiWorkerMirroredStrategy()") < source.index("set_random_seed(")
    chief, other = _outputs(_start(tmp_path, lambda index: [sys.executable, str(script)]))
    assert "Training on 2 replica(s)" in chief and "Training on 2 replica(s)" in other
    epoch = [line for line in chief.splitlines() if line.startswith("Epoch 1/1")]
    assert epoch and epoch == [line for line in other.splitlines() if line.startswith("Epoch 1/1")]   # global means
    assert {path.name for path in (tmp_path / "worker0").iterdir()} == {"generator.keras", "discriminator.keras",
                                                                         "samples", "tmp"}
    assert {path.name for path in (tmp_path / "worker1").iterdir()} == {"tmp"}   # it saved into a temporary folder
    assert list((tmp_path / "worker1" / "tmp").iterdir()) == []                  # and removed it
    experiment.training.loop = "train_step"   # Keras's fit under several workers: no script runs as-is
    with pytest.raises(ValueError, match="multi_worker with loop 'train_step' has no script that runs as-is"):
        generate_code(experiment)
