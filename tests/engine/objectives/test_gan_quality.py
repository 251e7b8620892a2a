"""The judge of generated images, and the digits GAN judged by an independent classifier on a short run
(the full preset is tests/benchmarks/bench_gan.py)."""
from __future__ import annotations

import numpy as np

from tapedeck.engine.objectives.judge import Judge, frechet_distance
from tests.benchmarks.bench_gan import frechet, independent_judge, real_digits


def test_the_judge_tells_real_digits_from_noise_and_from_a_single_class():
    x_train, y_train, x_test, y_test = real_digits()
    judge = Judge(x_train, y_train, x_test, 10)
    real = judge.score(x_train[:300])
    assert real.frechet < 0.3 and real.classes_covered == 10 and real.class_entropy > 3.0
    noise = judge.score(np.random.default_rng(0).random((300, 8, 8, 1)).astype("float32"))
    assert noise.frechet > 1.0
    ones = judge.score(x_train[y_train == 1][:100])
    assert ones.classes_covered <= 3 and ones.class_entropy < 1.0
    assert judge.accuracy(x_test, y_test) > 0.9


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rows = np.random.default_rng(1).normal(size=(400, 5))
    assert abs(frechet_distance(rows, rows)) < 1e-6
    assert frechet_distance(rows, rows + 1.0) > 4.9   # ‖μ shift‖² = 5


def test_a_short_digits_gan_makes_digits_an_independent_classifier_recognises(tmp_path):
    """60 of the preset's 100 epochs: measured FD 1.35 and 10 classes here (untrained: FD ~5, blobs)."""
    from pathlib import Path

    import keras

    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset("digits_gan")
    experiment.training.epochs = 60
    experiment.objective.settings["quality_samples"] = 0   # judged below, by a classifier of this test's own
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path)
    assert events[-1].reason == "completed", events[-1]
    generator = keras.models.load_model(Path(run_dir) / "generator.keras")
    fake = np.asarray(generator(np.random.default_rng(1).normal(size=(500, 32)).astype("float32")))
    x_train, y_train, x_test, _y_test = real_digits()
    pca, svc = independent_judge(x_train, y_train)
    classes = len(set(svc.predict(fake.reshape(500, -1)).tolist()))
    distance = frechet(pca, x_test, fake)
    assert classes >= 8 and distance < 2.5, (classes, distance)
