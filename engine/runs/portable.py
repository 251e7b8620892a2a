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

from tapedeck.engine.runs.exports import ExportError, quiet

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
    """The ONNX model of ``model`` without its augmentation layers (``engine.model.inference``)."""
    convert = require("tf2onnx.convert", "tf2onnx", "ONNX export")
    import tensorflow as tf

    from tapedeck.engine.model.inference import inference_model, input_shape

    served = inference_model(model, experiment)
    signature = (tf.TensorSpec((None, *input_shape(served)), tf.float32, name="input"),)
    function = tf.function(lambda x: served(x, training=False), input_signature=signature)
    with quiet():
        proto, _ = convert.from_function(function, input_signature=signature, opset=ONNX_OPSET)
    return proto.SerializeToString()


def onnx_predict(content: bytes, x: np.ndarray) -> np.ndarray:
    runtime = require("onnxruntime", "onnxruntime", "Checking an ONNX export")
    session = runtime.InferenceSession(content, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def litert_predict(content: bytes, x: np.ndarray) -> np.ndarray:
    interpreter_module = require("ai_edge_litert.interpreter", "ai-edge-litert", "Checking a TensorFlow Lite export")
    interpreter = interpreter_module.Interpreter(model_content=content)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def probe_inputs(model, count: int = PROBES, seed: int = 0) -> np.ndarray:
    """Fixed inputs in [0, 1) of the model's input shape: the same every time, no data set needed."""
    from tapedeck.engine.model.inference import input_shape

    return np.random.default_rng(seed).random((count, *input_shape(model)), dtype=np.float32)


def verify(fmt: str, model, content: bytes, x: np.ndarray | None = None) -> float:
    """The largest difference between the export's predictions and ``model(x, training=False)``.

    Raises ExportError when it is above TOLERANCE (or the shapes differ): nothing should be written then.
    """
    predict = {"onnx": onnx_predict, "tflite": litert_predict}[fmt]
    x = probe_inputs(model) if x is None else x
    reference = np.asarray(model(x, training=False))
    got = np.asarray(predict(content, x))
    if got.shape != reference.shape:
        raise ExportError(f"the {fmt} export predicts shape {got.shape} where the app's model predicts "
                          f"{reference.shape}; it was not written")
    if np.isnan(got).any() and not np.isnan(reference).any():
        raise ExportError(f"the {fmt} export gives NaN where the app's model gives numbers ({int(np.isnan(got).sum())} "
                          f"of {got.size} outputs on {len(x)} inputs; TFLite's L2 normalization, for one, "
                          f"turns a vector of zeros into NaN); it was not written")
    difference = float(np.max(np.abs(got - reference))) if reference.size else 0.0
    if not difference <= TOLERANCE:
        raise ExportError(f"the {fmt} export predicts differently from the app's model (largest difference "
                          f"{difference:.3g} on {len(x)} inputs, above {TOLERANCE:g}); it was not written")
    return difference
