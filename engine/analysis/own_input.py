"""The person's own input: an image file or a drawing, prepared exactly as the data set was, then predicted.

Exactly as the data set was means: the same colour mode (grayscale or RGB, from the model's input
channels), the same size (bilinear resize, as ``engine.data.image_folder`` resizes folder images) and the
same value range (pixels in [0, 1] when the experiment normalizes; otherwise the source's raw scale,
e.g. 0–16 for scikit-learn's digits, 0–255 for the Keras sets). The data sets store light strokes on
a dark background (MNIST, digits); a photo of dark ink on white paper needs ``invert=True``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tapedeck.engine.errors import TapedeckError

__all__ = ["InputError", "pixel_scale", "prepare_array", "prepare_image_file", "predict_one"]

_RAW_SCALE = {"digits": 16.0, "mnist": 255.0, "fashion_mnist": 255.0, "cifar10": 255.0, "cifar100": 255.0,
              "cifar": 255.0, "folder": 255.0}


class InputError(TapedeckError):
    """The file or array cannot be turned into a model input; the message names it and the fix."""


def pixel_scale(data) -> float:
    """The largest pixel value the model saw in training: 1.0 when normalized, else the source's own."""
    if getattr(data, "normalize", True):
        return 1.0
    source = getattr(data, "source", "digits")
    if source in _RAW_SCALE:
        return _RAW_SCALE[source]
    from tapedeck.engine.data.readers import read_idx_folder, read_npz

    raw = read_npz(data.path) if source == "npz" else read_idx_folder(data.path)
    return float(raw.scale)


def prepare_array(array, input_shape, scale: float = 1.0, invert: bool = False) -> np.ndarray:
    """A drawing or image (H, W) / (H, W, C) with values in [0, 1] → a batch of one (1, h, w, c) for the model.

    ``scale`` is :func:`pixel_scale` of the experiment's data.
    """
    from PIL import Image

    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)) or a.size == 0:
        raise InputError(f"expected a 2-D drawing or an (H, W, 3) image, received shape {np.shape(array)}")
    if not np.all(np.isfinite(a)):
        raise InputError("the drawing holds NaN or infinite values")
    height, width, channels = (int(s) for s in input_shape)
    a = np.clip(a, 0.0, 1.0)
    if a.ndim == 3:
        a = a[..., :3]
        mode = "RGB"
    else:
        mode = "L"
    image = Image.fromarray(np.round(a * 255).astype(np.uint8), mode=mode)
    return _to_input(image, height, width, channels, scale, invert)


def prepare_image_file(path, input_shape, scale: float = 1.0, invert: bool = False) -> np.ndarray:
    """An image file (PNG, JPEG, …) → a batch of one (1, h, w, c), as the data set's images were prepared."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            height, width, channels = (int(s) for s in input_shape)
            return _to_input(image, height, width, channels, scale, invert)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise InputError(f"{path}: not an image Pillow can read ({type(error).__name__}); "
                         "use PNG, JPEG, BMP or GIF") from None


def predict_one(model, training, x) -> np.ndarray:
    """Class probabilities (classes,) for one prepared input, converted as the run's test score was."""
    from tapedeck.engine.analysis.reopen import predict_probabilities

    return predict_probabilities(model, training, x)[0]


def _to_input(image, height, width, channels, scale, invert) -> np.ndarray:
    from PIL import Image

    if channels not in (1, 3):
        raise InputError(f"the model takes {channels}-channel images; only grayscale (1) and RGB (3) inputs "
                         "can be drawn or opened")
    if image.mode in ("RGBA", "LA", "P"):
        # Transparent pixels (a PNG drawn on nothing) count as the background, not as black ink.
        background = Image.new("RGBA", image.size, (0, 0, 0, 255) if not invert else (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if invert:
        pixels = 1.0 - pixels
    if pixels.ndim == 2:
        pixels = pixels[..., np.newaxis]
    return (pixels * np.float32(scale))[np.newaxis].astype(np.float32)
