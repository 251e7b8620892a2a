"""Layer names and wiring: which layer feeds which. Shared by check, the builders, code export and the GUI,
so all of them agree on names (Keras-like auto names) and on what a branch is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from tapedeck.engine.spec import catalogue

__all__ = ["INPUT", "Node", "resolve", "is_chain", "auto_name", "dead_branches", "resolve_model", "SEQUENTIAL_REFUSAL",
           "SEQUENTIAL_MULTI_REFUSAL"]

INPUT = "input"

SEQUENTIAL_REFUSAL = (
    "Sequential supports a single chain from one input to one output, and this stack has branches "
    "(a layer with named inputs or a merge). Use the Functional API or a Model subclass "
    "(api \"functional\" or \"subclassing\") to build it."
)

SEQUENTIAL_MULTI_REFUSAL = (
    "Sequential is one input to one output, and this model declares {what}. The Functional API exists for "
    "models with several inputs and several outputs (a Model subclass can do the same): set api to "
    "\"functional\" or \"subclassing\"."
)


@dataclass
class Node:
    index: int
    name: str
    spec: object  # engine.spec.experiment.LayerSpec
    inputs: list[str]


def auto_name(type_name: str) -> str:
    """Keras's base name for a layer class (``keras.src.utils.naming.to_snake_case``): Conv2D → conv2d,
    MaxPooling2D → max_pooling2d."""
    name = re.sub(r"\W+", "", str(type_name))
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _names(layers, reserved=(INPUT,)) -> list[str]:
    """Explicit names as given; the rest numbered per type like Keras (dense, dense_1, …), skipping
    any name used explicitly anywhere in the stack and the reserved input names."""
    taken = {spec.name for spec in layers if spec.name} | {INPUT, *reserved}
    counters: dict[str, int] = {}
    names = []
    for spec in layers:
        if spec.name:
            names.append(spec.name)
            continue
        base = auto_name(spec.type) or "layer"
        while True:
            count = counters.get(base, 0)
            counters[base] = count + 1
            candidate = base if count == 0 else f"{base}_{count}"
            if candidate not in taken:
                break
        taken.add(candidate)
        names.append(candidate)
    return names


# TensorFlow's root name-scope rule (``ops.name_scope``): a layer's name becomes its scope when the model is
# called, and a name outside it (数字, parité, "a b") passed the check, then failed inside Functional.call().
_SCOPE_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.-]*$")


def scope_name_ok(name) -> bool:
    """Whether TensorFlow takes ``name`` as a layer's name scope."""
    return bool(_SCOPE_NAME.match(str(name)))


def ascii_name(name, index: int) -> str:
    """A name close to ``name`` that TensorFlow takes: accents dropped, other characters as _."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^A-Za-z0-9_.-]+", "_", plain).strip("_-")
    return plain if _SCOPE_NAME.match(plain) else f"layer_{index}"


def _is_merge(type_name) -> bool:
    kind = catalogue.CATALOGUE.get(type_name) if isinstance(type_name, str) else None
    return bool(kind and kind.merge)


def resolve(layers, input_names=(INPUT,), heads=None) -> tuple[list[Node], list[tuple[int | None, str]]]:
    """Name every layer and wire its inputs. Problems are ``(layer index, message)``; the index is None
    for a problem of the whole stack (empty). Nodes are returned even when there are problems, so a
    caller can still show names.

    ``input_names`` are the model's inputs (the first feeds the first layer unless it names its own);
    ``heads`` the layers declared as outputs, or None for today's single output, the last layer. With
    declared heads a layer that reaches none is a dead branch, which :func:`dead_branches` reports."""
    layers = list(layers)
    input_names = tuple(input_names) or (INPUT,)
    if not layers:
        return [], [(None, "the model has no layers; add at least one (e.g. Flatten then Dense)")]
    names = _names(layers, input_names)
    nodes: list[Node] = []
    problems: list[tuple[int | None, str]] = []
    position = {}  # name -> first index holding it
    for index, (spec, name) in enumerate(zip(layers, names)):
        if not _SCOPE_NAME.match(str(name)):
            problems.append((index, f"name {name!r} cannot name a TensorFlow layer (only the letters A-Z and a-z, "
                                    f"digits and _ . - are allowed, not starting with _ or -); choose a name "
                                    f"such as {ascii_name(name, index)!r}"))
        if name == INPUT or name in input_names:
            problems.append((index, f"name {name!r} is reserved for the model input; choose another name"))
        elif name in position:
            problems.append((index, f"name {name!r} is already used by layer {position[name]}; "
                                    f"layer names must be unique"))
        else:
            position[name] = index
    used: set[str] = set()
    bad_reference = False
    for index, (spec, name) in enumerate(zip(layers, names)):
        inputs = list(spec.inputs) if spec.inputs else [names[index - 1] if index else input_names[0]]
        for ref in inputs:
            used.add(ref)
            if ref in input_names:
                continue
            where = position.get(ref)
            bad_reference = bad_reference or where is None or where >= index
            if where is None:
                earlier = ", ".join([*input_names] + names[:index])
                problems.append((index, f"input {ref!r} is not a layer name; earlier layers are: {earlier}"))
            elif where >= index:
                what = "itself" if where == index else f"layer {where}, which comes later"
                problems.append((index, f"input {ref!r} is {what}; a layer can only take earlier layers"))
        type_name = spec.type if isinstance(spec.type, str) else str(spec.type)
        if _is_merge(spec.type):
            if len(inputs) < 2:
                problems.append((index, f"{type_name} merges two or more layers; list them in \"inputs\", "
                                        f"e.g. [\"{names[index - 1] if index else input_names[0]}\", \"...\"]"))
        elif len(inputs) > 1:
            problems.append((index, f"{type_name} takes one input, received {len(inputs)} "
                                    f"({', '.join(inputs)}); merge them first with Add or Concatenate"))
        nodes.append(Node(index=index, name=name, spec=spec, inputs=inputs))
    # A broken reference hides which layer was meant to be used; "never used" would then be noise.
    for name in [] if bad_reference else input_names:
        if name not in used:
            problems.append((None, f"input {name!r} is not used by any layer; list it in a layer's \"inputs\" "
                                   f"(e.g. a Dense or a Concatenate) or remove it from model.inputs"))
    for head in heads or ():
        if head not in position:
            problems.append((None, f"head {head!r} is not a layer name; layers are: {', '.join(names)}"))
    for node in [] if bad_reference or heads else nodes[:-1]:
        if node.name not in used and position.get(node.name) == node.index:
            problems.append((node.index, f"the output of {node.name!r} is never used: only the last layer "
                                         f"is the model's output; feed it into a later layer "
                                         f"(e.g. a merge) or remove it"))
    problems.sort(key=lambda item: -1 if item[0] is None else item[0])
    return nodes, problems


def resolve_model(model) -> tuple[list[Node], list[tuple[int | None, str]]]:
    """:func:`resolve` with the inputs and heads the model declares (``model.inputs`` / ``model.outputs``)."""
    from tapedeck.engine.spec.heads import inputs_of

    heads = [h.layer for h in getattr(model, "outputs", None) or []] or None
    return resolve(model.layers, [i.name for i in inputs_of(model)], heads)


def dead_branches(nodes, heads) -> list[Node]:
    """Layers whose output reaches no head: trained by nothing, so wasted work (a warning, not an error)."""
    feeds = {node.name: node for node in nodes}
    alive, stack = set(), [h for h in heads if h in feeds]
    while stack:
        name = stack.pop()
        if name in alive:
            continue
        alive.add(name)
        stack.extend(ref for ref in feeds[name].inputs if ref in feeds)
    return [node for node in nodes if node.name not in alive]


def is_chain(nodes) -> bool:
    """True when each layer takes exactly the one before it (the first takes the input): the only
    shape ``keras.Sequential`` can express."""
    previous = INPUT
    for node in nodes:
        if list(node.inputs) != [previous]:
            return False
        previous = node.name
    return True
