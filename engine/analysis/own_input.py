"""The person's own input: an image file or a drawing, prepared exactly as the data set was, then predicted.

Exactly as the data set was means: the same colour mode (grayscale or RGB, from the model's input
channels), the same size (bilinear resize, as ``engine.data.image_folder`` resizes folder images) and the
same value range (pixels in [0, 1] when the experiment normalizes; otherwise the source's raw scale,
e.g. 0–16 for scikit-learn's digits, 0–255 for the Keras sets). The data sets store light strokes on
a dark background (MNIST, digits); a photo of dark ink on white paper needs ``invert=True``.

Handwritten digits get one more step, the one their data sets went through: MNIST's digits were
size-normalised into a 20×20 box and centred by their centre of mass in a 28×28 image, and
scikit-learn's digits were scaled to fill their frame. A drawing is cropped to its ink and placed
the same way (:func:`normalise_digit`), so a 7 that fills the canvas and a small 7 in a corner reach
the model alike. Pillow does the resampling; without it the message says how to install it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tapedeck.engine.errors import TapedeckError

__all__ = ["InputError", "pixel_scale", "prepare_array", "prepare_image_file", "predict_one", "digit_layout",
           "normalise_digit"]

# source → (box: the share of the frame the digit's longer side fills, centre by mass (MNIST) or by box)
_DIGIT_LAYOUTS = {"mnist": (20 / 28, True), "idx": (20 / 28, True), "digits": (1.0, False)}
INK_THRESHOLD = 0.1   # of the brightest pixel: fainter pixels are background when cropping

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


def _pillow():
    """PIL.Image, or an InputError that says how to install it (not a traceback on stderr)."""
    try:
        from PIL import Image
    except ImportError:
        raise InputError("preparing a drawing or an image needs Pillow, which is not installed: "
                         "run `pip install pillow` and reopen the run") from None
    return Image


def digit_layout(data, input_shape):
    """(box, by_mass) when the data set holds handwritten digits laid out like MNIST or scikit-learn's
    digits (grayscale, one digit centred per image), else None (photos, clothes: resized as they are)."""
    if int(input_shape[-1]) != 1:
        return None
    return _DIGIT_LAYOUTS.get(getattr(data, "source", None))


def normalise_digit(pixels: np.ndarray, size: int, box: float, by_mass: bool) -> np.ndarray:
    """Light ink on dark (H, W) in [0, 1] → (size, size): the ink cropped, its longer side scaled to
    ``box`` of the frame (aspect kept), centred by its centre of mass (``by_mass``) or its box."""
    pil = _pillow()
    a = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, 1.0)
    ink = a > INK_THRESHOLD * float(a.max()) if a.max() > 0 else np.zeros_like(a, dtype=bool)
    if not ink.any():
        return np.zeros((size, size), dtype=np.float32)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    longest = max(1, round(box * size))
    factor = longest / max(crop.shape)
    height, width = (max(1, round(side * factor)) for side in crop.shape)
    image = pil.fromarray(np.round(crop * 255).astype(np.uint8), mode="L")
    small = np.asarray(image.resize((width, height), pil.Resampling.LANCZOS), dtype=np.float32) / 255.0
    out = np.zeros((size, size), dtype=np.float32)
    if by_mass and small.sum() > 0:
        ys, xs = np.indices(small.shape)
        centre_y, centre_x = (float((ys * small).sum() / small.sum()), float((xs * small).sum() / small.sum()))
    else:
        centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    top = int(round((size - 1) / 2 - centre_y))
    left = int(round((size - 1) / 2 - centre_x))
    top, left = min(max(top, 0), size - height), min(max(left, 0), size - width)
    out[top:top + height, left:left + width] = small
    return out


def prepare_array(array, input_shape, scale: float = 1.0, invert: bool = False, layout=None) -> np.ndarray:
    """A drawing or image (H, W) / (H, W, C) with values in [0, 1] → a batch of one (1, h, w, c) for the model.

    ``scale`` is :func:`pixel_scale` of the experiment's data; ``layout`` is :func:`digit_layout` of it
    (None: resized as it is).
    """
    pil = _pillow()

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
    image = pil.fromarray(np.round(a * 255).astype(np.uint8), mode=mode)
    return _to_input(image, height, width, channels, scale, invert, layout)


def prepare_image_file(path, input_shape, scale: float = 1.0, invert: bool = False, layout=None) -> np.ndarray:
    """An image file (PNG, JPEG, …) → a batch of one (1, h, w, c), as the data set's images were prepared."""
    _pillow()
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            height, width, channels = (int(s) for s in input_shape)
            return _to_input(image, height, width, channels, scale, invert, layout)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise InputError(f"{path}: not an image Pillow can read ({type(error).__name__}); "
                         "use PNG, JPEG, BMP or GIF") from None


def predict_one(model, training, x) -> np.ndarray:
    """Class probabilities (classes,) for one prepared input, converted as the run's test score was."""
    from tapedeck.engine.analysis.reopen import predict_probabilities

    return predict_probabilities(model, training, x)[0]


def _to_input(image, height, width, channels, scale, invert, layout=None) -> np.ndarray:
    pil = _pillow()

    if channels not in (1, 3):
        raise InputError(f"the model takes {channels}-channel images; only grayscale (1) and RGB (3) inputs "
                         "can be drawn or opened")
    if image.mode in ("RGBA", "LA", "P"):
        # Transparent pixels (a PNG drawn on nothing) count as the background, not as black ink.
        background = pil.new("RGBA", image.size, (0, 0, 0, 255) if not invert else (255, 255, 255, 255))
        image = pil.alpha_composite(background, image.convert("RGBA"))
    image = image.convert("L" if channels == 1 else "RGB")
    if layout is not None and channels == 1 and height == width:
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        if invert:
            pixels = 1.0 - pixels
        pixels = normalise_digit(pixels, height, *layout)
    else:
        if image.size != (width, height):
            image = image.resize((width, height), pil.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        if invert:
            pixels = 1.0 - pixels
    if pixels.ndim == 2:
        pixels = pixels[..., np.newaxis]
    return (pixels * np.float32(scale))[np.newaxis].astype(np.float32)
