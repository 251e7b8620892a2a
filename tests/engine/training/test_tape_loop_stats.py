"""The tape loop's per-variable figures, computed in fewer passes (l2_loss, int32 counts, the non-finite
count only where the sum of squares is not finite), are the figures the slow way gives."""
from __future__ import annotations

import numpy as np
import pytest

from tapedeck.engine.training.tape_loop import _sum_of_squares, _variable_row


@pytest.mark.parametrize("gradient", [
    [[0.5, 0.0], [-2.0, 0.0]],                 # two zeros, all finite
    [[np.nan, 0.0], [np.inf, -np.inf]],        # three non-finite, one zero
    [[1e20, -1e20], [0.0, 3.0]],               # finite, but its sum of squares overflows
])
def test_row_matches_the_plain_numpy_figures(gradient):
    g = np.array(gradient, dtype=np.float32)
    before = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    after = before - np.float32(0.25)
    square = _sum_of_squares(g)
    row = np.asarray(_variable_row(g, square, before, after))
    with np.errstate(over="ignore", invalid="ignore"):
        expected_square = np.sum(np.square(g.astype(np.float32)))
    np.testing.assert_allclose(row[0], expected_square, rtol=1e-6)
    assert row[1] == pytest.approx(30.0) and row[2] == pytest.approx(4 * 0.0625)
    assert row[3] == np.sum(g == 0.0) and row[4] == g.size and row[5] == np.sum(~np.isfinite(g))
