"""Drawings prepared as the data set's digits were (issue 11, item 5): size-normalised, centred."""
from __future__ import annotations

import numpy as np

from tapedeck.engine.analysis.own_input import digit_layout, normalise_digit, prepare_array
from tapedeck.engine.spec.experiment import DataSpec


def seven(canvas: int, top: int, left: int, size: int) -> np.ndarray:
    """A 7 of ``size`` pixels at (top, left) on a black ``canvas``: a bar and a slanted stroke."""
    image = np.zeros((canvas, canvas), np.float32)
    bar = max(2, size // 8)
    image[top:top + bar, left:left + size] = 1.0
    for row in range(size):
        column = left + size - 1 - row * size // (2 * size)
        image[top + row, max(left, column - bar):column + 1] = 1.0
    return image


def bbox(image):
    ink = image > 0.1 * image.max()
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(image):
    ys, xs = np.indices(image.shape)
    return (ys * image).sum() / image.sum(), (xs * image).sum() / image.sum()


def test_a_big_and_a_small_seven_reach_an_mnist_model_alike():
    layout = digit_layout(DataSpec(source="mnist"), (28, 28, 1))
    assert layout == (20 / 28, True)
    big = prepare_array(seven(280, 5, 5, 270), (28, 28, 1), layout=layout)[0, ..., 0]
    small = prepare_array(seven(280, 20, 200, 50), (28, 28, 1), layout=layout)[0, ..., 0]
    for prepared in (big, small):
        assert max(bbox(prepared)) == 20                       # MNIST's 20x20 box
        cy, cx = centre_of_mass(prepared)
        assert abs(cy - 13.5) <= 0.6 and abs(cx - 13.5) <= 0.6   # centred by mass in 28x28
    assert np.abs(big - small).mean() < 0.08
    plain = prepare_array(seven(280, 20, 200, 50), (28, 28, 1))[0, ..., 0]   # no layout: only resized
    assert max(bbox(plain)) < 10


def test_digits_fill_their_frame_and_colour_sets_keep_their_framing():
    layout = digit_layout(DataSpec(source="digits"), (8, 8, 1))
    assert layout == (1.0, False)
    prepared = normalise_digit(seven(280, 100, 100, 40), 8, *layout)
    assert max(bbox(prepared)) == 8
    assert digit_layout(DataSpec(source="cifar10"), (32, 32, 3)) is None
    assert digit_layout(DataSpec(source="fashion_mnist"), (28, 28, 1)) is None
    assert not normalise_digit(np.zeros((10, 10)), 8, 1.0, False).any()
