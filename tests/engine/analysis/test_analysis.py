"""After training: galleries of mistakes, per-class table, feature maps, the person's own input."""
import json

import numpy as np
import pytest
from PIL import Image

from tapedeck.engine.analysis.feature_maps import (
    FeatureMapError,
    conv_layer_names,
    feature_map_grid,
    feature_maps,
    spatial_layer_names,
)
from tapedeck.engine.analysis.own_input import InputError, pixel_scale, predict_one, prepare_array, prepare_image_file
from tapedeck.engine.analysis.reopen import (
    class_table,
    confusion_cell,
    format_class_table,
    most_confidently_wrong,
    open_run,
)
from tests.support.run_support import short_experiment, trained_run


@pytest.fixture(scope="module")
def analysed():
    return open_run(trained_run())


def test_reopened_run_matches_its_own_test_score(analysed):
    metrics = json.loads((analysed.run_dir / "metrics.json").read_text())["test"]
    assert analysed.confusion().tolist() == metrics["confusion"]
    rows = analysed.class_table()
    assert [r.recall or 0.0 for r in rows] == pytest.approx(metrics["recall"])
    assert [r.precision or 0.0 for r in rows] == pytest.approx(metrics["precision"])
    assert sum(r.support for r in rows) == len(analysed.dataset.y_test)
    assert format_class_table(rows).splitlines()[2].startswith(analysed.class_names[0])


def test_every_cell_lists_its_images_most_confident_first(analysed):
    confusion = analysed.confusion()
    for true_class, predicted_class in [(t, p) for t in range(10) for p in range(10) if confusion[t, p]][:12]:
        examples = analysed.cell(true_class, predicted_class)
        assert len(examples) == confusion[true_class, predicted_class]
        assert all(e.true_label == true_class and e.predicted_label == predicted_class for e in examples)
        assert all(analysed.dataset.y_test[e.index] == true_class for e in examples)
        confidences = [e.confidence for e in examples]
        assert confidences == sorted(confidences, reverse=True)
        assert all(e.confidence == pytest.approx(e.probabilities.max()) for e in examples)


def test_most_confidently_wrong_are_the_surest_mistakes(analysed):
    wrong = analysed.most_confidently_wrong(5)
    all_wrong = most_confidently_wrong(analysed.true_labels, analysed.probabilities, count=10_000)
    assert len(all_wrong) == int((analysed.predicted_labels != analysed.true_labels).sum()) > 5
    assert [e.index for e in wrong] == [e.index for e in all_wrong[:5]]
    assert all(e.true_label != e.predicted_label for e in all_wrong)
    assert wrong[0].confidence == max(e.confidence for e in all_wrong)


def test_table_handles_classes_never_predicted():
    rows = class_table([[3, 1], [2, 0]], ["cat", "dog"])
    assert (rows[0].precision, rows[0].recall) == (0.6, 0.75)
    assert (rows[1].precision, rows[1].recall, rows[1].support, rows[1].predicted) == (0.0, 0.0, 2, 1)
    assert class_table([[0, 0], [0, 4]], ["a", "b"])[0].precision is None
    assert confusion_cell([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]), 0, 1) == []


def test_feature_maps_of_a_functional_model_are_the_layer_activations(analysed):
    model = analysed.model
    assert conv_layer_names(model) == ["conv2d", "conv2d_1"]
    assert spatial_layer_names(model) == ["conv2d", "max_pooling2d", "conv2d_1"]
    image = analysed.dataset.x_test[3]
    maps = feature_maps(model, "conv2d", image)
    direct = np.asarray(model.get_layer("conv2d")(image[np.newaxis]))[0]  # the first layer sees the input
    np.testing.assert_allclose(maps, direct, atol=1e-6)
    assert feature_maps(model, "conv2d_1", image).shape == (4, 4, 64)
    with pytest.raises(FeatureMapError, match="not \\(H, W, C\\) maps"):
        feature_maps(model, "dense", image)
    with pytest.raises(FeatureMapError, match="no layer named 'conv9'"):
        feature_maps(model, "conv9", image)


def test_feature_maps_of_a_subclass_equal_the_functional_twin():
    from tapedeck.engine.model.build import build_model

    experiment = short_experiment(preset="digits_residual")
    functional = build_model(experiment, (8, 8, 1), api="functional")
    subclass = build_model(experiment, (8, 8, 1), api="subclassing")
    subclass.set_weights(functional.get_weights())
    image = np.random.default_rng(1).random((8, 8, 1), dtype=np.float32)
    assert conv_layer_names(subclass) == conv_layer_names(functional)
    assert spatial_layer_names(subclass) == spatial_layer_names(functional)
    for name in conv_layer_names(functional)[1:]:  # deeper than the input: wiring must match
        np.testing.assert_allclose(feature_maps(subclass, name, image), feature_maps(functional, name, image),
                                   atol=1e-5)


def test_grid_tiles_every_map_scaled_on_its_own():
    maps = np.stack([np.full((3, 4), 7.0), np.arange(12.0).reshape(3, 4), -np.arange(12.0).reshape(3, 4)], axis=-1)
    grid = feature_map_grid(maps, gap=1)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1)
    assert np.all(grid[:3, :4] == 0) and grid[0, 5] == 0 and grid[2, 8] == 1 and grid[4, 0] == 1
    assert np.isnan(grid[3]).all() and np.isnan(grid[4:, 5:]).all()


def test_an_image_file_is_prepared_as_the_test_set_was(analysed, tmp_path):
    x_test = analysed.dataset.x_test
    image = x_test[7][..., 0]
    path = tmp_path / "digit.png"
    Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(path)
    x = prepare_image_file(path, analysed.dataset.input_shape, pixel_scale(analysed.experiment.data))
    assert x.shape == (1, 8, 8, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], x_test[7], atol=0.5 / 255 + 1e-7)
    probabilities = predict_one(analysed.model, analysed.experiment.training, x)
    np.testing.assert_allclose(probabilities, analysed.probabilities[7], atol=2e-3)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)

    Image.fromarray(np.round((1 - image) * 255).astype(np.uint8), mode="L").convert("RGB").save(tmp_path / "paper.jpg",
                                                                                              quality=100)
    inverted = prepare_image_file(tmp_path / "paper.jpg", (8, 8, 1), invert=True)
    np.testing.assert_allclose(inverted[0], x_test[7], atol=0.03)


def test_a_drawing_is_resized_and_scaled_like_the_data():
    drawing = np.zeros((80, 80), dtype=np.float32)
    drawing[:, 20:60] = 1.0  # a thick vertical stroke down the middle (bilinear reaches one cell out)
    x = prepare_array(drawing, (8, 8, 1))
    assert x.shape == (1, 8, 8, 1)
    column = x[0, 4, :, 0]
    assert column[3] == column[4] == pytest.approx(1.0, abs=0.01) and column[0] == column[7] == 0.0
    raw = prepare_array(drawing, (8, 8, 1), scale=pixel_scale(short_experiment().data.__class__(normalize=False)))
    np.testing.assert_allclose(raw, x * 16.0, rtol=1e-6)  # unnormalized digits live in 0..16
    rgb = prepare_array(np.dstack([drawing] * 3), (32, 32, 3))
    assert rgb.shape == (1, 32, 32, 3) and np.allclose(rgb[..., 0], rgb[..., 2])


def test_own_input_mistakes_are_one_message(tmp_path):
    with pytest.raises(InputError, match="no such image file"):
        prepare_image_file(tmp_path / "absent.png", (8, 8, 1))
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match="not an image Pillow can read"):
        prepare_image_file(tmp_path / "notes.png", (8, 8, 1))
    with pytest.raises(InputError, match="expected a 2-D drawing"):
        prepare_array(np.zeros((2, 3, 4, 5)), (8, 8, 1))
    with pytest.raises(InputError, match="NaN"):
        prepare_array(np.full((4, 4), np.nan), (8, 8, 1))


def test_feature_maps_leave_an_augmenting_subclass_untouched():
    """Augmentation and BatchNormalization run as at inference: same maps twice, statistics unmoved."""
    from tapedeck.engine.model.build import build_model
    from tapedeck.engine.spec.experiment import LayerSpec

    experiment = short_experiment(api="subclassing")
    experiment.model.layers = [LayerSpec("RandomFlip"), LayerSpec("Conv2D", {"filters": 4, "kernel_size": 3}),
                               LayerSpec("BatchNormalization"), LayerSpec("Flatten"), LayerSpec("Dense", {"units": 10})]
    model = build_model(experiment, (8, 8, 1))
    batch_norm = model.stack[2]
    statistics = np.asarray(batch_norm.moving_mean).copy()
    image = np.random.default_rng(4).random((8, 8, 1), dtype=np.float32) * 4
    assert spatial_layer_names(model) == ["random_flip", "conv2d", "batch_normalization"]
    first = feature_maps(model, "batch_normalization", image)
    np.testing.assert_array_equal(feature_maps(model, "batch_normalization", image), first)
    np.testing.assert_array_equal(np.asarray(batch_norm.moving_mean), statistics)
    np.testing.assert_allclose(feature_maps(model, "random_flip", image), image, atol=0)
