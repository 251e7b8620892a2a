"""Your own image through a finished VAE: prepared as the data set's images were (the classifier's
own-input rules), encoded to its code's mean, decoded back — what the model keeps of it, and where it
falls in the latent space. The image is a file, or a drawing (the Samples tab's canvas: light ink on dark in
[0, 1], laid out as the data set's digits are). Reads the run folder's encoder.keras and decoder.keras with
plain Keras."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tapedeck.engine.analysis.own_input import (
    InputError,
    digit_layout,
    pixel_scale,
    prepare_array,
    prepare_image_file,
)
from tapedeck.engine.spec.experiment import ExperimentError, load_experiment

__all__ = ["reconstruct"]


def reconstruct(run_dir, image_path=None, drawing=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the prepared image (H, W, C), its reconstruction (H, W, C), its code's mean (latent_dim,)) of the file at
    ``image_path`` or of ``drawing`` (H, W) in [0, 1]."""
    import keras

    run_dir = Path(run_dir)
    try:
        experiment = load_experiment(run_dir / "experiment.json")
    except ExperimentError as error:
        raise InputError(str(error).splitlines()[0]) from None
    if experiment.objective.kind != "vae":
        raise InputError(f"{run_dir.name}: a run of objective {experiment.objective.kind!r} has no encoder; "
                         "encode an image with a VAE run")
    models = {}
    for role in ("encoder", "decoder"):
        path = run_dir / f"{role}.keras"
        if not path.is_file():
            raise InputError(f"{path}: missing (the run stopped before its first step); train it again")
        models[role] = keras.models.load_model(path, compile=False)
    shape = tuple(int(s) for s in models["encoder"].input_shape[1:])
    layout, scale = digit_layout(experiment.data, shape), pixel_scale(experiment.data)
    if drawing is not None:
        if shape[-1] != 1:
            raise InputError(f"{run_dir.name}: its images have {shape[-1]} channels; a drawing is grey: encode an "
                             "image file instead")
        x = prepare_array(drawing, shape, scale, layout=layout)
    else:
        x = prepare_image_file(image_path, shape, scale, layout=layout)
    stats = np.asarray(models["encoder"](x, training=False), dtype=np.float32)
    mean = stats[:, : stats.shape[-1] // 2]
    rebuilt = np.asarray(models["decoder"](mean, training=False), dtype=np.float32)
    return x[0], rebuilt[0], mean[0]
