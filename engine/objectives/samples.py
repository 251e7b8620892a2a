"""Sample grids as PNG files (``samples/epoch-NNN.png``): what the generator made from the fixed noise.

Pillow writes them; the pixels are scaled to [0, 255] from the data's own range and each image is
enlarged (nearest neighbour) so an 8×8 digit is still visible in a file browser.
"""
from __future__ import annotations

import io

import numpy as np

__all__ = ["grid_array", "grid_png"]


def grid_array(images, columns: int, gap: int = 1) -> np.ndarray:
    """(N, H, W, C) → one (rows·(H+gap), columns·(W+gap), C) uint8 picture, row by row."""
    images = np.nan_to_num(np.asarray(images, dtype=np.float32))
    high = float(images.max()) if images.size else 1.0
    scale = 255.0 if high <= 1.0 + 1e-6 else 255.0 / max(high, 1e-6)
    images = np.clip(images * scale, 0, 255).astype(np.uint8)
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    canvas = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap, channels), 40, np.uint8)
    for index, image in enumerate(images):
        top, left = gap + (index // columns) * (height + gap), gap + (index % columns) * (width + gap)
        canvas[top:top + height, left:left + width] = image
    return canvas


def grid_png(images, columns: int, enlarge: int | None = None) -> bytes:
    from PIL import Image

    picture = grid_array(images, columns)
    height = np.asarray(images).shape[1]
    enlarge = enlarge or max(1, 32 // max(height, 1))
    if picture.shape[-1] == 1:
        picture = picture[..., 0]
    image = Image.fromarray(picture)
    if enlarge > 1:
        image = image.resize((image.width * enlarge, image.height * enlarge), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
