"""Plain-word rules for the layers added for issue 15: each mistake named on its layer, with the fix."""
import pytest

from tapedeck.engine.spec.experiment import LayerSpec
from tests.engine.model.test_check import HEAD, L, only_problem, run


def test_cropping_that_leaves_nothing():
    message = only_problem(run([L("Cropping2D", cropping=[[4, 4], [0, 0]]), *HEAD]))
    assert "cropping removes 8 rows and 0 columns from a 8×8 input" in message and "crop less" in message


def test_cropping_that_leaves_something_is_fine():
    report = run([L("Cropping2D", cropping=[[1, 2], [0, 3]]), *HEAD])
    assert report.ok and report.layers[0].output_shape == (5, 5, 1)


def test_group_normalization_groups_must_divide_the_channels():
    layers = [L("Conv2D", filters=6, kernel_size=3), L("GroupNormalization", groups=4), *HEAD]
    message = only_problem(run(layers))
    assert "groups 4 does not divide the input's 6 channels" in message and "1, 2, 3, 6" in message
    assert run([L("Conv2D", filters=6, kernel_size=3), L("GroupNormalization", groups=3), *HEAD]).ok


def test_subtract_takes_exactly_two_inputs():
    layers = [L("Conv2D", "a", filters=4, kernel_size=3, padding="same"),
              L("Conv2D", "b", filters=4, kernel_size=3, padding="same"),
              L("Subtract", inputs=["input", "a", "b"]), *HEAD]
    assert "Subtract takes exactly 2 inputs, but it receives 3" in only_problem(run(layers, shape=(8, 8, 4)))


def test_minimum_of_different_shapes_is_refused_like_add():
    layers = [L("Conv2D", "a", filters=4, kernel_size=3), L("Minimum", inputs=["input", "a"]), *HEAD]
    assert "Minimum combines its inputs element by element" in only_problem(run(layers))


def test_dot_of_two_vectors_gives_one_score_and_mismatches_come_from_keras():
    vectors = [L("Flatten", "flat"), L("Dense", "a", units=8), L("Dense", "b", inputs=["flat"], units=8)]
    report = run([*vectors, L("Dot", "s", inputs=["a", "b"], axes=-1), L("Dense", units=10, activation="softmax")])
    assert report.ok and report.layers[3].output_shape == (1,)
    vectors[2] = L("Dense", "b", inputs=["flat"], units=5)
    message = only_problem(run([*vectors, L("Dot", inputs=["a", "b"], axes=-1),
                                L("Dense", units=10, activation="softmax")]))
    assert "Incompatible input shapes" in message


def test_a_transposed_convolution_grows_the_image_whatever_its_kernel():
    report = run([L("Conv2DTranspose", filters=4, kernel_size=11, strides=2), *HEAD])
    assert report.ok and report.layers[0].output_shape == (25, 25, 4)


@pytest.mark.parametrize("type_,shape", [("UpSampling2D", (16, 16, 1)), ("ZeroPadding2D", (10, 10, 1)),
                                         ("Resizing", (24, 24, 1)), ("CenterCrop", (24, 24, 1))])
def test_resizing_layers_shapes(type_, shape):
    from tapedeck.engine.spec.catalogue import layer_type

    report = run([LayerSpec(type_, layer_type(type_).initial_params()), *HEAD])
    assert report.ok and report.layers[0].output_shape == shape


def test_image_layers_after_flatten_say_so():
    message = only_problem(run([L("Flatten"), L("UpSampling2D"), L("Dense", units=10, activation="softmax")]))
    assert "UpSampling2D needs an image-shaped input" in message and "Move this layer before the Flatten" in message


def test_softmax_layer_counts_as_the_output_activation():
    softmax_end = [L("Flatten"), L("Dense", units=10), L("Softmax")]
    assert run(softmax_end).ok
    assert "already outputs probabilities" in only_problem(run(softmax_end, from_logits=True))
    relu_end = [L("Flatten"), L("Dense", units=10), L("ReLU")]
    assert "ends with relu, which does not give probabilities" in only_problem(run(relu_end))
