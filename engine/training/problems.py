"""The one error a run reports as the person's mistake: lines that name the thing and the fix, no
traceback. Its own module so that what a run calls (initial weights, checks) can raise it without
importing the run back (issue 21 untied that circle)."""
from __future__ import annotations

from tapedeck.engine.errors import TapedeckError

__all__ = ["UserProblemError"]


class UserProblemError(TapedeckError):
    """A mistake in the experiment or its data: reported as one or more plain lines, no traceback."""

    def __init__(self, problems):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))
