"""The value rules of the experiment file: each returns None (fine) or the words after "expected".

Kept apart from the dataclasses so each rule reads on its own; ``engine.spec.experiment`` builds its
tables of rules from them.
"""
from __future__ import annotations

import math

from tapedeck.engine.text import shown

__all__ = ["MAX_INT", "_is_int", "_int", "_int_or_auto", "_float", "_bool", "_choice", "_text", "_size_pair"]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# The largest whole number a setting may hold: TensorFlow takes sizes and seeds as 32-bit or 64-bit C
# integers, and a batch size of 2**63 ended in an OverflowError deep inside it rather than a message.
MAX_INT = 2**31 - 1


def _int_or_auto(value):
    """``steps_per_execution``: a whole number of steps, or "auto" (the run measures a step and says what it chose)."""
    if value == "auto" or (_is_int(value) and 1 <= value <= MAX_INT):
        return None
    return ('a positive integer (training steps per compiled call) or "auto" (measured so that one call '
            'lasts about 50 ms)')


def _int(lo=None, optional=False):
    def rule(value):
        if value is None and optional:
            return None
        if _is_int(value) and (lo is None or value >= lo) and value <= MAX_INT:
            return None
        words = {1: "a positive integer", 0: "a non-negative integer"}.get(lo, "an integer")
        if _is_int(value) and value > MAX_INT:
            words += f" up to {MAX_INT:,}"
        return words + (" or null" if optional else "")
    return rule


def _float(lo=None, hi=None, lo_open=False, hi_open=False, optional=False):
    def rule(value):
        if value is None and optional:
            return None
        return _float_words(value, lo, hi, lo_open, hi_open, optional)
    return rule


def _float_words(value, lo, hi, lo_open, hi_open, optional) -> str | None:
    """None when ``value`` is in range, else what was expected."""
    ok = (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if ok:
        return None
    null = " or null" if optional else ""
    if lo is not None and hi is not None:
        return f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}{null}"
    if lo is not None:
        return f"a number {'>' if lo_open else '≥'} {lo:g}{null}"
    return "a number" + null


def _bool(value):
    return None if isinstance(value, bool) else "true or false"


def _choice(options):
    def rule(value):
        return None if isinstance(value, str) and value in options else "one of " + ", ".join(
            shown(o) for o in options)
    return rule


def _text(optional=False):
    def rule(value):
        if value is None and optional:
            return None
        return None if isinstance(value, str) and value.strip() else (
            "a non-empty string" + (" or null" if optional else ""))
    return rule


def _size_pair(value):
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2 and all(_is_int(v) and v >= 1 for v in value):
        return None
    return "[height, width] of positive integers, or null"
