"""A GAN, a cGAN and a VAE mirrored over two logical CPUs, with fit's train_step and with the GradientTape loop;
the scaling that makes a mirrored step the same step as on one device; the exported mirrored tape scripts.

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


TAPE_SCRIPT = r"""
import json, sys, types
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tapedeck.engine.objectives import replicas
from tapedeck.engine.objectives.gan_step import GanSteps
from tapedeck.engine.objectives.run import RunControl, run
from tapedeck.engine.objectives.vae_step import VaeSteps
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd, GanStepInspected
from tapedeck.engine.training.strategy import make_strategy

out = {}
# One GradientTape-loop update of a GAN (a discriminator step, then a generator step) and of a VAE, with SGD on a
# batch of 8: on one device, and mirrored over two (4 each) through the run's own steps. The noise is fixed (the
# replicas draw their own noise), so both see the same numbers.
x = np.random.default_rng(0).uniform(size=(8, 6)).astype("float32")
objective = types.SimpleNamespace(loss="bce", latent_dim=4, label_smoothing=0.1, gp_weight=10.0, beta=1.0,
                                  reconstruction="mse")
found = {}
for name, strategy in (("one", tf.distribute.get_strategy()), ("two", make_strategy("mirrored"))):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh")])
        discriminator = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="tanh"),
                                          keras.layers.Dense(1)])
        encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
        decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6)])
        optimizers = [keras.optimizers.SGD(0.5) for _ in range(4)]
        for optimizer, model in zip(optimizers, (generator, discriminator, encoder, decoder)):
            optimizer.build(model.trainable_variables)
        gan = GanSteps(generator, discriminator, optimizers[0], optimizers[1], objective, seed=0)
        vae = VaeSteps(encoder, decoder, optimizers[2], optimizers[3], objective, seed=0)
    gan.sample_noise = lambda batch: tf.fill((batch, 4), 0.5)
    found[name + "_start"] = [np.asarray(v).ravel().tolist() for model in (generator, discriminator, encoder, decoder)
                              for v in model.trainable_variables]
    data = tf.data.Dataset.from_tensor_slices(x).batch(8)
    if name == "two":
        data = strategy.experimental_distribute_dataset(data)
    noise = replicas.normal
    replicas.normal = lambda shape, generator: tf.zeros(shape)   # the VAE's sample: its mean
    for real in data:
        gan.d_step(real)
        gan.g_step(real)
        vae.step(real)
    replicas.normal = noise
    found[name] = [np.asarray(v).ravel().tolist() for model in (generator, discriminator, encoder, decoder)
                   for v in model.trainable_variables]
    found[name + "_figures"] = gan.running.means()
    out["replicas_" + name] = int(strategy.num_replicas_in_sync)
out["weights"] = found

for preset in ("digits_gan", "digits_cgan", "digits_vae"):
    experiment = load_preset(preset)
    experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 1, 32
    experiment.training.loop, experiment.training.distribute = "tape", "mirrored"
    experiment.objective.settings["quality_samples"] = 0
    events = []
    run_dir = run(experiment, events.append, runs_dir=sys.argv[1])
    first = "encoder" if preset == "digits_vae" else "generator"
    last = "decoder" if preset == "digits_vae" else "discriminator"
    shapes = [list(keras.models.load_model(run_dir + f"/{role}.keras").output_shape) if run_dir else None
              for role in (first, last)]
    out[preset] = {"reason": events[-1].reason, "message": events[-1].message, "shapes": shapes,
                   "heads": [e.heads for e in events if isinstance(e, EpochEnd)],
                   "replicas": json.load(open(run_dir + "/metrics.json")).get("replicas") if run_dir else None}

# Step D mirrored: one global batch, the inspector looking at the first replica's share.
experiment = load_preset("digits_gan")
experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 1, 32
experiment.training.loop, experiment.training.distribute = "tape", "mirrored"
experiment.objective.settings["quality_samples"] = 0
control = RunControl()
control.step(1, "d")
seen = []

def reporter(event):
    if isinstance(event, GanStepInspected):
        seen.append(event)
        control.stop()

run(experiment, reporter, control, runs_dir=sys.argv[1])
step = seen[0]
out["step"] = {"part": step.part, "step": step.step, "real": list(step.real.shape),
               "generator_moved": bool(not np.allclose(step.fake_before, step.fake_after)),
               "discriminator_moved": bool(not np.allclose(step.d_real_before, step.d_real_after)),
               "roles": sorted({role for role, _layer, _norm in step.layers})}
print("RESULT " + json.dumps(out))
"""


def _fresh(script: str, *args) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=600,
                            env=env, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_the_gradient_tape_loop_mirrored_steps_as_on_one_device_and_trains_each_objective(tmp_path):
    out = _fresh(TAPE_SCRIPT, str(tmp_path))
    assert out["replicas_one"] == 1 and out["replicas_two"] == 2
    one, two = out["weights"]["one"], out["weights"]["two"]
    assert len(one) == len(two) == 10
    for a, b, start in zip(one, two, out["weights"]["two_start"]):
        assert all(abs(p - q) < 1e-5 for p, q in zip(a, b)), (a, b)
        assert max(abs(p - q) for p, q in zip(b, start)) > 1e-4, (b, start)   # every variable stepped
    figures_one, figures_two = out["weights"]["one_figures"], out["weights"]["two_figures"]
    assert set(figures_one) == set(figures_two)   # the replicas' running means: each the global batch's figure
    for name in ("d_loss", "g_loss", "d_accuracy", "d_real", "d_fake"):
        assert abs(figures_one[name] - figures_two[name]) < 1e-5, (name, figures_one, figures_two)
    for preset, shapes in (("digits_gan", [[None, 8, 8, 1], [None, 1]]), ("digits_cgan", [[None, 8, 8, 1], [None, 1]]),
                           ("digits_vae", [[None, 4], [None, 8, 8, 1]])):
        ran = out[preset]
        assert ran["reason"] == "completed", ran["message"]
        assert ran["replicas"] == 2 and ran["shapes"] == shapes, ran
        assert ran["heads"] and all(value == value for value in ran["heads"][-1].values())   # no NaN
    assert out["step"] == {"part": "d", "step": 1, "real": [8, 8, 8, 1], "generator_moved": False,
                           "discriminator_moved": True, "roles": ["discriminator"]}


# Runs an exported script as-is on a machine with two devices: two logical CPUs, and MirroredStrategy() over both
# (with no GPU it would take the first CPU alone).
TWO_DEVICES = r"""
import functools, runpy, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.distribute.MirroredStrategy = functools.partial(tf.distribute.MirroredStrategy, ["/cpu:0", "/cpu:1"])
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def _run_script(path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-c", TWO_DEVICES, path.name], capture_output=True, text=True,
                          timeout=300, env=env, cwd=path.parent)


def test_exported_mirrored_tape_scripts_run_on_two_devices(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.spec.experiment import load_preset

    paths = []
    for preset in ("digits_cgan", "digits_vae"):
        experiment = load_preset(preset)
        experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 1, 32
        experiment.training.distribute = "mirrored"
        folder = tmp_path / preset
        folder.mkdir()
        path = folder / "train.py"
        path.write_text(generate_code(experiment, loop="tape"))
        paths.append(path)
    source = paths[0].read_text()
    assert "strategy.experimental_distribute_dataset(train_ds)" in source
    assert "strategy.run(discriminator_step, args=(real, labels))" in source
    assert "scaled_loss = d_loss / strategy.num_replicas_in_sync" in source
    assert "share = loss / strategy.num_replicas_in_sync" in paths[1].read_text()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_run_script, paths))
    for path, result in zip(paths, results):
        assert result.returncode == 0, (path, result.stderr[-3000:])
        lines = result.stdout.strip().splitlines()
        assert "Training on 2 replica(s)" in lines and lines[-1].endswith("grid: samples/epoch-001.png"), lines
        assert (path.parent / "samples" / "epoch-001.png").exists()
    # The losses as on one device, not divided once more by a Keras loss object (bce: near 2 ln 2 at the start).
    epoch = next(line for line in results[0].stdout.splitlines() if line.startswith("Epoch 1/1"))
    assert 1.0 < float(epoch.split("d_loss ")[1].split(",")[0]) < 1.8, epoch
    import keras

    reloaded = keras.models.load_model(paths[1].parent / "decoder.keras")
    assert list(reloaded.output_shape) == [None, 8, 8, 1]
