"""Why a GAN fails, in words: the discriminator winning, mode collapse (classes lost, or nearly one
class from epoch 10), each said once while it lasts; and the presets that fail on purpose."""
from __future__ import annotations

import json
from pathlib import Path

from tapedeck.engine.objectives.gan_diagnosis import Diagnosis
from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset
from tests.support.datafiles import write_idx_set

HEALTHY = {"d_fake": 0.35, "d_accuracy": 0.7, "g_grad_norm": 1.0}
WINNING = {"d_fake": 0.01, "d_accuracy": 0.99, "g_grad_norm": 0.002}


def quality(covered, entropy):
    return {"classes_covered": covered, "class_entropy": entropy}


def test_the_discriminator_winning_is_said_once_while_it_lasts_and_again_when_it_returns():
    diagnosis = Diagnosis(10, "bce")
    assert diagnosis.notes(1, HEALTHY, None) == []
    said = diagnosis.notes(2, WINNING, None)
    assert len(said) == 1 and said[0][0] == "diagnosis"
    assert said[0][1].startswith("epoch 2: the discriminator is winning — D(G(z)) = 0.010")
    assert diagnosis.notes(3, WINNING, None) == []
    assert diagnosis.notes(4, HEALTHY, None) == [("diagnosis_over", "epoch 4: the discriminator no longer wins — "
                                                  "D(G(z)) = 0.35, it tells 70% of each batch apart")]
    assert len(diagnosis.notes(5, WINNING, None)) == 1
    assert Diagnosis(10, "hinge").notes(1, WINNING, None) == []   # D's outputs are scores there, not probabilities


def test_a_young_generator_finding_few_classes_is_no_collapse_but_losing_them_is():
    diagnosis = Diagnosis(10, "bce")
    assert diagnosis.notes(2, HEALTHY, quality(1, 0.0)) == []   # before epoch 10, one class is just early
    assert diagnosis.notes(5, HEALTHY, quality(8, 2.9)) == []
    said = diagnosis.notes(6, HEALTHY, quality(3, 1.4))
    assert len(said) == 1 and "found 8 of 10 classes earlier and finds 3 now" in said[0][1]


def test_nearly_one_class_from_epoch_ten_is_a_collapse():
    diagnosis = Diagnosis(10, "bce")
    assert diagnosis.notes(9, HEALTHY, quality(1, 0.1)) == []
    said = diagnosis.notes(10, HEALTHY, quality(1, 0.1))
    assert len(said) == 1 and "finds nearly a single class (1 of 10)" in said[0][1]
    assert diagnosis.notes(11, HEALTHY, quality(9, 3.1)) == [("diagnosis_over",
        "epoch 11: the collapse is over — the judge finds 9 classes among the generated images again (class "
        "entropy 3.10 bits)")]


def test_the_strong_discriminator_preset_is_diagnosed_in_its_first_epochs(tmp_path):
    experiment = load_preset("digits_gan_strong_discriminator")
    experiment.training.epochs = 2
    experiment.objective.settings["quality_samples"] = 100
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path)
    notes = [e.message for e in events if type(e).__name__ == "RunNote" and e.kind == "diagnosis"]
    assert any("the discriminator is winning" in note for note in notes), notes
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert any("the discriminator is winning" in note for note in metrics["diagnoses"])


def test_the_mnist_gan_preset_trains_on_mnist_format_files(tmp_path):
    experiment = load_preset("mnist_gan")
    experiment.data.source, experiment.data.path = "idx", str(write_idx_set(tmp_path / "mnist", n_train=64))
    experiment.training.epochs, experiment.training.batch_size = 1, 16
    experiment.objective.settings["quality_samples"] = 40
    events = []
    run(experiment, events.append, runs_dir=tmp_path / "runs")
    assert events[-1].reason == "completed", events[-1]
    grid = [e for e in events if type(e).__name__ == "SampleGrid" and e.kind == "samples"][-1]
    assert grid.images.shape == (64, 28, 28, 1)


def test_the_nearest_real_image_of_a_copy_is_its_original():
    import numpy as np

    from tapedeck.engine.objectives.gan_run import _nearest

    real = np.random.default_rng(0).random((50, 8, 8, 1)).astype("float32")
    assert list(_nearest(real[[3, 17, 42]] + 0.01, real)) == [3, 17, 42]
