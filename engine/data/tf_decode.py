"""Image files decoded by TensorFlow's own ops inside ``tf.data``, to the pixels Pillow gives.

A streamed image folder decodes every file every epoch; one Python call per image (Pillow) kept the
pipeline at about half the in-memory speed. Here the ordinary files — 8-bit PNG (grey, grey+alpha, RGB,
RGBA, palette) and 8-bit JPEG with one or three components — are read and decoded by ``tf.io`` ops in
parallel, with no Python per image, and give the same bytes as :func:`image_folder._decode`:

- JPEG with ``dct_method="INTEGER_ACCURATE"`` (libjpeg's ISLOW, Pillow's choice; TensorFlow's default,
  IFAST, differs by up to 4 levels);
- grey from colour by Pillow's own integer formula (ITU-R 601-2, ``L = (19595 R + 38470 G + 7471 B +
  0x8000) >> 16``), alpha dropped as ``convert`` drops it;
- resizing by Pillow's BILINEAR resampling redone in integers: its coefficients, its 22-bit fixed point,
  its two passes through a uint8 image in Pillow's order (:func:`_resample`; only where both sides shrink
  may a pixel differ by one level), where ``tf.image.resize`` differs by one level on a fifth of pixels.

What TensorFlow does not decode the way Pillow does — 16-bit PNG (scaled, not clipped), CMYK or 12-bit
JPEG, BMP, GIF, anything whose header is not understood here — is told apart once, from each file's
header (:func:`file_kinds`), and only those files go through Pillow (``tf.numpy_function``).
"""
from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

__all__ = ["PILLOW", "PNG", "JPEG", "RESIZED", "file_kinds", "file_kind", "graph_decoder", "decoded_rows"]

PILLOW, PNG, JPEG = 0, 1, 2
RESIZED = 4   # added to PNG or JPEG: the header's size is not the target size (known per file, not per epoch)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPES = (0, 2, 3, 4, 6)        # grey, RGB, palette, grey+alpha, RGBA
_JPEG_SOF = (0xC0, 0xC1, 0xC2)            # baseline, extended, progressive (Huffman): libjpeg-turbo in both
_JPEG_OTHER_SOF = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_HEAD = 4096
_PRECISION_BITS = 22                      # Pillow's Resample.c: 32 - 8 (pixel) - 2 (headroom)


def _max_pixels() -> float:
    """Pillow's decompression-bomb threshold: a larger image goes to Pillow, which warns or refuses."""
    from PIL import Image

    return Image.MAX_IMAGE_PIXELS or float("inf")


def _png_kind(head: bytes, tail: bytes, limit: float) -> tuple[int, int, int]:
    if len(head) < 33 or head[12:16] != b"IHDR":
        return PILLOW, 0, 0
    width, height, depth, color = struct.unpack(">IIBB", head[16:26])
    if color not in _PNG_COLOR_TYPES or depth > 8 or (color not in (0, 3) and depth != 8):
        return PILLOW, 0, 0   # 16-bit (Pillow scales grey by 257, keeps RGB's high byte), or an invalid header
    if not width or not height or width * height > limit or not tail.endswith(b"IEND\xaeB`\x82"):
        return PILLOW, 0, 0   # cut short, or too large: Pillow names the reason
    return PNG, height, width


def _jpeg_kind(f, limit: float) -> tuple[int, int, int]:
    """Walk the markers up to the frame header (SOF): precision and component count decide."""
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return PILLOW, 0, 0
        code = marker[1]
        if code == 0xFF:                        # fill byte
            f.seek(-1, 1)
            continue
        if code in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            continue
        length = f.read(2)
        if len(length) < 2:
            return PILLOW, 0, 0
        size = struct.unpack(">H", length)[0]
        if code in _JPEG_SOF:
            frame = f.read(6)
            if len(frame) < 6:
                return PILLOW, 0, 0
            precision, height, width, components = struct.unpack(">BHHB", frame)
            fits = precision == 8 and components in (1, 3) and 0 < width * height <= limit
            return (JPEG, height, width) if fits else (PILLOW, 0, 0)
        if code in _JPEG_OTHER_SOF or code in (0xD9, 0xDA) or size < 2:
            return PILLOW, 0, 0                 # lossless/arithmetic, or no frame before the scan
        f.seek(size - 2, 1)


def file_kind(path, size: tuple[int, int], limit: float | None = None) -> int:
    """PNG or JPEG (plus RESIZED when the header's height and width are not ``size``) when TensorFlow
    decodes the file as Pillow does, judged by its header; else PILLOW.

    A PNG must also end with its IEND chunk and a JPEG with its EOI marker: a file cut short goes to
    Pillow, which names it as broken. Bad data in the middle is found by decoding (:func:`decoded_rows`).
    """
    limit = _max_pixels() if limit is None else limit
    kind, height, width = PILLOW, 0, 0
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16))
            tail = f.read()
            if head.startswith(_PNG_SIGNATURE):
                kind, height, width = _png_kind(head, tail, limit)
            elif head.startswith(b"\xff\xd8") and tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
                kind, height, width = _jpeg_kind(f, limit)
    except OSError:
        return PILLOW
    return kind if kind == PILLOW or (height, width) == tuple(size) else kind + RESIZED


def file_kinds(files, size: tuple[int, int]) -> np.ndarray:
    """:func:`file_kind` of every file (headers only: a few kilobytes read per file)."""
    limit = _max_pixels()
    return np.fromiter((file_kind(p, size, limit) for p in files), dtype=np.int8, count=len(files))


# ------------------------------------------------------------------------------------------ graph ops

def _grey_of_colour(image):
    """Pillow's ``convert("L")`` of RGB(A): ITU-R 601-2 luma in 16-bit fixed point, rounded."""
    import tensorflow as tf

    x = tf.cast(image[..., :3], tf.int32)
    luma = x[..., 0:1] * 19595 + x[..., 1:2] * 38470 + x[..., 2:3] * 7471 + 0x8000
    return tf.cast(tf.bitwise.right_shift(luma, 16), tf.uint8)


def _to_mode(rgb, mode: str):
    """RGB (every file is decoded to three channels: grey repeated, alpha and palette resolved by the
    decoder, as Pillow's ``convert("RGB")`` does) -> ``L`` or ``RGB``. Grey repeated comes back exactly
    from the luma formula (19595 + 38470 + 7471 = 65536), so a grey file needs no branch of its own."""
    return _grey_of_colour(rgb) if mode == "L" else rgb


def _coefficients(in_size, out_size: int):
    """Pillow's ``precompute_coeffs`` for BILINEAR with ``normalize_coeffs_8bpc``: per output pixel, the
    first input index and ``taps`` integer weights (22-bit fixed point, zero past the window)."""
    import tensorflow as tf

    scale = tf.cast(in_size, tf.float64) / out_size
    filterscale = tf.maximum(scale, 1.0)
    support = filterscale                   # the bilinear (triangle) filter's support is 1
    taps = tf.cast(tf.math.ceil(support), tf.int32) * 2 + 1
    centre = (tf.range(out_size, dtype=tf.float64) + 0.5) * scale
    first = tf.maximum(tf.cast(centre - support + 0.5, tf.int32), 0)   # C's (int): toward zero
    count = tf.minimum(tf.cast(centre + support + 0.5, tf.int32), in_size) - first
    t = tf.range(taps)
    index = first[:, None] + t[None, :]
    w = tf.maximum(1.0 - tf.abs((tf.cast(index, tf.float64) - centre[:, None] + 0.5) * (1.0 / filterscale)), 0.0)
    w = tf.where(t[None, :] < count[:, None], w, 0.0)
    total = tf.reduce_sum(w, axis=1, keepdims=True)
    w = tf.where(total != 0.0, w / tf.where(total != 0.0, total, 1.0), w)
    weights = tf.cast(tf.floor(w * (1 << _PRECISION_BITS) + 0.5), tf.int32)
    return tf.minimum(index, in_size - 1), weights


def _resample_axis(image, out_size: int, axis: int):
    """One pass of Pillow's 8-bit resampling along ``axis`` (0: rows, 1: columns), in int32 as Pillow
    sums (255 · 2²² < 2³¹), rounded half up and clipped to 0..255."""
    import tensorflow as tf

    index, weights = _coefficients(tf.shape(image)[axis], out_size)
    gathered = tf.gather(tf.cast(image, tf.int32), index, axis=axis)   # axis 1: (H, out, taps, C)
    k = weights[None, :, :, None] if axis == 1 else weights[:, :, None, None]
    total = tf.reduce_sum(gathered * k, axis=axis + 1) + (1 << (_PRECISION_BITS - 1))
    return tf.cast(tf.clip_by_value(tf.bitwise.right_shift(total, _PRECISION_BITS), 0, 255), tf.uint8)


def _resample(image, size: tuple[int, int]):
    """Pillow's ``resize(size, BILINEAR)``: each side resampled only if it changes, through a uint8 image
    between the two passes. Columns first, except where the height shrinks while the width grows: this
    Pillow (13) then runs the rows first, and the order decides some roundings. (Where both sides shrink
    it follows a rule of its own that we did not pin down; there a pixel may differ by one level.)"""
    import tensorflow as tf

    shape = tf.shape(image)

    def columns(x):
        return tf.cond(shape[1] != size[1], lambda: _resample_axis(x, size[1], 1), lambda: x)

    def rows(x):
        return tf.cond(shape[0] != size[0], lambda: _resample_axis(x, size[0], 0), lambda: x)

    rows_first = tf.logical_and(shape[0] > size[0], shape[1] < size[1])
    return tf.cond(rows_first, lambda: columns(rows(image)), lambda: rows(columns(image)))


def _native(kind: int, mode: str, size: tuple[int, int]):
    """``branch(path)`` for one kind: read, decode to RGB, convert, and resize only where the header said
    so; no ``tf.cond`` per image where a folder's files share a size."""
    import tensorflow as tf

    if kind & ~RESIZED == PNG:
        def decode(contents):
            return tf.io.decode_png(contents, channels=3)
    else:
        def decode(contents):
            return tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE")

    def branch(path):
        image = _to_mode(decode(tf.io.read_file(path)), mode)   # Pillow converts, then resizes
        return _resample(image, size) if kind & RESIZED else image

    return branch


def graph_decoder(files, kinds: np.ndarray, mode: str, size: tuple[int, int],
                  pillow_one: Callable[[int], np.ndarray] | None = None):
    """``decode(row)``: a graph function from a row (scalar int64 tensor) to its uint8 image (H, W, C).

    PNG and JPEG rows are decoded by TensorFlow; PILLOW rows call ``pillow_one(row)`` through
    ``tf.numpy_function`` (it must return the image at ``size`` in ``mode``, or raise). When every file
    is PNG or JPEG the graph holds no Python call at all; when all are of one kind, no branch either.
    A file whose pixels do not match its header's size fails ``ensure_shape`` (and goes to Pillow).
    """
    import tensorflow as tf

    channels = 1 if mode == "L" else 3
    shape = (size[0], size[1], channels)
    paths = tf.constant([str(p) for p in files])
    present = sorted(int(k) for k in np.unique(kinds))
    if PILLOW in present and pillow_one is None:
        raise ValueError("files that only Pillow decodes need pillow_one")
    branch_of = np.zeros(PNG + JPEG + RESIZED + 1, dtype=np.int32)
    branch_of[present] = np.arange(len(present))
    branches = tf.constant(branch_of[np.asarray(kinds, dtype=np.int64)])

    def make(kind: int):
        if kind == PILLOW:
            def by_pillow(row):
                image = tf.numpy_function(lambda r: pillow_one(int(r)), [row], tf.uint8, stateful=False)
                return tf.reshape(image, shape)
            return by_pillow
        branch = _native(kind, mode, size)
        return lambda row: branch(tf.gather(paths, row))

    makers = [make(k) for k in present]

    def decode(row):
        if len(makers) == 1:
            image = makers[0](row)
        else:
            image = tf.switch_case(tf.gather(branches, row), [lambda m=m: m(row) for m in makers])
        return tf.ensure_shape(image, shape)

    return decode


def decoded_rows(decode, rows: np.ndarray, batch: int = 256):
    """``(positions, images)`` batches: the images of ``rows`` that decode, decoded in parallel, with
    their positions in ``rows``; a file that fails to decode is left out (the caller names it), so the
    positions missing are the broken files."""
    import tensorflow as tf

    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return
    table = tf.constant(rows)
    dataset = (tf.data.Dataset.range(len(rows))
               .map(lambda p: (p, decode(tf.gather(table, p))), num_parallel_calls=tf.data.AUTOTUNE)
               .ignore_errors().batch(batch).prefetch(2))
    yield from dataset.as_numpy_iterator()
