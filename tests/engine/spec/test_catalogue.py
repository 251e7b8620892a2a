"""The catalogue is trusted by checking, the GUI form and code export: every entry is compared here
with the real Keras class (argument names, defaults, required-ness) and built with real values."""
import inspect

import pytest

from tapedeck.engine.spec import catalogue as C  # noqa: N812 — short, used on every line
from tapedeck.engine.spec.backbones import keras_class
from tapedeck.engine.spec.experiment import LayerSpec

keras = pytest.importorskip("keras")

ISSUE_LAYERS = {
    "Dense", "Conv2D", "SeparableConv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Reshape", "Dropout", "SpatialDropout2D",
    "BatchNormalization", "LayerNormalization", "Activation", "Rescaling", "RandomFlip", "RandomRotation",
    "RandomZoom", "RandomTranslation", "Add", "Concatenate", "Average", "Multiply",
    # issue 15
    "Conv2DTranspose", "UpSampling2D", "ZeroPadding2D", "Cropping2D", "LeakyReLU", "PReLU", "ReLU", "ELU",
    "Softmax", "GaussianNoise", "GaussianDropout", "Resizing", "CenterCrop", "RandomCrop", "RandomContrast",
    "RandomBrightness", "GroupNormalization", "UnitNormalization", "Subtract", "Minimum", "Dot",
}
TYPES = list(C.CATALOGUE.values())
IDS = [t.name for t in TYPES]


def _alternative(param):
    """A valid value different from the default, to prove the argument reaches Keras as meant."""
    if param.kind == "bool":
        return not param.default
    if param.kind == "choice":
        return next(c for c in param.choices if c != param.default and c is not None)
    if param.kind in ("int", "int_or_none"):
        base = param.default if isinstance(param.default, int) else (param.min or 0)
        return base + 1 if param.max is None or base + 1 <= param.max else base - 1
    if param.kind == "float":
        lo = param.min if param.min is not None else 0.0
        hi = param.max if param.max is not None else lo + 1.0
        return round(lo + (hi - lo) * 0.37, 4)
    if param.kind == "int_or_pair":
        return [2, 3]
    if param.kind == "float_or_pair":
        return [-0.2, 0.3] if param.min is None or param.min < -0.2 else [0.1, 0.3]
    if param.kind == "int_list":
        return [4, -1] if param.default is not None else [1, 2]
    if param.kind == "int_or_pairs":
        return [[1, 2], [0, 3]]
    if param.kind == "float_pair":
        return [-1.0, 1.0]
    raise AssertionError(param.kind)


# Values that a single changed parameter can take without breaking a rule between parameters.
SPECIAL_ALTERNATIVES = {("Conv2DTranspose", "output_padding"): 0, ("Backbone", "weights"): None}


def test_catalogue_covers_the_issue_layers_with_known_groups_and_kinds():
    assert ISSUE_LAYERS <= set(C.CATALOGUE)
    for kind in TYPES:
        assert kind.group in C.GROUPS, kind.name
        assert kind.help and "\n" not in kind.help
        assert kind.merge == (kind.group == "merge")
        names = [p.name for p in kind.params]
        assert len(names) == len(set(names)), kind.name
        for param in kind.params:
            assert param.kind in C.KINDS, (kind.name, param.name)
            assert param.help and "\n" not in param.help
            assert C.check_value(param, param.default, "x") is None or param.required is False
            if param.kind == "choice":
                assert param.default in param.choices


@pytest.mark.parametrize("kind", TYPES, ids=IDS)
def test_param_names_defaults_and_required_match_keras(kind):
    signature = inspect.signature(keras_class(kind.name).__init__).parameters
    for param in kind.params:
        assert param.name in signature, f"{kind.name}.{param.name} is not a Keras argument"
        keras_default = signature[param.name].default
        keras_requires = keras_default is inspect.Parameter.empty
        assert param.required == keras_requires, f"{kind.name}.{param.name} required-ness"
        if not keras_requires:
            assert C.normalize_value(param, param.default) == C.normalize_value(param, keras_default), \
                f"{kind.name}.{param.name}: catalogue default {param.default!r}, Keras {keras_default!r}"
        else:
            assert C.check_value(param, param.default, "x") is None, f"{kind.name}.{param.name} pre-fill"


@pytest.mark.parametrize("kind", TYPES, ids=IDS)
def test_every_entry_builds_with_defaults_and_with_each_parameter_changed(kind):
    spec = LayerSpec(kind.name, kind.initial_params())
    assert C.check_params(spec, "layer") == []
    layer = C.make_layer(spec, "probe")
    assert type(layer).__name__ == kind.name and layer.name == "probe"
    for param in kind.params:
        key = (kind.name, param.name)
        value = SPECIAL_ALTERNATIVES[key] if key in SPECIAL_ALTERNATIVES else _alternative(param)
        spec = LayerSpec(kind.name, {**kind.initial_params(), param.name: value})
        assert C.check_params(spec, "layer") == [], (param.name, value)
        config = C.make_layer(spec, "probe").get_config()
        assert C.normalize_value(param, config[param.name]) == C.normalize_value(param, value), param.name


@pytest.mark.parametrize("kind", [t for t in TYPES if any(p.kind == "choice" for p in t.params)
                                  and t.name != "Activation"], ids=lambda t: t.name)
def test_every_choice_is_accepted_by_keras(kind):
    for param in kind.params:
        if param.kind != "choice" or param.name == "activation":
            continue
        for choice in param.choices:
            C.make_layer(LayerSpec(kind.name, {**kind.initial_params(), param.name: choice}), "probe")


def test_every_activation_choice_is_a_keras_activation():
    for name in C.ACTIVATIONS:
        assert callable(keras.activations.get(name)), name
        C.make_layer(LayerSpec("Activation", {"activation": name or "linear"}), "probe")


def test_pairs_and_lists_reach_keras_as_tuples():
    spec = LayerSpec("Conv2D", {"filters": 4, "kernel_size": [3, 5], "strides": [1, 2]})
    kwargs = C.keras_kwargs(spec, "c")
    assert kwargs == {"filters": 4, "kernel_size": (3, 5), "strides": (1, 2), "name": "c"}
    layer = C.make_layer(LayerSpec("Reshape", {"target_shape": [2, -1]}), "r")
    assert layer.target_shape == (2, -1)


def test_unknown_type_is_a_keyerror_with_a_sentence():
    with pytest.raises(KeyError) as info:
        C.layer_type("Dens")
    assert str(info.value) == "unknown layer type 'Dens'; did you mean 'Dense'?"
    assert "known types: Dense" in str(C.UnknownLayerTypeError("Zzzzzz"))
    assert C.check_params(LayerSpec("Dens"), "model.layers[0]") == [
        "model.layers[0].type: unknown layer type 'Dens'; did you mean 'Dense'?"]


@pytest.mark.parametrize("type_, params, expected", [
    ("Dense", {"units": -5}, "m.units: expected a positive integer, received -5"),
    ("Dense", {"units": 0}, "m.units: expected a positive integer, received 0"),
    ("Dense", {"units": True}, "m.units: expected a positive integer, received true"),
    ("Dense", {"units": 3.0}, "m.units: expected a positive integer, received 3.0"),
    ("Dense", {"units": "10"}, 'm.units: expected a positive integer, received "10"'),
    ("Dense", {"units": 8, "activation": "rleu"}, "m.activation: expected one of null, \"relu\""),
    ("Dense", {"units": 8, "use_bias": 1}, "m.use_bias: expected true or false, received 1"),
    ("Dense", {"units": 8, "unit": 3}, "m.unit: unknown parameter for Dense; did you mean 'units'?"),
    ("Dense", {"units": 8, "zzz": 3}, "m.zzz: unknown parameter for Dense; Dense takes: units, activation, "
                                      "use_bias"),
    ("Dense", {}, "m.units: missing; Dense needs units (for example 128)"),
    ("Dropout", {"rate": 1.0}, "m.rate: expected a number in [0, 1), received 1.0"),
    ("Dropout", {"rate": -0.1}, "m.rate: expected a number in [0, 1), received -0.1"),
    ("Dropout", {"rate": float("nan")}, "m.rate: expected a number in [0, 1), received NaN"),
    ("Dropout", {"rate": 0.5, "seed": -1}, "m.seed: expected a non-negative integer or null, received -1"),
    ("Conv2D", {"filters": 8, "kernel_size": 0}, "m.kernel_size: expected a positive integer or a pair"),
    ("Conv2D", {"filters": 8, "kernel_size": [3, 3, 3]}, "m.kernel_size: expected a positive integer or a pair"),
    ("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "full"}, 'm.padding: expected one of "valid", '
                                                                    '"same", received "full"'),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 4}, "m.groups: must divide filters (6) evenly"),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
     "m.dilation_rate: must be 1 when strides is above 1"),
    ("DepthwiseConv2D", {"kernel_size": 3, "strides": [1, 2], "dilation_rate": [2, 1]},
     "m.dilation_rate: must be 1 when strides is above 1"),
    ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": None}, "m.strides: expected a positive integer"),
    ("BatchNormalization", {"momentum": 1}, "m.momentum: expected a number in [0, 1), received 1"),
    ("BatchNormalization", {"epsilon": 0}, "m.epsilon: expected a number > 0, received 0"),
    ("Reshape", {"target_shape": [-1, -1]}, "m.target_shape: expected a non-empty list of positive integers"),
    ("Reshape", {"target_shape": []}, "m.target_shape: expected a non-empty list"),
    ("Reshape", {"target_shape": 12}, "m.target_shape: expected a non-empty list"),
    ("RandomZoom", {"height_factor": -1.0}, "m.height_factor: expected a number in (-1, 1] or a pair"),
    ("RandomRotation", {"factor": [0.1, 2]}, "m.factor: expected a number in [-1, 1] or a pair"),
    ("RandomRotation", {"factor": [0.1]}, "m.factor: expected a number in [-1, 1] or a pair"),
    ("RandomTranslation", {"height_factor": 0.1}, "m.width_factor: missing; RandomTranslation needs "
                                                  "width_factor (for example 0.1)"),
    ("RandomFlip", {"mode": "diagonal"}, 'm.mode: expected one of "horizontal", "vertical"'),
    ("Flatten", {"units": 3}, "m.units: unknown parameter for Flatten; Flatten takes: none"),
])
def test_check_params_names_the_key_and_what_was_expected(type_, params, expected):
    problems = C.check_params(LayerSpec(type_, params), "m")
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_check_params_reports_every_problem_of_a_layer():
    problems = C.check_params(LayerSpec("Conv2D", {"kernel_size": -1, "padding": 1, "colour": 2}), "L")
    assert [p.split(":")[0] for p in problems] == ["L.kernel_size", "L.padding", "L.colour", "L.filters"]


def test_none_is_accepted_only_where_keras_takes_it():
    assert C.check_params(LayerSpec("MaxPooling2D", {"strides": None}), "m") == []
    assert C.check_params(LayerSpec("Dense", {"units": 4, "activation": None}), "m") == []
    assert C.check_params(LayerSpec("RandomZoom", {"height_factor": 0.2, "width_factor": None}), "m") == []
    assert C.check_params(LayerSpec("Dense", {"units": None}), "m") != []
    assert C.check_params(LayerSpec("Dense", {"units": 4, "use_bias": None}), "m") != []


def test_non_default_params_keeps_required_and_changed_values_only():
    spec = LayerSpec("Conv2D", {"filters": 32, "kernel_size": 3, "strides": [1, 1], "padding": "same",
                                "activation": None, "use_bias": True})
    assert C.non_default_params(spec) == {"filters": 32, "kernel_size": 3, "padding": "same"}
    assert C.non_default_params(LayerSpec("MaxPooling2D", {"pool_size": [2, 2]})) == {}
    assert C.non_default_params(LayerSpec("MaxPooling2D", {"pool_size": 3})) == {"pool_size": 3}
    assert C.non_default_params(LayerSpec("Dropout", {"rate": 0.5})) == {"rate": 0.5}


def test_initial_params_are_json_ready():
    assert C.layer_type("Reshape").initial_params() == {"target_shape": [-1]}
    assert C.layer_type("Dense").initial_params() == {"units": 128}
    assert C.layer_type("Flatten").initial_params() == {}


@pytest.mark.parametrize("type_, params, expected", [
    ("Cropping2D", {"cropping": [[1, 2], [3]]}, "m.cropping: expected a non-negative integer, a pair [rows, cols]"),
    ("ZeroPadding2D", {"padding": -1}, "m.padding: expected a non-negative integer"),
    ("RandomContrast", {"factor": 1.5}, "m.factor: expected a number in [0, 1] or a pair"),
    ("RandomBrightness", {"factor": 0.2, "value_range": [1, 0]}, "m.value_range: expected a pair [low, high] "
                                                                 "of numbers with low < high, received [1, 0]"),
    ("GaussianNoise", {"stddev": 2.0}, "m.stddev: expected a number in [0, 1], received 2.0"),
    ("ReLU", {"negative_slope": -0.1}, "m.negative_slope: expected a number ≥ 0, received -0.1"),
    ("GroupNormalization", {"groups": 0}, "m.groups: must be a positive number of channel groups"),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "output_padding": 2},
     "m.output_padding: must be smaller than strides (2) on each axis, received 2"),
    ("Dot", {}, "m.axes: missing; Dot needs axes (for example -1)"),
])
def test_new_layer_types_name_the_key_and_what_was_expected(type_, params, expected):
    problems = C.check_params(LayerSpec(type_, params), "m")
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_padding_and_cropping_reach_keras_as_pairs_of_pairs():
    spec = LayerSpec("Cropping2D", {"cropping": [[1, 2], [3, 4]]})
    assert C.make_layer(spec, "c").cropping == ((1, 2), (3, 4))
    assert C.normalize_value(C.layer_type("ZeroPadding2D").param("padding"), [1, 2]) == ((1, 1), (2, 2))
