"""The digits DCGAN preset, judged independently: does a classifier of the real digits recognise what
its generator makes, and how far are the samples from real digits?

Runs ``digits_gan`` headless with its defaults, loads the run folder's ``generator.keras`` in plain Keras
(no Tapedeck import needed for that), draws 500 images and scores them with a judge that is not
Tapedeck's own: an RBF support-vector classifier trained on the real digits (classes covered, share per
class) and the Fréchet distance in the 20 principal components of the real 8×8 digits (pixels in
[0, 1]). References printed beside it: real held-out digits, averages of two real digits, real digits
of only three classes and an untrained generator. Target (issue 21): ≥ 9 classes and FD ≤ 1.0.

    python tests/benchmarks/bench_gan.py [--epochs N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def real_digits():
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[300:]], digits.target[order[300:]], x[order[:300]], digits.target[order[:300]]


def independent_judge(x_train, y_train):
    from sklearn.decomposition import PCA
    from sklearn.svm import SVC

    flat = x_train.reshape(len(x_train), -1)
    return PCA(20, random_state=0).fit(flat), SVC(gamma="scale").fit(flat, y_train)


def frechet(pca, a, b) -> float:
    from tapedeck.engine.objectives.judge import frechet_distance

    return frechet_distance(pca.transform(a.reshape(len(a), -1)), pca.transform(b.reshape(len(b), -1)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    args = parser.parse_args()
    import keras
    import numpy as np

    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset("digits_gan")
    if args.epochs:
        experiment.training.epochs = args.epochs
    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        cpu = time.process_time()
        run_dir = run(experiment, lambda event: None, runs_dir=runs)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        generator = keras.models.load_model(Path(run_dir) / "generator.keras")
        latent = generator.input_shape[-1]
        fake = np.asarray(generator(np.random.default_rng(1).normal(size=(500, latent)).astype("float32")))
        untrained = keras.models.clone_model(generator)
        blobs = np.asarray(untrained(np.random.default_rng(2).normal(size=(500, latent)).astype("float32")))
    x_train, y_train, x_test, y_test = real_digits()
    pca, svc = independent_judge(x_train, y_train)
    rng = np.random.default_rng(3)
    pairs = (x_test[rng.integers(0, 300, 300)] + x_test[rng.integers(0, 300, 300)]) / 2
    three = x_train[np.isin(y_train, (0, 1, 2))][:300]
    counts = np.bincount(svc.predict(fake.reshape(500, -1)), minlength=10)
    print(f"digits_gan, {experiment.training.epochs} epochs, loop {experiment.training.loop}: "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"classes the SVC finds in 500 samples: {int((counts > 0).sum())} of 10 (per class: {counts.tolist()})")
    print(f"Fréchet distance (PCA-20 of real digits): generator {frechet(pca, x_test, fake):.3f}; "
          f"real held-out {frechet(pca, x_test, x_train[:300]):.3f}; two-digit averages "
          f"{frechet(pca, x_test, pairs):.3f}; three classes {frechet(pca, x_test, three):.3f}; "
          f"untrained generator {frechet(pca, x_test, blobs):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
