"""Ask a finished generative run for images: a GAN's generator for new ones, a conditional GAN's for a
class of your choosing ("type a digit, get that digit"), a VAE's decoder for images of random codes.

It reads the run folder's own ``generator.keras`` / ``decoder.keras`` with plain Keras, so what it shows is
what the run saved, not a model still in memory.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.spec.experiment import ExperimentError, load_experiment

__all__ = ["DrawError", "draw", "MAKERS"]

MAKERS = {"gan": "generator", "cgan": "generator", "vae": "decoder"}   # the model that makes images


class DrawError(TapedeckError):
    """The run cannot draw (not generative, no saved model, a class it does not know): said with the fix."""


def draw(run_dir, count: int = 16, label: int | None = None, seed: int = 0) -> np.ndarray:
    """``count`` images (N, H, W, C) from the run's generator (of class ``label`` for a conditional GAN)."""
    import keras

    run_dir = Path(run_dir)
    try:
        experiment = load_experiment(run_dir / "experiment.json")
    except ExperimentError as error:
        raise DrawError(str(error).splitlines()[0]) from None
    kind = experiment.objective.kind
    if kind not in MAKERS:
        raise DrawError(f"{run_dir.name}: a run of objective {kind!r} makes no images; draw from a GAN, a "
                        "conditional GAN or a VAE run")
    path = run_dir / f"{MAKERS[kind]}.keras"
    if not path.is_file():
        raise DrawError(f"{path}: missing (the run stopped before its first step); train it again")
    if count < 1:
        raise DrawError(f"expected 1 or more images, received {count}")
    model = keras.models.load_model(path, compile=False)
    codes = np.random.default_rng(seed).normal(size=(count, int(experiment.objective.latent_dim))).astype("float32")
    if kind != "cgan":
        return np.asarray(model(codes, training=False), dtype=np.float32)
    classes = _classes(model)
    if label is None or not 0 <= int(label) < classes:
        raise DrawError(f"a conditional GAN draws the class asked for: give a class from 0 to {classes - 1}")
    labels = np.full((count, 1), int(label), dtype="int32")
    return np.asarray(model([codes, labels], training=False), dtype=np.float32)


def _classes(model) -> int:
    """How many classes a conditional generator knows: the size of its label's one-hot code or embedding."""
    for layer in model.layers:
        if layer.name == "label_one_hot":
            return int(layer.num_tokens)
        if layer.name == "label_embedding":
            return int(layer.input_dim)
    raise DrawError("this generator has no label input Tapedeck made; it is not a conditional GAN's")
