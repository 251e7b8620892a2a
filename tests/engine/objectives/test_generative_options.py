"""The training section's options in a GAN's and a VAE's run as in a classifier's: mixed_float16 with each
optimizer's own loss scale, step and cosine schedules and clipping on every model's optimizer, several
steps per call in fit's train_step; and what stays refused says why (plateau, several per call in the tape
loop). Each run is real: the digits, one or two short epochs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tapedeck.engine.objectives.model_optimizers import make_optimizer
from tapedeck.engine.objectives.refusals import gan_refusals
from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd, Finished


def short(preset, loop="tape", epochs=1, limit=128, **training):
    experiment = load_preset(preset)
    experiment.data.limit = limit
    experiment.training.epochs = epochs
    experiment.training.batch_size = 32
    experiment.training.loop = loop
    for key, value in training.items():
        setattr(experiment.training, key, value)
    if "quality_samples" in experiment.objective.settings:
        experiment.objective.settings["quality_samples"] = 0
    return experiment


def finished_run(experiment, tmp_path):
    events = []
    run(experiment, events.append, runs_dir=tmp_path)
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed", events[-1]
    return events


@pytest.mark.parametrize("preset, loop, norms", [("digits_gan", "tape", ("d_grad_norm", "g_grad_norm")),
                                                 ("digits_vae", "train_step", ("encoder_grad_norm",
                                                                               "decoder_grad_norm"))])
def test_mixed_float16_trains_with_each_optimizer_scaling_its_own_loss(tmp_path, preset, loop, norms):
    import keras

    plain = finished_run(short(preset, loop, seed=3), tmp_path / "plain")
    mixed = finished_run(short(preset, loop, seed=3, precision="mixed_float16"), tmp_path / "mixed")
    assert keras.config.dtype_policy().name == "float32"   # the run's policy ended with it
    last_plain, last_mixed = ([e for e in events if isinstance(e, EpochEnd)][-1] for events in (plain, mixed))
    for name in norms:   # the norm of the unscaled loss's gradients: near float32's, not 32,768 times it
        assert math.isfinite(last_mixed.heads[name]) and last_mixed.heads[name] > 0
        assert 0.2 < last_mixed.heads[name] / last_plain.heads[name] < 5.0, (name, last_mixed.heads, last_plain.heads)
    assert math.isfinite(last_mixed.loss)


def test_each_models_optimizer_follows_the_training_schedule_and_clipping(tmp_path):
    experiment = short("digits_gan", epochs=2, schedule="cosine", global_clipnorm=1.0)
    optimizer = make_optimizer(experiment.models["generator"].optimizer, experiment.training, steps_per_epoch=4)
    assert optimizer.global_clipnorm == 1.0
    assert isinstance(optimizer.learning_rate, float) or hasattr(optimizer, "_learning_rate")
    events = finished_run(experiment, tmp_path)
    rates = [e.learning_rate for e in events if isinstance(e, EpochEnd)]
    start = float(experiment.models["discriminator"].optimizer["learning_rate"])
    assert len(rates) == 2 and start > rates[0] > rates[1] >= 0.0, (start, rates)   # cosine: down each epoch


def test_several_steps_per_call_in_fits_train_step(tmp_path):
    experiment = short("digits_gan", loop="train_step", steps_per_execution=4)
    events = finished_run(experiment, tmp_path)
    epoch = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert np.isfinite(epoch.heads["d_loss"]) and np.isfinite(epoch.heads["g_loss"])


@pytest.mark.parametrize("setting, value, words", [
    ("steps_per_execution", 4, "takes one step per call, so a Step can stop after any one"),
    ("schedule", "plateau", "has no validation loss; choose \"step\" or \"cosine\""),
    ("gradient_accumulation_steps", 2, "against the other's latest state; set it to 1"),
    ("execution", "xla", "XLA compiles a step for one device, and objective 'gan' distributed runs its step on "
                         "every device at once; choose \"graph\""),
])
def test_what_stays_refused_says_why_and_the_way_out(setting, value, words):
    mirrored = {"distribute": "mirrored"} if setting == "execution" else {}   # XLA is refused only mirrored
    experiment = short("digits_gan", loop="tape", **{setting: value}, **mirrored)
    problems = gan_refusals(experiment)
    assert len(problems) == 1 and problems[0].startswith(f"training.{setting}:") and words in problems[0], problems


def test_the_options_now_applied_are_not_refused():
    for options in ({"precision": "mixed_float16"}, {"schedule": "step"}, {"clipnorm": 1.0},
                    {"clipvalue": 0.5}, {"loop": "train_step", "steps_per_execution": 8},
                    {"loop": "train_step", "distribute": "mirrored"}, {"distribute": "auto"},
                    {"loop": "tape", "distribute": "mirrored"}, {"execution": "xla"}):
        for preset in ("digits_gan", "digits_vae", "digits_cgan"):
            assert gan_refusals(short(preset, **options)) == [], (preset, options)
