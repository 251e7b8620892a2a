"""``training.distribute: multi_worker`` across two real processes on 127.0.0.1.

Two worker processes (``TF_CONFIG`` naming two free loopback ports; worker 0 is the chief) train
the digits preset for one epoch in each loop, one run after another in the same two processes
(TensorFlow sets up a worker once per process). Checked: the chief wrote the run folders; the
other worker wrote nothing outside its temporary folder, which is gone afterwards; both end with
the same weights; the test accuracy matches a single-process run of the same experiment; and a
stop asked on the chief alone stops both.

Why these tolerances: both set-ups see the same global batches (16 = 8 per worker, the same
seeded shuffle) from the same seeded initial weights. In ``fit`` and a custom ``train_step`` the
workers then differ from one process only in the order the gradient sums are added: measured
identical test accuracy, so 0.02 (7 of the 360 test images). The GradientTape loop under the
strategy draws each replica's dropout mask for its own 8 rows, not one mask for all 16: measured
0.70-0.72 against 0.78-0.81 alone after this one epoch, and identical once the Dropout layer is
removed; 0.12 covers that. Gradients not summed, or batches split wrongly, show up in the weights
check and in the fit and train_step comparisons.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tests.support.ports import free_ports
from tests.support.training_support import Recorder, digits_cnn

ROOT = Path(__file__).resolve().parents[3]
LOOPS = ("fit", "tape", "train_step")
TOLERANCE = {"fit": 0.02, "train_step": 0.02, "tape": 0.12}
TIMEOUT = 240   # seconds for both workers together: a collective that never completes fails the test

WORKER = r"""
import json, shutil, sys
from pathlib import Path
from tapedeck.engine.spec.experiment import load_experiment
from tapedeck.engine.training.events import BatchEnd, RunStarted, TestResult
from tapedeck.engine.training.run import RunControl, run

experiment_path, out, keep, index = sys.argv[1:5]
results = {}
for loop in sys.argv[5:]:
    experiment = load_experiment(experiment_path)
    experiment.training.loop = loop
    seen = {}

    def reporter(event, loop=loop, seen=seen):
        if isinstance(event, RunStarted):
            seen["run_dir"] = event.run_dir
        elif isinstance(event, TestResult):   # the model is saved by now; a worker's folder goes at the end
            seen["accuracy"] = event.accuracy
            shutil.copyfile(Path(seen["run_dir"]) / "model.keras", Path(keep) / f"{loop}-{index}.keras")
        elif type(event).__name__ == "Finished":
            seen["reason"], seen["message"] = event.reason, event.message

    returned = run(experiment, reporter, runs_dir=out)
    results[loop] = dict(seen, returned=returned)

# Ctrl-C on the chief alone, at its first batch event: both workers must stop, and at the same step.
experiment = load_experiment(experiment_path)
control = RunControl()
steps = []

def stopper(event):
    if isinstance(event, BatchEnd):
        steps.append(event.step)
        if index == "0":
            control.stop()
    elif type(event).__name__ == "Finished":
        results["stop"] = {"reason": event.reason, "samples": steps[-1:]}

run(experiment, stopper, control, runs_dir=out)
print("RESULT " + json.dumps(results), flush=True)
"""


def _start_workers(tmp_path, experiment_path, keep):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        home = tmp_path / f"worker{index}"
        (home / "tmp").mkdir(parents=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", TMPDIR=str(home / "tmp"),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        env.pop("http_proxy", None)   # gRPC between the workers must not go through a proxy
        env.pop("https_proxy", None)
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(experiment_path), "runs", str(keep), str(index), *LOOPS],
            cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return processes


def _results(processes) -> list[dict]:
    deadline = time.monotonic() + TIMEOUT
    outputs = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError("the workers did not finish in time (a collective op waiting for a peer?)") from None
        lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
        assert process.returncode == 0 and lines, stderr[-3000:]
        outputs.append(json.loads(lines[0][len("RESULT "):]))
    return outputs


def _weights(path) -> list:
    import keras

    return keras.models.load_model(path).get_weights()


def test_two_workers_on_loopback_train_like_one_process(tmp_path):
    from tapedeck.engine.training.events import TestResult
    from tapedeck.engine.training.run import run

    experiment = digits_cnn()
    experiment.training.epochs = 1
    experiment.data.limit = 800
    experiment.training.distribute = "multi_worker"
    experiment_path = tmp_path / "experiment.json"
    experiment_path.write_text(json.dumps(experiment.to_dict()))
    keep = tmp_path / "weights"
    keep.mkdir()

    processes = _start_workers(tmp_path, experiment_path, keep)
    try:
        single = {}   # meanwhile, the same experiment in this process, without workers
        for loop in LOOPS:
            alone = experiment.copy()
            alone.training.distribute, alone.training.loop = "none", loop
            recorder = Recorder()
            run(alone, recorder, runs_dir=tmp_path / "single")
            single[loop] = recorder.of(TestResult)[0].accuracy
        chief, worker = _results(processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    for loop in LOOPS:
        assert chief[loop]["reason"] == "completed", chief[loop]
        assert worker[loop]["reason"] == "completed", worker[loop]
        # The chief's run folder is the one the person sees, complete.
        folder = tmp_path / "worker0" / chief[loop]["returned"]
        assert folder.parent == tmp_path / "worker0" / "runs"
        assert {"experiment.json", "history.csv", "checkpoint.keras", "model.keras", "metrics.json"} <= {
            p.name for p in folder.iterdir()}
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["workers"] == 2 and metrics["replicas"] == 2
        # The other worker trained into a temporary folder, now removed.
        temporary = Path(worker[loop]["returned"])
        assert temporary.is_relative_to(tmp_path / "worker1" / "tmp") and not temporary.exists()
        # Same weights on both workers, and the accuracy of one process training alone.
        for a, b in zip(_weights(keep / f"{loop}-0.keras"), _weights(keep / f"{loop}-1.keras"), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert chief[loop]["accuracy"] == worker[loop]["accuracy"]
        assert abs(chief[loop]["accuracy"] - single[loop]) <= TOLERANCE[loop], (loop, chief[loop]["accuracy"], single)
    # A stop asked on the chief alone stops both workers (none left waiting in a collective).
    assert chief["stop"]["reason"] == worker["stop"]["reason"] == "stopped", (chief["stop"], worker["stop"])
    assert list((tmp_path / "worker1").iterdir()) == [tmp_path / "worker1" / "tmp"]   # no runs/ off the chief
    assert list((tmp_path / "worker1" / "tmp").iterdir()) == []
