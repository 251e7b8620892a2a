"""The digits DCGAN preset, judged independently: does a classifier of the real digits recognise what
its generator makes, and how far are the samples from real digits?

Runs ``digits_gan`` headless with its defaults, loads the run folder's ``generator.keras`` in plain Keras
(no Tapedeck import needed for that), draws 500 images and scores them with a judge that is not
Tapedeck's own: an RBF support-vector classifier trained on the real digits (classes covered, share per
class) and the Fréchet distance in the 20 principal components of the real 8×8 digits (pixels in
[0, 1]). References printed beside it: real held-out digits, averages of two real digits, real digits
of only three classes and an untrained generator. Target (issue 21): ≥ 9 classes and FD ≤ 1.0.

    python tests/benchmarks/bench_gan.py [--epochs N] [--preset digits_gan | digits_cgan | digits_vae]

digits_cgan: images asked for each class (50 each) must be classified as that class by the SVC (target
≥ 80 %); digits_vae: the decoder's images of random codes, judged the same way.
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
    parser.add_argument("--preset", default="digits_gan", choices=("digits_gan", "digits_cgan", "digits_vae"))
    args = parser.parse_args()
    import keras
    import numpy as np

    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset(args.preset)
    if args.epochs:
        experiment.training.epochs = args.epochs
    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        cpu = time.process_time()
        run_dir = run(experiment, lambda event: None, runs_dir=runs)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        maker = "decoder" if args.preset == "digits_vae" else "generator"
        generator = keras.models.load_model(Path(run_dir) / f"{maker}.keras")
        conditional = args.preset == "digits_cgan"
        latent = (generator.input_shape[0] if conditional else generator.input_shape)[-1]
        asked = np.repeat(np.arange(10), 50).astype("int32")[:, None]

        def make(model, seed):
            noise = np.random.default_rng(seed).normal(size=(500, latent)).astype("float32")
            return np.asarray(model([noise, asked] if conditional else noise))

        fake = make(generator, 1)
        blobs = make(keras.models.clone_model(generator), 2)
    x_train, y_train, x_test, y_test = real_digits()
    pca, svc = independent_judge(x_train, y_train)
    rng = np.random.default_rng(3)
    pairs = (x_test[rng.integers(0, 300, 300)] + x_test[rng.integers(0, 300, 300)]) / 2
    three = x_train[np.isin(y_train, (0, 1, 2))][:300]
    predicted = svc.predict(fake.reshape(500, -1))
    counts = np.bincount(predicted, minlength=10)
    print(f"{args.preset}, {experiment.training.epochs} epochs, loop {experiment.training.loop}: "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"classes the SVC finds in 500 samples: {int((counts > 0).sum())} of 10 (per class: {counts.tolist()})")
    print(f"Fréchet distance (PCA-20 of real digits): generator {frechet(pca, x_test, fake):.3f}; "
          f"real held-out {frechet(pca, x_test, x_train[:300]):.3f}; two-digit averages "
          f"{frechet(pca, x_test, pairs):.3f}; three classes {frechet(pca, x_test, three):.3f}; "
          f"untrained generator {frechet(pca, x_test, blobs):.3f}")
    if conditional:
        print(f"classified as the class asked for: {np.mean(predicted == asked[:, 0]):.1%} of 500 (50 per class)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
