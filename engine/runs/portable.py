"""The exports that leave TensorFlow (ONNX) or run without it (TensorFlow Lite), checked in the runtime
people will load them with before they are written.

- ONNX: ``tf2onnx.convert.from_function`` over a ``tf.function`` of the inference model with an input
  signature. ``tf2onnx.convert.from_keras`` cannot be used: with Keras 3 it fails with
  ``KeyError: 'keras_tensor_…'``.
- Verification: the exported bytes are loaded in onnxruntime, or in LiteRT's interpreter
  (``ai_edge_litert.interpreter.Interpreter``; TF 2.21's ``tf.lite.Interpreter`` warns that it is
  deprecated and scheduled for deletion), and their predictions on a few fixed inputs are compared
  with ``model(x, training=False)``. An export that differs by more than ``TOLERANCE`` is refused,
  so a file that is written is one that was seen to agree.

Each runtime package is imported only when its format is asked for; a missing one gives one message
naming the package to install.
"""
from __future__ import annotations

import importlib

import numpy as np

from tapedeck.engine.runs.export_common import ExportError, quiet

__all__ = ["TOLERANCE", "PROBES", "NEEDS", "require", "require_runtimes", "onnx_bytes", "onnx_predict",
           "litert_predict", "probe_inputs", "verify"]

TOLERANCE = 1e-4     # largest difference allowed between an export's predictions and the app's model
PROBES = 8           # inputs each verification predicts
ONNX_OPSET = 17


def require(module: str, package: str, what: str):
    """``module`` imported, or an ExportError naming the pip package ``what`` needs."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(f"{what} needs the Python package {package}, which is not installed here; "
                          f"install it with: pip install {package}") from None


# What each checked format needs: (module, pip package, what for).
NEEDS = {
    "onnx": (("tf2onnx.convert", "tf2onnx", "ONNX export"),
             ("onnxruntime", "onnxruntime", "Checking an ONNX export")),
    "tflite": (("ai_edge_litert.interpreter", "ai-edge-litert", "Checking a TensorFlow Lite export"),),
}


def require_runtimes(fmt: str) -> None:
    """Before converting anything: every package ``fmt`` needs is importable, or one message names it."""
    for module, package, what in NEEDS.get(fmt, ()):
        require(module, package, what)


def onnx_bytes(model, experiment=None) -> bytes:
    """The ONNX model of ``model`` without its augmentation layers (``engine.model.inference``).

    A model with several inputs or heads gets one ONNX input per model input and one output per head,
    each under its own name (tf2onnx names the outputs by the keys of the dict the model returns)."""
    convert = require("tf2onnx.convert", "tf2onnx", "ONNX export")
    import tensorflow as tf

    from tapedeck.engine.model.inference import inference_model, input_shape, input_shapes, takes_dicts

    served = inference_model(model, experiment)
    if takes_dicts(served):
        shapes = input_shapes(served)
        signature = tuple(tf.TensorSpec((None, *shape), tf.float32, name=name) for name, shape in shapes.items())
        function = tf.function(lambda *args: served(dict(zip(shapes, args)), training=False),
                               input_signature=signature)
    else:
        signature = (tf.TensorSpec((None, *input_shape(served)), tf.float32, name="input"),)
        function = tf.function(lambda x: served(x, training=False), input_signature=signature)
    with quiet():
        proto, _ = convert.from_function(function, input_signature=signature, opset=ONNX_OPSET)
    return proto.SerializeToString()


def onnx_predict(content: bytes, x):
    """The ONNX model's prediction for ``x``: an array, or for a dict of inputs by name a dict by output name."""
    runtime = require("onnxruntime", "onnxruntime", "Checking an ONNX export")
    session = runtime.InferenceSession(content, providers=["CPUExecutionProvider"])
    if isinstance(x, dict):
        names = [output.name for output in session.get_outputs()]
        return dict(zip(names, session.run(None, {i.name: x[i.name] for i in session.get_inputs()})))
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def litert_predict(content: bytes, x):
    """LiteRT's prediction for ``x``: an array, or for a dict of inputs by name a dict by output name (through
    the file's ``serving_default`` signature, which keeps the SavedModel's names)."""
    interpreter_module = require("ai_edge_litert.interpreter", "ai-edge-litert", "Checking a TensorFlow Lite export")
    interpreter = interpreter_module.Interpreter(model_content=content)
    if isinstance(x, dict):
        runner = interpreter.get_signature_runner("serving_default")
        return {name: np.asarray(value) for name, value in runner(**x).items()}
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def probe_inputs(model, count: int = PROBES, seed: int = 0):
    """Fixed inputs in [0, 1) of the model's input shape: the same every time, no data set needed; a dict by
    input name for a model of several inputs or heads."""
    from tapedeck.engine.model.inference import input_shape, input_shapes, takes_dicts

    rng = np.random.default_rng(seed)
    if takes_dicts(model):
        return {name: rng.random((count, *shape), dtype=np.float32) for name, shape in input_shapes(model).items()}
    return rng.random((count, *input_shape(model)), dtype=np.float32)


def _outputs(prediction) -> dict:
    """Head name → array; a model of one output is the one head ``output``."""
    if isinstance(prediction, dict):
        return {name: np.asarray(value) for name, value in prediction.items()}
    return {"output": np.asarray(prediction)}


def verify(fmt: str, model, content: bytes, x=None) -> float:
    """The largest difference between the export's predictions and ``model(x, training=False)``, over every
    head of a several-head model.

    Raises ExportError when it is above TOLERANCE (or the shapes or head names differ): nothing should be
    written then.
    """
    predict = {"onnx": onnx_predict, "tflite": litert_predict}[fmt]
    x = probe_inputs(model) if x is None else x
    reference = _outputs(model(x, training=False))
    got = _outputs(predict(content, x))
    if set(got) != set(reference):
        raise ExportError(f"the {fmt} export has outputs {', '.join(sorted(got))} where the app's model has "
                          f"{', '.join(sorted(reference))}; it was not written")
    rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    difference = 0.0
    for name, expected in reference.items():
        where = "" if len(reference) == 1 else f" (head {name!r})"
        if got[name].shape != expected.shape:
            raise ExportError(f"the {fmt} export predicts shape {got[name].shape}{where} where the app's model "
                              f"predicts {expected.shape}; it was not written")
        if np.isnan(got[name]).any() and not np.isnan(expected).any():
            raise ExportError(f"the {fmt} export gives NaN{where} where the app's model gives numbers "
                              f"({int(np.isnan(got[name]).sum())} of {got[name].size} outputs on {rows} inputs; "
                              f"TFLite's L2 normalization, for one, turns a vector of zeros into NaN); it was not "
                              f"written")
        if expected.size:
            difference = max(difference, float(np.max(np.abs(got[name] - expected))))
    if not difference <= TOLERANCE:
        raise ExportError(f"the {fmt} export predicts differently from the app's model (largest difference "
                          f"{difference:.3g} on {rows} inputs, above {TOLERANCE:g}); it was not written")
    return difference
