"""How long a run has left, computed once for the window's progress bar and `tapedeck train`'s line.

The pace is the current epoch's (``BatchEnd.samples_per_second``: samples since the epoch began over
its seconds), so an epoch slowed by tracing or a busy machine stops counting once the next begins;
the remaining work is every step left in this epoch and the epochs after it.
"""
from __future__ import annotations


def eta_seconds(batch, epochs: int, batch_size: int) -> float | None:
    """Seconds left in the run after ``batch`` (an ``events.BatchEnd``); None while no pace is known."""
    pace = batch.samples_per_second or 0.0
    if pace <= 0 or batch.steps <= 0:
        return None
    steps_left = max(0, epochs - batch.epoch) * batch.steps + max(0, batch.steps - batch.step)
    return steps_left * batch_size / pace


def duration_text(seconds: float | None) -> str:
    """"45s", "3m 05s", "2h 07m", "3d 04h"; "…" when unknown."""
    if seconds is None:
        return "…"
    seconds = int(round(max(0.0, seconds)))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600:02d}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


def eta_text(batch, epochs: int, batch_size: int) -> str:
    return duration_text(eta_seconds(batch, epochs, batch_size))
