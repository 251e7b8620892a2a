"""The VAE objective: its check, and short real runs in both loops (the figures, the three pictures,
encoder.keras and decoder.keras reloading in plain Keras)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.objectives.check import check_experiment
from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd, Finished, SampleGrid


def test_the_preset_checks_and_an_encoder_without_mean_and_log_variance_is_named():
    experiment = load_preset("digits_vae")
    assert check_experiment(experiment, (8, 8, 1), 10).ok
    experiment.models["encoder"].layers[-1].params["units"] = 2
    problems = check_experiment(experiment, (8, 8, 1), 10).all_problems()
    assert problems == ["models.encoder: layer 4 'dense_1' (Dense): the encoder gives (2,) per example, but must give "
                        "a mean and a log-variance per latent value (4,); end it with Dense with 4 units and no "
                        "activation (the first half is read as the mean, the second as the log-variance)"]


@pytest.mark.parametrize("loop", ["tape", "train_step"])
def test_a_short_vae_run_reports_both_terms_draws_three_pictures_and_saves_both_models(tmp_path, loop):
    import keras

    experiment = load_preset("digits_vae")
    experiment.data.limit = 128
    experiment.training.epochs = 2
    experiment.training.loop = loop
    experiment.objective.settings["quality_samples"] = 100
    events = []
    run_dir = Path(run(experiment, events.append, runs_dir=tmp_path))
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed", events[-1]
    last = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert abs(last.heads["loss"] - (last.heads["reconstruction"] + last.heads["kl"])) < 1e-3 * last.heads["loss"]
    assert last.heads["kl"] > 0 and np.isfinite(last.heads["quality_frechet"])
    kinds = {(e.kind, e.images.shape) for e in events if isinstance(e, SampleGrid) and e.epoch == 2}
    assert kinds == {("samples", (64, 8, 8, 1)), ("reconstructions", (16, 8, 8, 1)), ("latent_plane", (100, 8, 8, 1))}
    for name in ("epoch-002.png", "reconstructions-002.png", "latent-plane-002.png"):
        assert (run_dir / "samples" / name).exists()
    encoder = keras.models.load_model(run_dir / "encoder.keras")
    decoder = keras.models.load_model(run_dir / "decoder.keras")
    codes = np.asarray(encoder(np.zeros((3, 8, 8, 1), "float32")))
    assert codes.shape == (3, 4)
    assert np.asarray(decoder(codes[:, :2])).shape == (3, 8, 8, 1)


def test_your_own_image_through_a_vae_run_comes_back_with_its_code(tmp_path):
    from PIL import Image

    from tapedeck.engine.analysis.own_input import InputError
    from tapedeck.engine.analysis.reconstruct import reconstruct

    experiment = load_preset("digits_vae")
    experiment.data.limit, experiment.training.epochs = 128, 1
    experiment.objective.settings["quality_samples"] = 0
    run_dir = run(experiment, lambda event: None, runs_dir=tmp_path)
    drawing = np.zeros((64, 64), np.uint8)
    drawing[10:54, 28:36] = 255   # a "1"
    Image.fromarray(drawing).save(tmp_path / "one.png")
    image, rebuilt, code = reconstruct(run_dir, tmp_path / "one.png")
    assert image.shape == rebuilt.shape == (8, 8, 1) and code.shape == (2,)
    assert 0.0 <= rebuilt.min() and rebuilt.max() <= 1.0
    with pytest.raises(InputError, match="not an image Pillow can read"):
        (tmp_path / "bad.png").write_bytes(b"not a png")
        reconstruct(run_dir, tmp_path / "bad.png")
