"""The Backbone layer in the exported script: the keras.applications call, the freeze, the unfreeze step.

The script gets a small ``Backbone`` layer class of its own (what a person writes for transfer learning:
the ``keras.applications`` network without its top, the resize, grayscale to three channels and the
family's ``preprocess_input``), frozen with ``trainable=False`` as every frozen layer is written. A
scheduled unfreeze is code in the loop's own style: the optimizer is built for the backbone's weights
too, then at the start of the unfreeze epoch the backbone's ``trainable`` is set and the learning rate
multiplied; ``fit`` gets a callback that traces its step again, the GradientTape loop re-wraps its
``tf.function``. With ``weights="imagenet"`` Keras downloads the file once into ``~/.keras/models``.

The pieces are put into the finished training text at its section headings and its ``model.fit(`` /
``for epoch in range(epochs):`` lines, so the other writers need to know nothing of backbones.
"""
from __future__ import annotations

import re

from tapedeck.engine.spec.backbones import FAMILIES

__all__ = ["constructor_params", "has_backbone", "with_backbone"]

_SCHEDULE = ("unfreeze_at_epoch", "unfreeze_learning_rate_factor")

_CLASS = '''\
# --- Pretrained backbone -----------------------------------------------------

PREPROCESSING = {modules}


class Backbone(keras.layers.Layer):
    """keras.applications.<architecture> without its classifier: resize, grayscale to RGB, the family's
    own preprocess_input, then the network (always in inference mode: BatchNormalization keeps its
    ImageNet statistics, also when fine-tuning)."""

    def __init__(self, architecture, input_size=224, alpha=1.0, weights="imagenet", input_range=(0.0, 1.0),
                 **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.input_range = input_size, input_range
        self.preprocess = getattr(keras.applications, PREPROCESSING[architecture]).preprocess_input
        width = {{"alpha": alpha}} if architecture.startswith("MobileNet") else {{}}
        # weights="imagenet": Keras downloads them once into ~/.keras/models
        self.network = getattr(keras.applications, architecture)(
            include_top=False, weights=weights, input_shape=(input_size, input_size, 3), **width)
        self.network.trainable = self.trainable

    def call(self, inputs):
        x = keras.ops.image.resize(inputs, (self.input_size, self.input_size))
        if x.shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)
        low, high = self.input_range
        x = (x - low) * (255.0 / (high - low))   # the 0..255 pixels keras.applications expects
        return self.network(self.preprocess(x), training=False)
'''

_BUILD = '''\
# Fine-tuning: backbone (in model order) -> (the epoch from which it trains, learning-rate factor then).
UNFREEZE = {schedule}
{build_model}backbones = [layer for layer in model.layers if isinstance(layer, Backbone)]
# Build the optimizer for the backbones' weights too: Keras refuses variables it was not built with.
for index in UNFREEZE:
    backbones[index].trainable = True
optimizer.build(model.trainable_variables)
for index in UNFREEZE:
    backbones[index].trainable = False


def unfreeze_backbones(epoch):
    """At the start of ``epoch`` (from 1): whether a backbone starts to train now, at a lower rate."""
    changed = False
    for index, (first_epoch, factor) in UNFREEZE.items():
        if epoch == first_epoch:
            backbones[index].trainable = True
            optimizer.learning_rate = float(optimizer.learning_rate) * factor
            print(f"Epoch {{epoch}}: backbone {{index}} unfrozen, learning rate {{float(optimizer.learning_rate):.3g}}")
            changed = True
    return changed
'''

_FIT_CALLBACK = '''\
class UnfreezeBackbones(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if unfreeze_backbones(epoch + 1):
            self.model.make_train_function(force=True)   # fit traced its step with the old variables
'''


def has_backbone(nodes) -> bool:
    return any(node.spec.type == "Backbone" for node in nodes)


def constructor_params(params: dict) -> dict:
    """The script's Backbone arguments: the schedule is loop code, not a constructor argument."""
    return {key: value for key, value in params.items() if key not in _SCHEDULE}


def with_backbone(text: str, nodes, loop: str, subclass: bool) -> str:
    """The training text with the Backbone class before the model and the unfreeze step in the loop."""
    modules = "{\n" + "".join(f'    "{name}": "{family.module}",\n' for name, family in FAMILIES.items()) + "}"
    text = _before_heading(text, "# --- Model", _CLASS.format(modules=modules))
    backbones = [node for node in nodes if node.spec.type == "Backbone"]
    schedule = {index: (int(node.spec.params["unfreeze_at_epoch"]),
                        float(node.spec.params.get("unfreeze_learning_rate_factor", 0.1)))
                for index, node in enumerate(backbones)
                if node.spec.params.get("unfreeze_at_epoch") is not None and not node.spec.trainable}
    if not schedule:
        return text
    build = "model(keras.ops.zeros((1, *input_shape)))   # creates the subclass's layers\n" if subclass else ""
    table = "{" + ", ".join(f"{index}: ({epoch}, {factor!r})" for index, (epoch, factor) in schedule.items()) + "}"
    block = _BUILD.format(schedule=table, build_model=build)
    if loop == "fit":
        block += "\n\n" + _FIT_CALLBACK
    text = _after_line(text, r"optimizer = keras\.optimizers\.", block)
    if loop == "fit":
        return _fit_callback(text)
    step = "distributed_train_step" if "def distributed_train_step" in text else "train_step"
    return _epoch_hook(text, step)


def _before_heading(text: str, heading: str, block: str) -> str:
    at = text.find(heading)
    return text + "\n\n" + block if at < 0 else text[:at] + block + "\n\n" + text[at:]


def _after_line(text: str, pattern: str, block: str) -> str:
    """``block`` after the statement whose first line matches ``pattern`` (indented as it is)."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        match = re.match(r"(\s*)" + pattern, line)
        if not match:
            continue
        end, depth = index, line.count("(") - line.count(")")
        while depth > 0 and end + 1 < len(lines):   # a statement over several lines
            end += 1
            depth += lines[end].count("(") - lines[end].count(")")
        indent = match.group(1)
        body = [indent + row if row else "" for row in block.rstrip("\n").split("\n")]
        return "\n".join(lines[:end + 1] + [""] + body + [""] + lines[end + 1:])
    raise ValueError("the exported script has no optimizer line to build for the backbone")


def _fit_callback(text: str) -> str:
    if re.search(r"^\s*callbacks = \[", text, re.M):
        return re.sub(r"^(\s*)callbacks = \[\n", r"\1callbacks = [\n\1    UnfreezeBackbones(),\n", text, count=1,
                      flags=re.M)
    match = re.search(r"^(\s*)model\.fit\(\n(.*?)^\1\)", text, re.M | re.S)
    if match is None:
        raise ValueError("the exported script has no model.fit call for the backbone's callback")
    indent = match.group(1)
    start, end = match.span()
    closing = end - 1   # the ")" that closes model.fit(
    return (text[:start] + f"{indent}callbacks = [UnfreezeBackbones()]\n" + text[start:closing].rstrip(" ")
            + f"{indent}    callbacks=callbacks,\n{indent})" + text[end:])


def _epoch_hook(text: str, step: str) -> str:
    match = re.search(r"^(\s*)for epoch in range\(epochs\):\n", text, re.M)
    if match is None:
        raise ValueError("the exported script has no epoch loop for the backbone's unfreeze step")
    indent = match.group(1) + "    "
    hook = (f"{indent}if unfreeze_backbones(epoch + 1) and hasattr({step}, \"python_function\"):\n"
            f"{indent}    # the compiled step captured the old trainable variables: trace it again\n"
            f"{indent}    {step} = tf.function({step}.python_function)\n")
    return text[:match.end()] + hook + text[match.end():]
