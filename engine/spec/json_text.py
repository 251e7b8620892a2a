"""JSON text from a file anyone may have written or damaged, read without surprises: a key given twice is
refused rather than silently keeping the last value, and a file nested past ``MAX_NESTING`` is refused by
name (``json.loads`` of one nested thousands deep raises RecursionError, and one just under Python's limit
still overflows the recursion of whatever walks it next). Used by the experiment file and the runs index."""
from __future__ import annotations

import json

__all__ = ["MAX_NESTING", "TooDeepError", "DuplicateKeyError", "nesting", "read_json_text"]

# How deeply objects and lists may nest. A real experiment nests five levels.
MAX_NESTING = 32


class TooDeepError(ValueError):
    """Nested more than MAX_NESTING levels."""


class DuplicateKeyError(ValueError):
    """An object names the same key twice; the message names it."""


def nesting(value) -> int:
    """How many levels of objects and lists ``value`` nests (iteratively: the depth is what is in doubt)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(f"duplicate key {json.dumps(key)}")
        result[key] = value
    return result


def read_json_text(text: str, unique_keys: bool = True):
    """The value of ``text``; TooDeepError, DuplicateKeyError (only with ``unique_keys``) or json.JSONDecodeError."""
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys if unique_keys else None)
    except RecursionError:
        raise TooDeepError(f"nested more than {MAX_NESTING} levels deep") from None
    if nesting(value) > MAX_NESTING:
        raise TooDeepError(f"nested more than {MAX_NESTING} levels deep")
    return value
