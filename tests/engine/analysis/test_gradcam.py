"""Grad-CAM on a model and data where the answer is known: each dark, noisy image holds one bright 6×6
pattern at a random place, and the class is the pattern (filled, hollow, plus, diagonal), so the
evidence for the class lies in that square and nowhere else. After a short real run the heat map's
maximum must lie in the square for most test images (the share is printed).

Not the square's *position* as the class: with a Flatten head a class's evidence is "bright here, dark
elsewhere", Grad-CAM's weights (gradients averaged over the whole map) come out negative for every map,
and the heat map is zero (measured: 120 of 120 images). Grad-CAM localises what a map detects, not
where a Dense layer expects it."""
import numpy as np
import pytest

from tapedeck.engine.analysis.gradcam import (
    GradCamError,
    default_gradcam_layer,
    gradcam,
    gradcam_layer_names,
    overlay,
    run_gradcam,
)
from tapedeck.engine.analysis.reopen import open_run
from tests.support.training_support import Recorder, experiment

SIZE, SIDE = 24, 6
LAYERS = [
    {"type": "Conv2D", "filters": 16, "kernel_size": 3, "activation": "relu", "padding": "same"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu", "padding": "same"},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "units": 4, "activation": "softmax"},
]


PATTERNS = np.zeros((4, SIDE, SIDE), dtype=bool)
PATTERNS[0] = True                                          # filled
PATTERNS[1, [0, -1], :] = PATTERNS[1, :, [0, -1]] = True    # hollow
PATTERNS[2, 2:4, :] = PATTERNS[2, :, 2:4] = True            # plus
PATTERNS[3] = np.eye(SIDE, dtype=bool) | np.eye(SIDE, dtype=bool)[::-1]   # diagonal cross
NAMES = ["filled", "hollow", "plus", "diagonal"]


def squares(count, rng):
    """Images (N, SIZE, SIZE) in 0..255 with one pattern each, its class, and each square's corner."""
    x = rng.integers(0, 40, size=(count, SIZE, SIZE)).astype(np.uint8)
    y = rng.integers(0, 4, size=count)
    corners = []
    for i, label in enumerate(y):
        top, left = (int(v) for v in rng.integers(0, SIZE - SIDE + 1, size=2))
        x[i, top:top + SIDE, left:left + SIDE][PATTERNS[label]] = 230
        corners.append((top, left))
    return x, y.astype(np.int64), corners


@pytest.fixture(scope="module")
def square_run(tmp_path_factory):
    from tapedeck.engine.training.run import run

    root = tmp_path_factory.mktemp("gradcam")
    rng = np.random.default_rng(0)
    x_train, y_train, _ = squares(600, rng)
    x_test, y_test, corners = squares(120, rng)
    path = root / "squares.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             class_names=np.array(NAMES))
    exp = experiment(LAYERS, data={"source": "npz", "path": str(path), "validation_split": 0.0},
                     epochs=5, batch_size=32, learning_rate=0.01, name="squares")
    exp.model.api = "functional"
    recorder = Recorder()
    run_dir = run(exp, recorder, runs_dir=root / "runs")
    assert recorder.finished.reason == "completed", recorder.finished
    return run_dir, corners


def test_the_heat_map_peaks_inside_the_square(square_run):
    run_dir, corners = square_run
    analysed = open_run(run_dir)
    assert float(np.mean(analysed.predicted_labels == analysed.true_labels)) > 0.9
    model = analysed.model
    assert default_gradcam_layer(model) == "conv2d_1"
    assert gradcam_layer_names(model) == ["conv2d", "max_pooling2d", "conv2d_1"]
    hits = 0
    for index, (top, left) in enumerate(corners):
        result = gradcam(model, analysed.dataset.x_test[index], int(analysed.true_labels[index]))
        heat = result.heatmap
        assert heat.shape == (SIZE, SIZE) and heat.dtype == np.float32
        assert 0.0 <= heat.min() and heat.max() == pytest.approx(1.0)
        row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
        hits += top <= row < top + SIDE and left <= col < left + SIDE
    share = hits / len(corners)
    print(f"\nGrad-CAM maximum inside the square: {hits}/{len(corners)} = {share:.1%}")
    assert share >= 0.8


def test_headless_pair_for_the_predicted_and_the_true_class(square_run):
    run_dir, corners = square_run
    result = run_gradcam(run_dir, 5)
    assert result["class_names"] == NAMES
    predicted, true = result["predicted"], result["true"]
    assert predicted.layer == true.layer == "conv2d_1"
    assert 0.0 <= predicted.probability <= 1.0
    other = run_gradcam(run_dir, 5, layer="conv2d", class_index=(true.class_index + 1) % 4)["predicted"]
    assert other.layer == "conv2d" and other.class_index == (true.class_index + 1) % 4
    picture = overlay(result["image"], predicted.heatmap)
    assert picture.shape == (SIZE, SIZE, 3) and picture.dtype == np.uint8
    with pytest.raises(GradCamError, match="has 120 images"):
        run_gradcam(run_dir, 500)
    with pytest.raises(GradCamError, match="no \\(H, W, C\\) maps"):
        run_gradcam(run_dir, 0, layer="dense")
    with pytest.raises(GradCamError, match="outside the model's 4 classes"):
        gradcam(open_run(run_dir).model, result["image"], 7)


def test_a_model_without_convolutions_is_one_message():
    from tapedeck.engine.model.build import build_model

    model = build_model(experiment(), (8, 8, 1), api="functional")
    with pytest.raises(GradCamError, match="needs a convolutional layer.*add a Conv2D"):
        gradcam(model, np.zeros((8, 8, 1), np.float32), 0)


def test_a_subclassed_model_gives_the_functional_models_map():
    from tapedeck.engine.model.build import build_model

    exp = experiment(LAYERS)
    functional = build_model(exp, (SIZE, SIZE, 1), api="functional")
    subclass = build_model(exp, (SIZE, SIZE, 1), api="subclassing")
    subclass.set_weights(functional.get_weights())
    image, _, _ = squares(1, np.random.default_rng(3))
    image = image[0, ..., np.newaxis] / 255.0
    ours, theirs = gradcam(subclass, image, 2), gradcam(functional, image, 2)
    assert ours.layer == theirs.layer == default_gradcam_layer(functional)
    np.testing.assert_allclose(ours.heatmap, theirs.heatmap, atol=1e-5)
    assert ours.probability == pytest.approx(float(functional(image[np.newaxis])[0, 2]), abs=1e-5)


def test_tapedeck_gradcam_prints_both_peaks_and_writes_the_picture(square_run, tmp_path, capsys):
    from PIL import Image

    from tapedeck.engine.cli.main import main

    run_dir, corners = square_run
    out = tmp_path / "cam.png"
    assert main(["gradcam", str(run_dir), "--index", "3", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("Grad-CAM at layer conv2d_1")
    top, left = corners[3]
    for line in lines[1:3]:
        row, col = (int(v) for v in line.replace(",", "").split()[-3::2])
        assert top <= row < top + SIDE and left <= col < left + SIDE, line
    with Image.open(out) as picture:
        assert picture.size[0] == 3 * picture.size[1]   # the image and the two heat maps side by side
    assert main(["gradcam", str(run_dir), "--index", "999"]) == 2
    assert "has 120 images" in capsys.readouterr().err


def test_a_backbone_is_the_default_layer_of_a_transfer_model():
    from tapedeck.engine.model.build import build_model
    from tests.engine.model.test_backbone import backbone_experiment

    model = build_model(backbone_experiment(), (8, 8, 1))
    assert default_gradcam_layer(model) == "backbone"
    result = gradcam(model, np.random.default_rng(0).random((8, 8, 1), dtype=np.float32), 3)
    assert result.layer == "backbone" and result.heatmap.shape == (8, 8)
    assert 0.0 <= result.heatmap.min() <= result.heatmap.max() <= 1.0
