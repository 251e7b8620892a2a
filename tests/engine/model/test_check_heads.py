"""The check of models with several inputs and heads: every new message has its own test."""
import numpy as np

from tapedeck.engine.data.targets import Feeds
from tapedeck.engine.model.check import check
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.spec.heads import HeadSpec, InputSpec


def _two_heads(api="functional"):
    experiment = load_preset("digits_two_heads_functional")
    experiment.model.api = api
    return experiment


def _feeds(**extra_shapes):
    return Feeds({"x": (8, 8, 1), **extra_shapes},
                 {"label": ("classes", [str(i) for i in range(10)], 10, False),
                  "parity": ("classes", ["even", "odd"], 2, True), "age": ("values", [], 1, False)})


def _rows(report):
    return {layer.name: layer.problems for layer in report.layers}


def test_the_two_head_preset_checks_and_prints_its_inputs_and_heads():
    report = check(_two_heads(), (8, 8, 1), 10)
    assert report.ok, report.all_problems()
    table = report.format_table()
    assert "Inputs: image (8, 8, 1)" in table
    assert "Head parity: (2,), loss sparse_categorical_crossentropy × 0.5, target parity (2 classes, derived)" in table


def test_sequential_with_two_heads_is_refused_with_the_tutorials_reason():
    report = check(_two_heads("sequential"), (8, 8, 1), 10)
    assert any("The Functional API exists for models with several inputs and several outputs" in p
               for p in report.problems)


def test_a_head_whose_width_differs_from_its_targets_classes():
    experiment = _two_heads()
    experiment.model.layers[-1].params["units"] = 3
    problems = _rows(check(experiment, (8, 8, 1), 10, feeds=_feeds()))["parity"]
    assert any("outputs 3 values per example, but target 'parity' has 2 classes" in p for p in problems), problems


def test_a_target_the_data_does_not_hold():
    experiment = _two_heads()
    experiment.model.outputs[1].target = "colour"
    report = check(experiment, (8, 8, 1), 10, feeds=_feeds())
    assert any("target 'colour' is not in this data set (it has: label, parity, age)" in p
               for p in report.all_problems())


def test_a_regression_loss_on_class_labels_and_the_reverse():
    experiment = _two_heads()
    experiment.model.outputs[1].loss = "mean_squared_error"
    assert any("loss mean_squared_error is for numbers, but target 'parity' holds class labels" in p
               for p in check(experiment, (8, 8, 1), 10, feeds=_feeds()).all_problems())
    experiment.model.outputs[1] = HeadSpec(layer="parity", target="age")
    assert any("is for class labels, but target 'age' holds numbers" in p
               for p in check(experiment, (8, 8, 1), 10, feeds=_feeds()).all_problems())


def test_a_regression_head_needs_one_linear_unit_per_value():
    experiment = _two_heads()
    experiment.model.outputs[1] = HeadSpec(layer="parity", target="age", loss="mean_squared_error")
    problems = check(experiment, (8, 8, 1), 10, feeds=_feeds()).all_problems()
    assert any("target 'age' has 1 value(s) per example; end the head with a Dense with units=1" in p
               for p in problems), problems
    experiment.model.layers[-1].params.update(units=1, activation="linear")
    assert check(experiment, (8, 8, 1), 10, feeds=_feeds()).ok


def test_an_input_no_layer_uses_and_an_input_whose_data_is_missing():
    experiment = _two_heads()
    experiment.model.inputs.append(InputSpec("extra", "x_extra"))
    report = check(experiment, (8, 8, 1), 10, feeds=_feeds(x_extra=(5,)))
    assert any("input 'extra' is not used by any layer" in p for p in report.problems)
    report = check(experiment, (8, 8, 1), 10, feeds=_feeds())
    assert any("input 'extra' reads data 'x_extra', which this data set does not hold (it has: x)" in p
               for p in report.problems)


def test_a_head_naming_no_layer():
    experiment = _two_heads()
    experiment.model.outputs[1].layer = "partiy"
    assert any("head 'partiy' is not a layer name" in p for p in check(experiment, (8, 8, 1), 10).problems)


def test_a_layer_that_reaches_no_head_is_a_warning_not_an_error():
    experiment = _two_heads()
    from tapedeck.engine.spec.experiment import LayerSpec

    experiment.model.layers.append(LayerSpec("Dense", {"units": 4}, name="loose", inputs=["trunk"]))
    report = check(experiment, (8, 8, 1), 10)
    assert report.ok
    assert report.warnings == ["layer 9 'loose' reaches no head, so nothing trains it; connect it to a head "
                               "or remove it"]
    assert "warning: layer 9 'loose'" in report.format_table()


def test_a_two_input_model_infers_shapes_through_both_inputs():
    experiment = _two_heads()
    from tapedeck.engine.spec.experiment import LayerSpec

    experiment.model.inputs.append(InputSpec("extra", "x_extra"))
    experiment.model.layers[4:4] = [LayerSpec("Dense", {"units": 8}, name="extra_dense", inputs=["extra"]),
                                    LayerSpec("Concatenate", {}, name="joined", inputs=["trunk", "extra_dense"])]
    experiment.model.layers[6].inputs = ["joined"]
    report = check(experiment, (8, 8, 1), 10, feeds=_feeds(x_extra=(5,)))
    assert report.ok, report.all_problems()
    shapes = {layer.name: layer.output_shape for layer in report.layers}
    assert shapes["extra_dense"] == (8,) and shapes["joined"] == (1032,)
    assert report.inputs == {"image": (8, 8, 1), "extra": (5,)}
    assert np.isfinite(report.trainable)


def test_early_stopping_on_a_figure_no_head_has():
    experiment = _two_heads()
    experiment.training.early_stopping_monitor = "val_colour_accuracy"
    assert any("'val_colour_accuracy' is not a figure of this model; a head's figures are val_digit_loss" in p
               for p in check(experiment, (8, 8, 1), 10).problems)
    experiment.training.early_stopping_monitor = "val_parity_accuracy"
    assert check(experiment, (8, 8, 1), 10).ok
