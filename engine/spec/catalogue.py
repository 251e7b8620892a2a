"""The supported layers and their parameters: the one table behind checking, the GUI form and code export.

Parameter names, types and defaults are Keras's own constructor arguments (a test compares every entry
with ``inspect.signature`` of the Keras class), so a layer entry of an experiment maps 1:1 onto
``keras.layers.<type>(**params)``. Adding a layer type means adding one ``LayerType`` to ``_TYPES``.
No Keras import at module level: the window reads this table before TensorFlow has loaded.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.spec import backbones
from tapedeck.engine.text import is_number, shown

__all__ = [
    "Param", "LayerType", "GROUPS", "CATALOGUE", "ACTIVATIONS", "UnknownLayerTypeError",
    "layer_type", "check_params", "keras_kwargs", "make_layer", "non_default_params",
    "check_value", "normalize_value", "describe", "as_pairs",
]

GROUPS = ("core", "activation", "convolution", "pooling", "resizing", "normalization", "regularization",
          "augmentation", "merge", "pretrained")
# int_or_pairs: padding / cropping, an int, [rows, cols] or [[top, bottom], [left, right]];
# float_pair: exactly two numbers [low, high] (a value range).
KINDS = ("int", "float", "bool", "choice", "int_or_pair", "int_list", "float_or_pair", "int_or_none",
         "int_or_pairs", "float_pair")

# None means "no activation" (linear), as in Keras.
ACTIVATIONS = (None, "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "swish", "silu",
               "softplus", "softsign", "leaky_relu", "relu6", "mish", "hard_sigmoid", "exponential",
               "log_softmax", "linear")


@dataclass(frozen=True)
class Param:
    """One constructor argument. ``default`` is Keras's default, or for arguments Keras requires
    (``required=True``) the value the GUI pre-fills. None is allowed when the kind is ``int_or_none``,
    when None is one of ``choices``, or when Keras's default is None (e.g. pooling ``strides``)."""

    name: str
    kind: str
    default: object
    help: str
    min: float | None = None
    max: float | None = None
    max_exclusive: bool = False
    choices: tuple | None = None
    required: bool = False
    min_exclusive: bool = False  # beyond the contract: epsilon must be > 0, not ≥ 0

    @property
    def accepts_none(self) -> bool:
        if self.kind == "int_or_none":
            return True
        if self.kind == "choice":
            return None in (self.choices or ())
        return self.default is None and not self.required


@dataclass(frozen=True)
class LayerType:
    """A Keras layer class as the catalogue knows it; ``merge`` layers take 2+ inputs, ``spatial``
    layers need an (H, W, C) input."""

    name: str
    group: str
    help: str
    params: tuple = ()
    merge: bool = False
    spatial: bool = False
    # Merge layers Keras allows exactly two inputs for (Subtract, Dot); None: two or more.
    max_inputs: int | None = None
    # Constraints between parameters that Keras enforces in __init__: each takes the parameter values
    # (defaults filled in) and returns (parameter name, message) or None.
    rules: tuple = ()

    def param(self, name: str) -> Param | None:
        for param in self.params:
            if param.name == name:
                return param
        return None

    def initial_params(self) -> dict:
        """What a freshly added layer carries: its required parameters, JSON-ready (lists, not tuples)."""
        return {p.name: _to_json(p.default) for p in self.params if p.required}


class UnknownLayerTypeError(TapedeckError, KeyError):
    """A layer type the catalogue does not have; ``str()`` is a readable sentence, not a quoted repr."""

    def __init__(self, name):
        self.name = name
        close = difflib.get_close_matches(str(name), CATALOGUE, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known types: {_known_types()}"
        self.message = f"unknown layer type {name!r}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# --- parameter helpers: the same wording for every layer ----------------------------------------

def _activation(default=None, required=False, help_text="applied to the output; None means linear"):
    return Param("activation", "choice", default, help_text, choices=ACTIVATIONS, required=required)


_USE_BIAS = Param("use_bias", "bool", True, "add a learned bias to each output")
_PADDING = Param("padding", "choice", "valid", "'valid': no padding, output shrinks; 'same': output keeps "
                 "the input size (at stride 1)", choices=("valid", "same"))
_STRIDES = Param("strides", "int_or_pair", 1, "step of the window (int, or [rows, cols])", min=1)
_DILATION = Param("dilation_rate", "int_or_pair", 1, "spacing between kernel taps (int, or [rows, cols])",
                  min=1)
_SEED = Param("seed", "int_or_none", None, "random seed for this layer; None follows the global seed", min=0)
_FILL_MODE = Param("fill_mode", "choice", "reflect", "how points outside the image are filled",
                   choices=("reflect", "wrap", "constant", "nearest"))
_INTERPOLATION = Param("interpolation", "choice", "bilinear", "how pixels are resampled",
                       choices=("nearest", "bilinear"))
_FILL_VALUE = Param("fill_value", "float", 0.0, "value used outside the image when fill_mode is 'constant'")
_AXIS = Param("axis", "int", -1, "axis normalized; -1 is the channels (last) axis")
_EPSILON = Param("epsilon", "float", 0.001, "small number added to the variance to avoid division by zero",
                 min=0.0, min_exclusive=True)
_CENTER = Param("center", "bool", True, "learn an offset (beta) added after normalizing")
_SCALE = Param("scale", "bool", True, "learn a factor (gamma) multiplied after normalizing")


def _pairs(*values):
    return [(v, v) if isinstance(v, int) else tuple(v) for v in values]


def _stride_or_dilation(values):
    strides, dilation = _pairs(values["strides"], values["dilation_rate"])
    if max(strides) > 1 and max(dilation) > 1:
        return ("dilation_rate", f"must be 1 when strides is above 1 (Keras cannot combine them), "
                                 f"received {shown(values['dilation_rate'])} with strides "
                                 f"{shown(values['strides'])}; set one of them to 1")
    return None


def _groups_divide_filters(values):
    if values["filters"] % values["groups"]:
        return ("groups", f"must divide filters ({values['filters']}) evenly, received {values['groups']}")
    return None


def _output_padding_below_strides(values):
    if values["output_padding"] is None:
        return None
    padding, strides = _pairs(values["output_padding"], values["strides"])
    if any(p >= s for p, s in zip(padding, strides)):
        return ("output_padding", f"must be smaller than strides ({shown(values['strides'])}) on each axis, "
                                  f"received {shown(values['output_padding'])}; use 0, or raise strides")
    return None


def _groups_not_zero(values):
    if values["groups"] == 0:
        return ("groups", "must be a positive number of channel groups, or -1 for one group per channel; "
                          "received 0")
    return None


_CONV_RULES = (_stride_or_dilation,)


def _filters(default=32):
    return Param("filters", "int", default, "number of output channels (feature maps)", min=1, required=True)


def _kernel_size(default=3):
    return Param("kernel_size", "int_or_pair", default, "height and width of the convolution window "
                 "(int, or [rows, cols])", min=1, required=True)


def _rate(default=0.5):
    return Param("rate", "float", default, "fraction of inputs set to zero while training, in [0, 1)",
                 min=0.0, max=1.0, max_exclusive=True, required=True)


def _pool(name, keras_requires):
    verb = "maximum" if name.startswith("Max") else "average"
    return LayerType(name, "pooling", f"takes the {verb} over each window, shrinking height and width", (
        Param("pool_size", "int_or_pair", 2, "size of the window (int, or [rows, cols])", min=1,
              required=keras_requires),
        Param("strides", "int_or_pair", None, "step of the window; None means the pool size", min=1),
        _PADDING,
    ), spatial=True)


def _global_pool(name):
    verb = "maximum" if "Max" in name else "average"
    return LayerType(name, "pooling", f"one {verb} per channel over the whole image: (H, W, C) → (C,)", (
        Param("keepdims", "bool", False, "keep height and width as size 1: (1, 1, C)"),
    ), spatial=True)


def _factor(name, default, help_text, required=True, lo=-1.0, hi=1.0, lo_open=False):
    return Param(name, "float_or_pair", default, help_text, min=lo, max=hi, required=required,
                 min_exclusive=lo_open)


def _merge(name, help_text, params=(), max_inputs=None):
    return LayerType(name, "merge", help_text, tuple(params), merge=True, max_inputs=max_inputs)


def _height_width(what):
    return (Param("height", "int", 24, f"height of the {what}, in pixels", min=1, required=True),
            Param("width", "int", 24, f"width of the {what}, in pixels", min=1, required=True))


def _value_range():
    return Param("value_range", "float_pair", (0, 255), "the range the pixel values lie in, [low, high]: "
                 "[0, 255] for raw pixels, [0, 1] after Rescaling")


_TYPES = (
    # core
    LayerType("Dense", "core", "fully connected layer: every output sees every input", (
        Param("units", "int", 128, "number of outputs", min=1, required=True),
        _activation(), _USE_BIAS)),
    LayerType("Flatten", "core", "flattens each example to one vector, e.g. before Dense"),
    LayerType("Reshape", "core", "gives each example a new shape with the same number of values", (
        Param("target_shape", "int_list", (-1,), "new shape without the batch axis; one entry may be -1 "
              "(inferred)", min=1, required=True),)),
    LayerType("Activation", "core", "applies an activation function on its own", (
        _activation("relu", required=True, help_text="the function to apply"),)),
    LayerType("Rescaling", "core", "multiplies by scale and adds offset, e.g. 1/255 to map pixels to [0, 1]", (
        Param("scale", "float", 1 / 255, "factor each value is multiplied by", required=True),
        Param("offset", "float", 0.0, "value added after scaling"))),
    # activation (as layers of their own, with their own parameters)
    LayerType("ReLU", "activation", "max(x, 0), optionally capped and with a slope below the threshold", (
        Param("max_value", "float", None, "cap on the output; None means no cap", min=0.0),
        Param("negative_slope", "float", 0.0, "slope below the threshold (0 is plain ReLU)", min=0.0),
        Param("threshold", "float", 0.0, "values below it are scaled by negative_slope", min=0.0))),
    LayerType("LeakyReLU", "activation", "ReLU that lets a small slope through for negative inputs", (
        Param("negative_slope", "float", 0.3, "slope for negative inputs", min=0.0),)),
    LayerType("PReLU", "activation", "leaky ReLU whose negative slope is learned, one per value", (
        Param("shared_axes", "int_list", None, "axes sharing one slope, e.g. [1, 2] for one slope per "
              "channel of an image; None learns one per value", min=1),)),
    LayerType("ELU", "activation", "exponential linear unit: smooth for negative inputs, down to -alpha", (
        Param("alpha", "float", 1.0, "the value negative inputs tend to is -alpha"),)),
    LayerType("Softmax", "activation", "turns scores into probabilities that sum to 1 along an axis", (
        Param("axis", "int", -1, "axis the probabilities sum over; -1 is the last axis"),)),
    # convolution
    LayerType("Conv2D", "convolution", "2-D convolution: learns filters that slide over the image", (
        _filters(), _kernel_size(), _STRIDES, _PADDING, _DILATION,
        Param("groups", "int", 1, "split input channels into this many groups (must divide them)", min=1),
        _activation(), _USE_BIAS), spatial=True, rules=_CONV_RULES + (_groups_divide_filters,)),
    LayerType("SeparableConv2D", "convolution", "depthwise then pointwise convolution: fewer parameters "
              "than Conv2D", (
                  _filters(), _kernel_size(), _STRIDES, _PADDING, _DILATION,
                  Param("depth_multiplier", "int", 1, "depthwise outputs per input channel", min=1),
                  _activation(), _USE_BIAS), spatial=True, rules=_CONV_RULES),
    LayerType("DepthwiseConv2D", "convolution", "one filter per input channel, no mixing across channels", (
        _kernel_size(), _STRIDES, _PADDING,
        Param("depth_multiplier", "int", 1, "outputs per input channel", min=1),
        _DILATION, _activation(), _USE_BIAS), spatial=True, rules=_CONV_RULES),
    LayerType("Conv2DTranspose", "convolution", "transposed convolution: learns to upsample, e.g. in a "
              "decoder (strides 2 doubles height and width)", (
                  _filters(), _kernel_size(), _STRIDES, _PADDING,
                  Param("output_padding", "int_or_pair", None, "extra rows/columns on one side of the output, "
                        "below strides; None lets Keras infer it", min=0),
                  _DILATION, _activation(), _USE_BIAS), spatial=True,
              rules=_CONV_RULES + (_output_padding_below_strides,)),
    # pooling
    _pool("MaxPooling2D", keras_requires=False),
    _pool("AveragePooling2D", keras_requires=True),
    _global_pool("GlobalAveragePooling2D"),
    _global_pool("GlobalMaxPooling2D"),
    # resizing (no weights: the image's height and width change)
    LayerType("UpSampling2D", "resizing", "upsamples by repeating rows and columns: height and width grow by size", (
        Param("size", "int_or_pair", 2, "upsampling factor (int, or [rows, cols])", min=1),
        Param("interpolation", "choice", "nearest", "how new pixels are filled",
              choices=("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area"))), spatial=True),
    LayerType("ZeroPadding2D", "resizing", "adds rows and columns of zeros around the image", (
        Param("padding", "int_or_pairs", 1, "rows/columns added on each side: int, [rows, cols], or "
              "[[top, bottom], [left, right]]", min=0),), spatial=True),
    LayerType("Cropping2D", "resizing", "removes rows and columns at the image's edges", (
        Param("cropping", "int_or_pairs", 0, "rows/columns removed on each side: int, [rows, cols], or "
              "[[top, bottom], [left, right]]", min=0),), spatial=True),
    LayerType("Resizing", "resizing", "resizes images to a fixed height and width", (
        *_height_width("output"),
        Param("interpolation", "choice", "bilinear", "how pixels are resampled",
              choices=("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5")),
        Param("crop_to_aspect_ratio", "bool", False, "crop first so the image is not distorted"),
        Param("pad_to_aspect_ratio", "bool", False, "pad first so the image is not distorted"),
        Param("fill_mode", "choice", "constant", "how padded points are filled (with pad_to_aspect_ratio)",
              choices=("constant", "reflect", "wrap", "nearest")),
        _FILL_VALUE,
        Param("antialias", "bool", False, "smooth before shrinking, against aliasing")), spatial=True),
    LayerType("CenterCrop", "resizing", "crops the centre of each image to a fixed height and width", (
        *_height_width("crop"),), spatial=True),
    # normalization
    LayerType("BatchNormalization", "normalization", "normalizes each channel over the batch; speeds up "
              "training", (
                  _AXIS,
                  Param("momentum", "float", 0.99, "momentum of the moving mean and variance, in [0, 1)",
                        min=0.0, max=1.0, max_exclusive=True),
                  _EPSILON, _CENTER, _SCALE)),
    LayerType("LayerNormalization", "normalization", "normalizes each example over its last axis", (
        _AXIS, _EPSILON, _CENTER, _SCALE)),
    LayerType("GroupNormalization", "normalization", "normalizes groups of channels within each example; "
              "independent of the batch size", (
                  Param("groups", "int", 32, "number of channel groups; must divide the channels (-1: one "
                        "group per channel)", min=-1),
                  _AXIS, _EPSILON, _CENTER, _SCALE), rules=(_groups_not_zero,)),
    LayerType("UnitNormalization", "normalization", "scales each example to length 1 along an axis", (
        Param("axis", "int", -1, "axis normalized; -1 is the last axis"),)),
    # regularization
    LayerType("Dropout", "regularization", "randomly zeroes a fraction of inputs while training", (
        _rate(), _SEED)),
    LayerType("SpatialDropout2D", "regularization", "randomly zeroes whole channels while training", (
        _rate(), _SEED), spatial=True),
    LayerType("GaussianNoise", "regularization", "adds zero-mean Gaussian noise while training", (
        Param("stddev", "float", 0.1, "standard deviation of the noise, in [0, 1]", min=0.0, max=1.0,
              required=True), _SEED)),
    LayerType("GaussianDropout", "regularization", "multiplies by Gaussian noise of mean 1 while training", (
        Param("rate", "float", 0.2, "drop probability as in Dropout; the noise's stddev is sqrt(rate / "
              "(1 - rate)), in [0, 1)", min=0.0, max=1.0, max_exclusive=True, required=True), _SEED)),
    # augmentation (active only while training)
    LayerType("RandomFlip", "augmentation", "randomly flips images while training", (
        Param("mode", "choice", "horizontal_and_vertical", "which flips to apply",
              choices=("horizontal", "vertical", "horizontal_and_vertical")), _SEED), spatial=True),
    LayerType("RandomRotation", "augmentation", "randomly rotates images while training", (
        _factor("factor", 0.1, "rotation range as a fraction of a full turn: f means ±f·360°, or [low, high]"),
        _FILL_MODE, _INTERPOLATION, _SEED, _FILL_VALUE), spatial=True),
    LayerType("RandomZoom", "augmentation", "randomly zooms images while training", (
        _factor("height_factor", 0.1, "vertical zoom range as a fraction: f means ±f, or [low, high]; "
                "positive zooms out", lo_open=True),
        _factor("width_factor", None, "horizontal zoom range; None keeps the aspect ratio", required=False,
                lo_open=True),
        _FILL_MODE, _INTERPOLATION, _SEED, _FILL_VALUE), spatial=True),
    LayerType("RandomTranslation", "augmentation", "randomly shifts images while training", (
        _factor("height_factor", 0.1, "vertical shift range as a fraction of the height: f means ±f, "
                "or [low, high]"),
        _factor("width_factor", 0.1, "horizontal shift range as a fraction of the width: f means ±f, "
                "or [low, high]"),
        _FILL_MODE, _INTERPOLATION, _SEED, _FILL_VALUE), spatial=True),
    LayerType("RandomCrop", "augmentation", "crops a random window of each image while training; the "
              "centre at inference", (*_height_width("crop"), _SEED), spatial=True),
    LayerType("RandomContrast", "augmentation", "randomly changes the contrast while training", (
        _factor("factor", 0.2, "contrast changes by a random factor in [1 - f, 1 + f], or [low, high]",
                lo=0.0), _value_range(), _SEED), spatial=True),
    LayerType("RandomBrightness", "augmentation", "randomly brightens or darkens images while training", (
        _factor("factor", 0.2, "brightness shift as a fraction of the value range: f means ±f, "
                "or [low, high]"), _value_range(), _SEED), spatial=True),
    # merge
    _merge("Add", "adds its inputs element-wise (all the same shape), e.g. a residual connection"),
    _merge("Concatenate", "joins its inputs along an axis (other axes must match)", (
        Param("axis", "int", -1, "axis to join along; -1 is the channels (last) axis"),)),
    _merge("Average", "averages its inputs element-wise (all the same shape)"),
    _merge("Multiply", "multiplies its inputs element-wise (all the same shape)"),
    _merge("Maximum", "element-wise maximum of its inputs (all the same shape)"),
    _merge("Minimum", "element-wise minimum of its inputs (all the same shape)"),
    _merge("Subtract", "first input minus the second, element-wise (exactly two, the same shape)",
           max_inputs=2),
    _merge("Dot", "dot product of two inputs along axes, e.g. the similarity of two feature vectors", (
        Param("axes", "int_or_pair", -1, "axis of each input to multiply and sum over (int, or one per "
              "input)", required=True),
        Param("normalize", "bool", False, "scale each input to length 1 first: the result is the cosine "
              "similarity")), max_inputs=2),
)

CATALOGUE: dict[str, LayerType] = {t.name: t for t in (*_TYPES, backbones.catalogue_entry(Param, LayerType))}


def _known_types(shown_at_most: int = 12) -> str:
    """The catalogue's types for a message: the first few, then how many more (all 45 names made
    a 1,000-character line)."""
    names = list(CATALOGUE)
    if len(names) <= shown_at_most:
        return ", ".join(names)
    return f"{', '.join(names[:shown_at_most])} and {len(names) - shown_at_most} more (the layer palette lists them)"


def layer_type(name) -> LayerType:
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        raise UnknownLayerTypeError(name) from None


# --- values ------------------------------------------------------------------------------------------

def _to_json(value):
    """Tuples become lists, as they do in the JSON file."""
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value



def _to_tuple(value):
    """Lists become tuples, nested ones too (cropping's [[top, bottom], [left, right]])."""
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range_words(param: Param, integer: bool) -> str:
    lo = None if param.min is None else f"{param.min:g}"
    hi = None if param.max is None else f"{param.max:g}"
    noun = "integer" if integer else "number"
    if hi is None:
        if lo is None:
            return f"an {noun}" if integer else "a number"
        if integer and lo == "1":
            return "a positive integer"
        if lo == "0" and not param.min_exclusive:
            return f"a non-negative {noun}" if integer else "a number ≥ 0"
        return f"{'an' if integer else 'a'} {noun} {'>' if param.min_exclusive else '≥'} {lo}"
    if lo is None:
        return f"{'an' if integer else 'a'} {noun} {'<' if param.max_exclusive else '≤'} {hi}"
    close = ")" if param.max_exclusive else "]"
    return f"{'an' if integer else 'a'} {noun} in {'(' if param.min_exclusive else '['}{lo}, {hi}{close}"


def _in_range(param: Param, value) -> bool:
    if param.min is not None and (value <= param.min if param.min_exclusive else value < param.min):
        return False
    if param.max is not None and (value >= param.max if param.max_exclusive else value > param.max):
        return False
    return True


def describe(param: Param) -> str:
    """What the parameter accepts, in the words the error messages use."""
    none = " or null" if param.accepts_none and param.kind != "choice" else ""
    if param.kind == "int" or param.kind == "int_or_none":
        return _range_words(param, True) + none
    if param.kind == "float":
        return _range_words(param, False) + none
    if param.kind == "bool":
        return "true or false"
    if param.kind == "choice":
        return "one of " + ", ".join(shown(c) for c in param.choices)
    if param.kind == "int_or_pair":
        return f"{_range_words(param, True)} or a pair [rows, cols] of them{none}"
    if param.kind == "float_or_pair":
        return f"{_range_words(param, False)} or a pair [low, high] of them{none}"
    if param.kind == "int_list":
        return f"a non-empty list of positive integers (one may be -1){none}"
    if param.kind == "int_or_pairs":
        return (f"{_range_words(param, True)}, a pair [rows, cols] of them, or [[top, bottom], "
                f"[left, right]]{none}")
    if param.kind == "float_pair":
        return "a pair [low, high] of numbers with low < high"
    raise ValueError(f"catalogue: unknown parameter kind {param.kind!r}")


def _value_ok(param: Param, value) -> bool:
    if value is None:
        return param.accepts_none
    kind = param.kind
    if kind in ("int", "int_or_none"):
        return _is_int(value) and _in_range(param, value)
    if kind == "float":
        return is_number(value) and _in_range(param, value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "choice":
        return any(value == c and type(value) is type(c) for c in param.choices)
    if kind == "int_or_pair":
        items = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and len(value) != 2:
            return False
        return all(_is_int(v) and _in_range(param, v) for v in items)
    if kind == "float_or_pair":
        items = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and len(value) != 2:
            return False
        return all(is_number(v) and _in_range(param, v) for v in items)
    if kind == "int_list":
        if not isinstance(value, (list, tuple)) or not value or not all(_is_int(v) for v in value):
            return False
        return all(v >= 1 or v == -1 for v in value) and sum(v == -1 for v in value) <= 1
    if kind == "int_or_pairs":
        return _pairs_ok(param, value)
    if kind == "float_pair":
        return (isinstance(value, (list, tuple)) and len(value) == 2 and all(is_number(v) for v in value)
                and value[0] < value[1])
    raise ValueError(f"catalogue: unknown parameter kind {kind!r}")


def _pairs_ok(param: Param, value) -> bool:
    if _is_int(value):
        return _in_range(param, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return False
    if all(_is_int(v) for v in value):
        return all(_in_range(param, v) for v in value)
    return all(isinstance(pair, (list, tuple)) and len(pair) == 2 and all(_is_int(v) and _in_range(param, v)
                                                                         for v in pair) for pair in value)


def check_value(param: Param, value, path: str) -> str | None:
    """One problem sentence ("path: expected …, received …"), or None when the value is fine."""
    if _value_ok(param, value):
        return None
    return f"{path}: expected {describe(param)}, received {shown(value)}"


def check_params(spec, path: str) -> list[str]:
    """Every problem with ``spec.params`` for its layer type: unknown names, missing required ones,
    wrong types, out-of-range values. ``path`` is where the layer lives, e.g. ``model.layers[3]``."""
    try:
        kind = layer_type(spec.type)
    except UnknownLayerTypeError as error:
        return [f"{path}.type: {error}"]
    problems = []
    params = spec.params or {}
    for name, value in params.items():
        param = kind.param(name)
        if param is None:
            known = ", ".join(p.name for p in kind.params) or "none"
            close = difflib.get_close_matches(str(name), [p.name for p in kind.params], n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"{kind.name} takes: {known}"
            problems.append(f"{path}.{name}: unknown parameter for {kind.name}; {hint}")
            continue
        problem = check_value(param, value, f"{path}.{name}")
        if problem:
            problems.append(problem)
    for param in kind.params:
        if param.required and param.name not in params:
            problems.append(f"{path}.{param.name}: missing; {kind.name} needs {param.name} "
                            f"(for example {shown(_to_json(param.default))})")
    if not problems:
        values = {p.name: params.get(p.name, p.default) for p in kind.params}
        for rule in kind.rules:
            found = rule(values)
            if found:
                problems.append(f"{path}.{found[0]}: {found[1]}")
    return problems


def normalize_value(param: Param, value):
    """The value as Keras sees it, for comparisons: ints become int pairs, lists become tuples."""
    if value is None:
        return None
    if param.kind == "int_or_pair":
        return (value, value) if _is_int(value) else tuple(value)
    if param.kind == "float_or_pair":
        return tuple(float(v) for v in value) if isinstance(value, (list, tuple)) else float(value)
    if param.kind == "int_list":
        return tuple(value)
    if param.kind == "int_or_pairs":
        return as_pairs(value)
    if param.kind == "float_pair":
        return tuple(float(v) for v in value)
    if param.kind == "float":
        return float(value)
    return value


def as_pairs(value) -> tuple:
    """Padding or cropping as Keras stores it: ((top, bottom), (left, right))."""
    if _is_int(value):
        return (value, value), (value, value)
    if all(_is_int(v) for v in value):
        return (value[0], value[0]), (value[1], value[1])
    return tuple(tuple(pair) for pair in value)


def keras_kwargs(spec, name) -> dict:
    """Constructor arguments for ``keras.layers.<type>``: lists as tuples, plus the layer ``name``."""
    kind = layer_type(spec.type)
    kwargs = {}
    for key, value in (spec.params or {}).items():
        param = kind.param(key)
        kwargs[key] = _to_tuple(value) if isinstance(value, list) and param is not None else value
    kwargs["name"] = name
    if not getattr(spec, "trainable", True):
        kwargs["trainable"] = False   # Keras's own switch: the weights become non-trainable
    return kwargs


def make_layer(spec, name, **extra):
    """The Keras layer for ``spec`` (``extra``: arguments the builder adds, e.g. the output's dtype).
    Imports Keras there (``backbones.keras_class``), so the catalogue itself stays light."""
    return backbones.keras_class(spec.type)(**keras_kwargs(spec, name), **extra)


def non_default_params(spec) -> dict:
    """Parameters worth writing in exported code: required ones (Keras has no default for them) and
    those that differ from Keras's default. Values keep their JSON form."""
    kind = layer_type(spec.type)
    result = {}
    for key, value in (spec.params or {}).items():
        param = kind.param(key)
        if param is None or param.required:
            result[key] = value
        elif normalize_value(param, value) != normalize_value(param, param.default):
            result[key] = value
    return result
