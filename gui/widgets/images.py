"""Arrays to Qt images: every view that shows a sample (predictions, galleries, feature maps,
the prepared own input) converts it the same way."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def to_qimage(image: np.ndarray) -> QImage:
    """(H, W, C) float or int image → an 8-bit QImage (grayscale for 1 channel, RGB for 3)."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    top = float(array.max()) if array.size else 1.0
    scale = 255.0 if top <= 1.0 + 1e-6 else 255.0 / max(top, 1.0)
    pixels = np.clip(array * scale, 0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    if channels == 1:
        data = np.ascontiguousarray(pixels[..., 0])
        return QImage(data.data, width, height, width, QImage.Format_Grayscale8).copy()
    data = np.ascontiguousarray(pixels[..., :3])
    return QImage(data.data, width, height, 3 * width, QImage.Format_RGB888).copy()
