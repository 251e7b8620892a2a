"""A GAN (GradientTape loop) and a VAE (fit's train_step) with ``training.distribute: multi_worker`` across two
real processes on 127.0.0.1, as a classifier's run is tested (tests/engine/training/test_multi_worker.py).

Checked: both workers complete; the chief wrote the run folder, and the other worker nothing outside its temporary
folder, which is gone afterwards; the epoch's figures (summed across the workers) are the same on both; the
sample grids drawn from the fixed noise are the same on both (the models stayed in step); a stop asked on the
chief alone stops both.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

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


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _workers(tmp_path) -> list[dict]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    processes = []
    for index in range(2):
        home = tmp_path / f"worker{index}"
        (home / "tmp").mkdir(parents=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", TMPDIR=str(home / "tmp"),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        env.pop("http_proxy", None)   # gRPC between the workers must not go through a proxy
        env.pop("https_proxy", None)
        processes.append(subprocess.Popen([sys.executable, "-c", WORKER, str(index)], cwd=home, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + TIMEOUT
    outputs = []
    try:
        for process in processes:
            try:
                stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError("the workers did not finish in time (a collective op waiting for a peer?)") \
                    from None
            lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
            assert process.returncode == 0 and lines, stderr[-3000:]
            outputs.append(json.loads(lines[0][len("RESULT "):]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


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
