"""A several-head run reopened: every head predicted in one pass, each head's counts equal metrics.json's."""
import json
import warnings

import numpy as np
import pytest

from tapedeck.engine.analysis.heads import HeadAnalysis
from tapedeck.engine.analysis.reopen import SINGLE_HEAD, AnalysisError, open_run
from tests.support.run_support import trained_run, two_head_run


@pytest.fixture(scope="module")
def analysed():
    return open_run(two_head_run())


def test_each_head_matches_the_runs_own_test_figures(analysed):
    test = json.loads((analysed.run_dir / "metrics.json").read_text())["test"]
    assert analysed.head_names == ["digit", "parity"] == list(test["heads"])
    for name in analysed.head_names:
        head = analysed.head(name)
        saved = test["heads"][name]
        assert head.confusion().tolist() == saved["confusion"]
        assert head.accuracy == pytest.approx(saved["accuracy"])
        assert head.class_names == saved["class_names"]
        assert [r.recall or 0.0 for r in head.class_table()] == pytest.approx(saved["recall"])
    parity = analysed.head("parity")
    assert parity.target == "parity" and parity.class_names == ["even", "odd"]
    assert parity.probabilities.shape == (len(analysed.dataset.y_test), 2)
    # parity is the digit's parity: the two heads read the same test images in the same order
    assert np.array_equal(parity.true_labels, analysed.head("digit").true_labels % 2)


def test_the_main_fields_are_the_first_classification_heads(analysed):
    assert analysed.main_head == "digit" and analysed.head() is analysed.head("digit")
    assert analysed.confusion().tolist() == analysed.head("digit").confusion().tolist()
    wrong = analysed.head("parity").most_confidently_wrong(3)
    assert all(e.true_label != e.predicted_label for e in wrong)
    with pytest.raises(AnalysisError, match="no head 'colour'.*digit, parity"):
        analysed.head("colour")


def test_a_one_head_run_has_one_head_with_its_own_figures():
    analysed = open_run(trained_run())
    assert analysed.head_names == [SINGLE_HEAD] and not analysed.heads
    head = analysed.head()
    assert head.confusion().tolist() == analysed.confusion().tolist()
    assert head.class_names == analysed.class_names


def test_a_regression_head_has_values_and_mae_not_a_confusion():
    head = HeadAnalysis("age", "age", "values", true=np.array([1.0, 2.0, 4.0]),
                        values=np.array([[1.5], [2.0], [3.0]]))
    assert head.regression and head.accuracy is None
    assert head.mae == pytest.approx((0.5 + 0 + 1) / 3)
    assert head.errors()[:, 0].tolist() == [0.5, 0.0, -1.0]


def test_gradcam_of_each_head_of_a_two_head_run():
    from tapedeck.engine.analysis.gradcam import GradCamError, run_gradcam

    digit = run_gradcam(two_head_run(), 3)                   # the first head: digit's 10 classes
    assert digit["class_names"] == [str(i) for i in range(10)]
    assert digit["predicted"].heatmap.shape == (8, 8) and 0.0 <= digit["predicted"].heatmap.min()
    parity = run_gradcam(two_head_run(), 3, head="parity")
    assert parity["class_names"] == ["even", "odd"] and parity["true"] is not None
    assert 0.0 <= parity["predicted"].probability <= 1.0
    with pytest.raises(GradCamError, match="outside the model's 2 classes"):
        run_gradcam(two_head_run(), 3, class_index=4, head="parity")


def test_own_input_on_a_two_head_model_reads_the_first_head(analysed):
    from tapedeck.engine.analysis.own_input import predict_one

    image = analysed.dataset.x_test[:1]
    with warnings.catch_warnings():   # fed as the dict the model was built for: no Keras structure warning
        warnings.simplefilter("error", UserWarning)
        probabilities = predict_one(analysed.model, analysed.experiment.training, image)
    assert probabilities.shape == (10,) and probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert probabilities == pytest.approx(analysed.head("digit").probabilities[0], abs=1e-5)
