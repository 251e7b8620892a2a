"""How values are spelled for the person, in messages and tables: one definition each."""
from __future__ import annotations

import json
import math
import re

LONG_VALUE = 80   # a value longer than this is cut in messages (a 50 MB string must not be echoed)
LONG_WORD = 300   # an unbroken run of characters longer than this is cut in a finished message (paths fit)


def is_number(value) -> bool:
    """A finite int or float, not a bool: what a numeric parameter accepts."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def shown(value, limit: int = LONG_VALUE) -> str:
    """A value as the person wrote it in the file (JSON spelling: true, null, [1, 2]), cut when long."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return cut(text, limit)


def cut(text: str, limit: int = LONG_VALUE) -> str:
    """``text`` if short, else its start, an ellipsis and how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def cut_words(text: str, limit: int = LONG_WORD) -> str:
    """``text`` with every unbroken run of more than ``limit`` characters cut by :func:`cut`.

    The last guard before a message reaches the person: a value echoed by a layer name, a key or a
    path that is megabytes long is shortened wherever the message was composed.
    """
    if len(text) <= limit:
        return text
    return re.sub(rf"\S{{{limit + 1},}}", lambda match: cut(match.group(0), limit), text)


def percent(value) -> str:
    """A fraction as a percentage; "-" for a missing or non-numeric value."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return "-"
    return f"{100 * value:.1f}%"


def format_shape(shape) -> str:
    """A shape as Keras prints it, batch axis included: (None, 8, 8, 1); "…" while not known."""
    if shape is None:
        return "…"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def format_count(count) -> str:
    """A parameter count with thousands separators; "…" while not known."""
    return "…" if count is None else f"{count:,}"
