"""Asking a finished run for images: a conditional GAN draws the class asked for; what cannot draw says why."""
from __future__ import annotations

import numpy as np
import pytest

from tapedeck.engine.objectives.draw import DrawError, draw
from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset


def test_a_conditional_gan_run_draws_the_class_asked_for_and_names_the_classes(tmp_path):
    experiment = load_preset("digits_cgan")
    experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 64, 1, 32
    experiment.objective.settings["quality_samples"] = 0
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path)
    assert events[-1].reason == "completed", events[-1]
    threes, sevens = draw(run_dir, 6, label=3), draw(run_dir, 6, label=7)
    assert threes.shape == (6, 8, 8, 1) and not np.allclose(threes, sevens)   # the same noise, another class
    assert np.allclose(draw(run_dir, 6, label=3), threes)                    # the same seed, the same images
    with pytest.raises(DrawError, match="give a class from 0 to 9"):
        draw(run_dir, 4, label=10)


def test_a_classifier_run_cannot_draw(tmp_path):
    from tests.support.run_support import trained_run

    with pytest.raises(DrawError, match="a run of objective 'classify' makes no images"):
        draw(trained_run())
