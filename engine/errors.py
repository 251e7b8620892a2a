"""The one base class of errors written for the person.

Anything raised as a ``TapedeckError`` names the thing that is wrong and, where obvious, the fix,
so every front end shows its text as it is (the CLI with exit code 2, the window in a notice);
any other exception is a fault of ours and is shown with its type.
"""
from __future__ import annotations


class TapedeckError(Exception):
    """A user-facing problem: the message is complete and needs no traceback."""


def describe(error: BaseException) -> str:
    """One line for the person: a TapedeckError's own text, anything else its type and first line."""
    text = str(error).strip()
    if isinstance(error, TapedeckError) and text:
        return text
    first = text.splitlines()[0] if text else "no message"
    return f"{type(error).__name__}: {first}"
