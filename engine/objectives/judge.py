"""An independent judge of generated images: does a classifier of the real images recognise them?

A GAN's own losses say who is winning the game, not whether the images are any good. TF-GAN scores
MNIST samples with a classifier trained on the real digits; this judge does the same with a small,
fast one: the 20 principal components of the real training images (its feature space), and a logistic
regression on them. Per batch of generated images it gives the Fréchet distance to held-out real
images in that space, how many classes the classifier finds, the entropy of its class histogram (mode
collapse shows as it drops), and its mean confidence — which alone is no judge (blobs can score high).

scikit-learn and SciPy only, no Keras: it scores in a fraction of a second per epoch on 2 cores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Judge", "Quality", "frechet_distance", "judge_for"]

COMPONENTS = 20
MAX_TRAIN = 5000       # rows the judge learns from: enough for digits and MNIST, seconds on 2 cores
COVERED_SHARE = 0.25   # a class is covered when it holds a quarter of a fair share: strays do not count


@dataclass(frozen=True)
class Quality:
    frechet: float
    classes_covered: int
    class_entropy: float   # bits; log2(classes) when every class is as frequent
    confidence: float

    def as_dict(self) -> dict:
        return {"frechet": self.frechet, "classes_covered": self.classes_covered,
                "class_entropy": self.class_entropy, "confidence": self.confidence}


def _flat(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    return images.reshape(len(images), -1)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½) between two sets of feature rows."""
    from scipy import linalg

    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


class Judge:
    """Learnt once from the real training images; scores any batch of images of the same shape."""

    def __init__(self, x_train, y_train, x_reference, num_classes: int, seed: int = 0):
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression

        rows = np.random.default_rng(seed).permutation(len(x_train))[:MAX_TRAIN]
        train = _flat(x_train[rows])
        components = min(COMPONENTS, train.shape[1], len(train) - 1)
        self.pca = PCA(components, random_state=seed).fit(train)
        self.classifier = LogisticRegression(max_iter=1000).fit(self.pca.transform(train), np.asarray(y_train)[rows])
        self.num_classes = int(num_classes)
        self.reference = self.features(x_reference)
        self.shape = tuple(np.asarray(x_train).shape[1:])

    def features(self, images) -> np.ndarray:
        return self.pca.transform(_flat(images))

    def accuracy(self, images, labels) -> float:
        return float(np.mean(self.classifier.predict(self.features(images)) == np.asarray(labels)))

    def classes(self, images) -> np.ndarray:
        return self.classifier.predict(self.features(images))

    def score(self, images) -> Quality:
        features = self.features(images)
        probabilities = self.classifier.predict_proba(features)
        chosen = probabilities.argmax(axis=1)
        counts = np.bincount(chosen, minlength=probabilities.shape[1])
        shares = counts[counts > 0] / counts.sum()
        entropy = max(0.0, float(-(shares * np.log2(shares)).sum()))
        finite = np.isfinite(features).all()
        fair = len(chosen) / max(len(counts), 1)
        return Quality(frechet=frechet_distance(features, self.reference) if finite else math.inf,
                       classes_covered=int((counts >= max(1.0, COVERED_SHARE * fair)).sum()), class_entropy=entropy,
                       confidence=float(probabilities.max(axis=1).mean()))


_CACHE: dict = {}


def judge_for(dataset, key) -> Judge:
    """One judge per data set in this process (``key`` says which): every epoch and run reuses it."""
    if key not in _CACHE:
        x_train = np.concatenate([dataset.x_train, dataset.x_val]) if len(dataset.x_val) else dataset.x_train
        y_train = np.concatenate([dataset.y_train, dataset.y_val]) if len(dataset.y_val) else dataset.y_train
        _CACHE.clear()
        _CACHE[key] = Judge(x_train, y_train, dataset.x_test, dataset.num_classes)
    return _CACHE[key]
