"""The one base class of errors written for the person.

Anything raised as a ``TapedeckError`` names the thing that is wrong and, where obvious, the fix,
so every front end shows its text as it is (the CLI with exit code 2, the window in a notice);
any other exception is a fault of ours and is shown with its type.
"""
from __future__ import annotations

import re
import sys


class TapedeckError(Exception):
    """A user-facing problem: the message is complete and needs no traceback."""


# How TensorFlow quotes a Python exception raised inside one of its ops: the traceback's last line.
_QUOTED = re.compile(r"^(tapedeck(?:\.\w+)+)\.(\w+): (.+)$", re.MULTILINE)


def user_problem(error: BaseException) -> str | None:
    """The person's message in ``error``, or None when it is a fault of ours.

    Besides a TapedeckError itself, one raised inside a TensorFlow op: a streamed folder's decoder runs in
    a tf.data thread (``numpy_function``), and TensorFlow re-raises what it raised as its own error type
    (UnknownError, "Graph execution error") with the Python traceback in the text. Only classes that
    really are TapedeckErrors (of modules already loaded, as the raiser was) count; nothing is imported.
    """
    text = str(error).strip()
    if isinstance(error, TapedeckError):
        return text or None
    for module_name, class_name, message in reversed(_QUOTED.findall(text)):
        quoted = getattr(sys.modules.get(module_name), class_name, None)   # raised, so already imported
        if isinstance(quoted, type) and issubclass(quoted, TapedeckError):
            return message.strip()
    return None


def describe(error: BaseException) -> str:
    """One line for the person: a TapedeckError's own text (also when TensorFlow quotes one), anything
    else its type and first line."""
    problem = user_problem(error)
    if problem:
        return problem
    text = str(error).strip()
    first = text.splitlines()[0] if text else "no message"
    return f"{type(error).__name__}: {first}"
