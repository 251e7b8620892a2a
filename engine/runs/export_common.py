"""What every export writer shares: the error a person sees, and quiet TensorFlow writers. Apart from
``engine.runs.exports`` so the portable formats (``engine.runs.portable``) import it without importing the
module that calls them."""
from __future__ import annotations

import contextlib
import io

from tapedeck.engine.errors import TapedeckError

__all__ = ["ExportError", "quiet"]


class ExportError(TapedeckError):
    """The run or the target cannot be exported as asked; the message names the path and the fix."""


@contextlib.contextmanager
def quiet():
    """The SavedModel writer and the converter print progress on stdout/absl; keep terminals clean."""
    import logging

    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        absl.setLevel(level)
