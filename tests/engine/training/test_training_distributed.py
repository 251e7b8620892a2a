"""Both loops under MirroredStrategy on two logical CPUs, and the deterministic mode.

Logical devices must be configured before TensorFlow initialises its devices, and op determinism
is process-wide: both happen in a fresh interpreter, not in the test process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[2])
from tests.support.training_support import Recorder, experiment
from tapedeck.engine.training.events import EpochEnd, RunNote, TestResult
from tapedeck.engine.training.run import run

out = {}
for name, options in [
    ("fit", dict(loop="fit", distribute="mirrored")),
    ("tape", dict(loop="tape", distribute="mirrored")),
    ("train_step", dict(loop="train_step", distribute="mirrored")),
    ("plain_tape", dict(loop="tape")),
    ("fit_fused", dict(loop="fit", distribute="mirrored", fused_update=True)),   # each replica's own kernel
    ("tape_fused", dict(loop="tape", distribute="mirrored", fused_update=True)),
    ("det_a", dict(loop="tape", deterministic=True)),
    ("det_b", dict(loop="tape", deterministic=True)),
]:
    recorder = Recorder()
    run_dir = run(experiment(data={"limit": 300}, epochs=2, batch_size=30, **options), recorder,
                  runs_dir=sys.argv[1])
    metrics = json.load(open(run_dir + "/metrics.json")) if run_dir else {}
    out[name] = {
        "reason": recorder.finished.reason,
        "message": recorder.finished.message,
        "losses": [e.loss for e in recorder.of(EpochEnd)],
        "test": [t.accuracy for t in recorder.of(TestResult)],
        "traces": metrics.get("tape_traces"),
        "replicas": metrics.get("replicas"),
    }
from tapedeck.engine.spec.experiment import load_preset
for loop in ("fit", "tape"):   # several heads under the strategy: dict batches split across the replicas
    heads = load_preset("digits_two_heads_functional")
    heads.data.limit, heads.training.epochs, heads.training.batch_size = 300, 1, 30
    heads.training.loop, heads.training.distribute = loop, "mirrored"
    recorder = Recorder()   # the preset says steps_per_execution "auto"
    run_dir = run(heads, recorder, runs_dir=sys.argv[1])
    out["heads_" + loop] = {"reason": recorder.finished.reason, "message": recorder.finished.message,
                            "losses": [e.loss for e in recorder.of(EpochEnd)],
                            "heads": [sorted(e.heads) for e in recorder.of(EpochEnd)],
                            "steps": json.load(open(run_dir + "/metrics.json")).get("steps_per_execution"),
                            "notes": [n.message for n in recorder.of(RunNote) if n.kind == "steps_per_execution"]}
print("RESULT " + json.dumps(out))
"""


def test_mirrored_strategy_on_two_logical_cpus_and_determinism(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), str(ROOT / "tests")],
                          capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT "):])
    assert [out[name]["replicas"] for name in ("fit", "tape", "train_step", "plain_tape")] == [2, 2, 2, 1]
    for name in ("fit", "tape", "train_step", "plain_tape", "fit_fused", "tape_fused", "det_a", "det_b"):
        assert out[name]["reason"] == "completed", (name, out[name]["message"])
    for loop in ("fit", "tape"):   # the fused update is Adam's formula: the same curve, to rounding
        for fused, keras_adam in zip(out[loop + "_fused"]["losses"], out[loop]["losses"]):
            assert abs(fused - keras_adam) / keras_adam < 1e-3, (loop, out[loop + "_fused"], out[loop])
    # per-replica loss scaling: the mirrored tape loop follows the single-device curve
    mirrored, single = out["tape"]["losses"], out["plain_tape"]["losses"]
    assert abs(mirrored[0] - single[0]) / single[0] < 0.05, (mirrored, single)
    assert abs(out["fit"]["losses"][0] - mirrored[0]) / mirrored[0] < 0.05, out
    assert abs(out["train_step"]["losses"][0] - out["fit"]["losses"][0]) / out["fit"]["losses"][0] < 0.05, out
    assert mirrored[1] < mirrored[0]
    assert out["tape"]["traces"]["train"] <= 2
    for loop in ("fit", "tape"):
        assert out["heads_" + loop]["reason"] == "completed", out["heads_" + loop]["message"]
        assert "val_parity_accuracy" in out["heads_" + loop]["heads"][0]
    # Keras's several-steps fit fails on replicas ("You must feed a value for placeholder tensor"):
    # auto gives fit one step per call there and says so; the tape loop pulls several
    assert out["heads_fit"]["steps"] == 1, out["heads_fit"]
    assert "1 step per call in fit on 2 replicas" in out["heads_fit"]["notes"][0], out["heads_fit"]["notes"]
    assert out["heads_tape"]["steps"] >= 1 and "auto" in out["heads_tape"]["notes"][0]
    fit, tape = out["heads_fit"]["losses"][0], out["heads_tape"]["losses"][0]
    assert abs(fit - tape) / fit < 0.05, (fit, tape)   # the weighted sum, scaled per replica alike
    # deterministic mode with the same seed: identical runs
    assert out["det_a"]["losses"] == out["det_b"]["losses"]
    assert out["det_a"]["test"] == out["det_b"]["test"]
