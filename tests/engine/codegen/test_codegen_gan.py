"""The GAN and VAE scripts Tapedeck exports: every API × loop × loss is valid Python that writes both
models the classifier's way, and the scripts run as-is on the digits (a few epochs, limited), saving the
sample grid each epoch and models that reload in plain Keras."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tapedeck.engine.codegen.script import generate_code
from tapedeck.engine.spec.experiment import load_preset

APIS = ("sequential", "functional", "subclassing")


def short_gan(loss="bce", epochs=2, preset="digits_gan"):
    experiment = load_preset(preset)
    experiment.training.epochs = epochs
    experiment.data.limit = 160
    experiment.objective.settings["loss"] = loss
    return experiment


def test_every_api_loop_and_loss_is_valid_python_with_both_models():
    for loss in ("bce", "hinge", "wgan-gp"):
        for api in APIS:
            for loop in ("tape", "train_step"):
                source = generate_code(short_gan(loss), api=api, loop=loop)
                ast.parse(source)
                assert "generator = " in source and "discriminator = " in source
                assert "g_optimizer = keras.optimizers.Adam(learning_rate=0.0005, beta_1=0.5)" in source
                assert ("gradient_penalty(real, fake)" in source) == (loss == "wgan-gp")
                assert ("def train_step(self, data):" in source) == (loop == "train_step")
                assert source.count("tf.GradientTape()") >= 2


def test_a_conditional_gan_script_feeds_the_label_to_both_models():
    for label_input in ("one_hot", "embedding"):
        experiment = short_gan("wgan-gp", preset="digits_cgan")
        experiment.objective.settings["label_input"] = label_input
        for loop in ("tape", "train_step"):
            source = generate_code(experiment, api="functional", loop=loop)
            ast.parse(source)
            assert "generator = with_label_generator(generator)" in source
            assert "discriminator([between, labels], training=True)" in source
            assert "fixed_labels = np.repeat(np.arange(rows), 8)" in source


def test_a_vae_script_writes_the_sample_the_two_terms_and_each_optimizer():
    experiment = short_gan(preset="digits_vae")
    for reconstruction in ("bce", "mse"):
        experiment.objective.settings["reconstruction"] = reconstruction
        for api in APIS:
            for loop in ("tape", "train_step"):
                source = generate_code(experiment, api=api, loop=loop)
                ast.parse(source)
                assert "code = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))" in source
                assert "e_optimizer.apply_gradients" in source and "d_optimizer.apply_gradients" in source
                assert ("tf.math.log(rebuilt)" in source) == (reconstruction == "bce")


def test_fit_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="loop: 'fit' cannot train objective 'gan': plain model.fit"):
        generate_code(short_gan(), loop="fit")


def test_the_execution_mode_is_written():
    experiment = short_gan()
    experiment.training.execution = "xla"
    assert "@tf.function(jit_compile=True)\ndef discriminator_step(real):" in generate_code(experiment, loop="tape")
    experiment.training.execution = "eager"
    assert "gan.compile(run_eagerly=True)" in generate_code(experiment, loop="train_step")


def _run(path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, path.name], capture_output=True, text=True, timeout=300, env=env,
                          cwd=path.parent)


# Three of the four also carry the training options a run applies to every model's optimizer: float16 with each
# optimizer's loss scale, a schedule, clipping, several steps per fit call, fit mirrored over the devices.
MIXED_COSINE = {"precision": "mixed_float16", "schedule": "cosine", "global_clipnorm": 1.0, "steps_per_execution": 2}
MIXED_STEP = {"precision": "mixed_float16", "schedule": "step", "clipnorm": 1.0}


def test_exported_scripts_run_standalone_and_save_models_that_reload(tmp_path):
    cases = {"sequential_tape_bce": ("sequential", "tape", "bce", {"fused_update": True}),
             "subclassing_train_step_wgan": ("subclassing", "train_step", "wgan-gp", MIXED_COSINE),
             "vae_functional_tape": ("functional", "tape", "bce", dict(MIXED_STEP, fused_update=True)),
             "cgan_sequential_train_step_bce": ("sequential", "train_step", "bce", {"distribute": "mirrored"})}
    paths = []
    for name, (api, loop, loss, options) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        path = folder / "gan.py"
        preset = {"cgan": "digits_cgan", "vae": "digits_vae"}.get(name.split("_")[0], "digits_gan")
        experiment = short_gan(loss, preset=preset)
        for key, value in options.items():
            setattr(experiment.training, key, value)
        path.write_text(generate_code(experiment, api=api, loop=loop))
        paths.append(path)
    assert "scale_loss(" in paths[1].read_text() and "steps_per_execution=2" in paths[1].read_text()
    assert "ExponentialDecay(" in paths[2].read_text() and "clipnorm=1.0" in paths[2].read_text()
    for path, shorts in ((paths[0], "gd"), (paths[2], "ed")):   # the fused update, under loss scaling too
        assert all(f"{short}_optimizer.update_step = types.MethodType(fused_adam_update, {short}_optimizer)"
                   in path.read_text() for short in shorts)
    assert "fused_adam_update" not in paths[1].read_text()
    mirrored = paths[3].read_text()
    assert "strategy = tf.distribute.MirroredStrategy()" in mirrored and "with strategy.scope():" in mirrored
    assert "scaled_loss = d_loss / strategy.num_replicas_in_sync" in mirrored
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_run, paths))
    for path, result in zip(paths, results):
        assert result.returncode == 0, (path, result.stderr[-3000:])
        assert result.stdout.strip().splitlines()[-1].endswith("grid: samples/epoch-002.png")
        assert (path.parent / "samples" / "epoch-001.png").exists()
    import keras
    import numpy as np

    generator = keras.models.load_model(paths[0].parent / "generator.keras")
    assert np.asarray(generator(np.zeros((2, 32), "float32"))).shape == (2, 8, 8, 1)


def test_each_exported_optimizer_is_the_one_the_run_builds():
    """The script's β₁ where a model's settings name none is the run's (engine.objectives.model_optimizers: 0.5
    for every model); a VAE's script wrote 0.9 while its run trained with 0.5."""
    from tapedeck.engine.objectives.model_optimizers import make_optimizer

    for preset, short in (("digits_vae", "e"), ("digits_gan", "g")):
        experiment = short_gan(preset=preset)
        role = next(iter(experiment.models))
        experiment.models[role].optimizer = {"name": "adam", "learning_rate": 0.001}   # no beta_1 named
        run_beta = make_optimizer(experiment.models[role].optimizer, experiment.training).beta_1
        source = generate_code(experiment, loop="tape")
        assert f"{short}_optimizer = keras.optimizers.Adam(learning_rate=0.001, beta_1={run_beta!r})" in source
