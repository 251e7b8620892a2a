"""A GAN and a VAE mirrored over two logical CPUs with fit's train_step, and the scaling that makes a
mirrored step the same step as on one device.

Logical devices must be configured before TensorFlow initialises its devices: the runs happen in a fresh
interpreter, not in the test process.
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
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tapedeck.engine.objectives.model_optimizers import scaled_loss
from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd
from tapedeck.engine.training.strategy import make_strategy

out = {}
# One SGD step on a batch of 8, on one device and mirrored over two (4 each): the same weights after.
x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
y = np.random.default_rng(1).normal(size=(8, 1)).astype("float32")
weights = {}
for name, strategy in (("one", tf.distribute.get_strategy()), ("two", make_strategy("mirrored"))):
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones")])
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)

    def step(xs, ys):
        with tf.GradientTape() as tape:
            loss = scaled_loss(optimizer, tf.reduce_mean(tf.square(model(xs) - ys)))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

    data = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    for xs, ys in data:
        tf.function(lambda a, b: strategy.run(step, args=(a, b)))(xs, ys)
    weights[name] = np.asarray(model.layers[0].kernel).ravel().tolist()
    out["replicas_" + name] = int(strategy.num_replicas_in_sync)
out["weights"] = weights

for preset in ("digits_gan", "digits_vae"):
    experiment = load_preset(preset)
    experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 1, 32
    experiment.training.loop, experiment.training.distribute = "train_step", "mirrored"
    if "quality_samples" in experiment.objective.settings:
        experiment.objective.settings["quality_samples"] = 0
    events = []
    run_dir = run(experiment, events.append, runs_dir=sys.argv[1])
    first = "generator" if preset == "digits_gan" else "decoder"
    reloaded = keras.models.load_model(run_dir + f"/{first}.keras") if run_dir else None
    out[preset] = {"reason": events[-1].reason, "message": events[-1].message,
                   "heads": [e.heads for e in events if isinstance(e, EpochEnd)],
                   "replicas": json.load(open(run_dir + "/metrics.json")).get("replicas") if run_dir else None,
                   "output": list(reloaded.output_shape) if reloaded is not None else None}
print("RESULT " + json.dumps(out))
"""


def test_mirrored_gan_and_vae_train_with_fits_train_step(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                            timeout=600, env=env, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["replicas_one"] == 1 and out["replicas_two"] == 2
    one, two = out["weights"]["one"], out["weights"]["two"]
    assert one != [1.0, 1.0, 1.0] and all(abs(a - b) < 1e-5 for a, b in zip(one, two)), out["weights"]
    for preset, shape in (("digits_gan", [None, 8, 8, 1]), ("digits_vae", [None, 8, 8, 1])):
        ran = out[preset]
        assert ran["reason"] == "completed", ran["message"]
        assert ran["replicas"] == 2 and ran["output"] == shape
        assert ran["heads"] and all(value == value for value in ran["heads"][-1].values())   # no NaN
