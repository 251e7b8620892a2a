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


@pytest.mark.parametrize("execution", ["graph", "eager"])
def test_a_call_of_several_steps_returns_its_last_two_steps_sums(execution):
    """The divergence diagnosis reads the last two steps' per-variable sums g² of a call; the steps before
    them skip the sums (a pass over every gradient), so check the two that are returned are real ones."""
    import keras
    import tensorflow as tf

    from tapedeck.engine.training.tape_loop import TapeLoop

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    loop = TapeLoop(model, keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None), lambda name: keras.metrics.SparseCategoricalAccuracy(name=name),
        tf.distribute.get_strategy(), batch_size=4, execution=execution)
    x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    data = loop._dataset(x, np.arange(40) % 3, shuffle=False)
    train_steps, _inspect, _validate = loop._compile_steps(data, None)
    iterator = iter(data)
    _logs, previous, last, taken = train_steps(iterator, 5 if execution == "eager" else tf.constant(5))
    assert int(taken) == 5
    assert np.all(np.asarray(previous) > 0) and np.all(np.asarray(last) > 0)   # kernel and bias, both steps
    assert not np.allclose(np.asarray(previous), np.asarray(last))   # two different steps' figures
    _logs, previous, last, taken = train_steps(iterator, 1 if execution == "eager" else tf.constant(1))
    assert np.all(np.asarray(last) > 0) and np.all(np.asarray(previous) == 0)   # a one-step call: one sum
