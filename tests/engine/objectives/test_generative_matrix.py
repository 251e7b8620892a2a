"""Every generative objective × both loops × the three APIs builds, trains a few steps on the digits,
saves each model, and each reloads in plain Keras and answers with the shape its role promises. The
longer runs (figures, grids, Step, resume, the judge) are in test_gan_run.py and test_vae.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd, Finished

PRESETS = {"gan": "digits_gan", "cgan": "digits_cgan", "vae": "digits_vae"}


def _inputs(objective: str, role: str, latent: int):
    """A batch of two for each role's model, as the run feeds it."""
    images = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    labels = np.array([[3], [7]], dtype="int32")
    noise = np.zeros((2, latent), "float32")
    given = {"generator": noise, "discriminator": images, "encoder": images, "decoder": noise}[role]
    return [given, labels] if objective == "cgan" else given


def _answer(objective: str, role: str, latent: int) -> tuple:
    return {"generator": (2, 8, 8, 1), "discriminator": (2, 1), "encoder": (2, 2 * latent),
            "decoder": (2, 8, 8, 1)}[role]


@pytest.mark.parametrize("api", ["sequential", "functional", "subclassing"])
@pytest.mark.parametrize("loop", ["tape", "train_step"])
@pytest.mark.parametrize("objective", ["gan", "cgan", "vae"])
def test_each_objective_loop_and_api_trains_saves_and_reloads(tmp_path, objective, loop, api):
    import keras

    experiment = load_preset(PRESETS[objective])
    experiment.data.limit = 64
    experiment.training.epochs, experiment.training.batch_size, experiment.training.loop = 1, 32, loop
    if "quality_samples" in experiment.objective.settings:
        experiment.objective.settings["quality_samples"] = 0
    for spec in experiment.models.values():
        spec.api = api
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path)
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed", events[-1]
    epoch = next(e for e in events if isinstance(e, EpochEnd))
    assert all(np.isfinite(value) for value in epoch.heads.values()), epoch.heads
    latent = int(experiment.objective.latent_dim)
    for role in experiment.models:
        model = keras.models.load_model(Path(run_dir) / f"{role}.keras")
        answer = np.asarray(model(_inputs(objective, role, latent)))
        assert answer.shape == _answer(objective, role, latent) and np.isfinite(answer).all(), (role, answer.shape)
