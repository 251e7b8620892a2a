"""How another thread steers a run: stop, pause, resume, Step, and a search's prune.

The loops look at it between steps (or compiled calls); nothing else crosses threads. The window's
worker, the command line's Ctrl+C handler and a search hold one each.
"""
from __future__ import annotations

import threading

__all__ = ["RunControl"]


class RunControl:
    """Stop / pause / resume from another thread; the loops look at it between steps."""

    def __init__(self):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._steps_left: int | None = None   # Step: train this many more steps, then pause
        self._armed = False                    # the step in progress counts towards that request
        self._pruned: str | None = None        # a search ended this run as poor (engine.queues.search)
        self._stopped = False                  # a person (or the window) asked to stop
        self._step_part: str | None = None     # several models: which one a Step trains ("d", "g"; None: all)

    def stop(self) -> None:
        self._stopped = True
        self._stop.set()
        self._running.set()  # a paused run must wake up to notice the stop

    def prune(self, message: str) -> None:
        """End the run in progress as "pruned" (a search judged it poor); ``rearm`` lets the next one run."""
        self._pruned = message
        self._stop.set()
        self._running.set()

    def rearm(self) -> None:
        """After a pruned run: the next run of the search trains, unless a stop was asked meanwhile."""
        with self._lock:
            if self._pruned is not None and not self._stopped:
                self._stop.clear()
            self._pruned = None

    @property
    def prune_message(self) -> str | None:
        """Why the run was pruned; None when it was not, or when a person's stop came too."""
        return None if self._stopped else self._pruned

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        with self._lock:
            self._steps_left = None
            self._step_part = None
        self._running.set()

    def step(self, steps: int = 1, part: str | None = None) -> None:
        """Train ``steps`` more steps, then pause: Step in the window, ``tapedeck step``. ``part`` names which
        of several models the steps train (a GAN's "d" or "g"; None: every model, as in training)."""
        with self._lock:
            self._steps_left = max(1, int(steps))
            self._step_part = part
            self._armed = False   # a step already under way when the request came does not count
        self._running.set()

    @property
    def step_part(self) -> str | None:
        """While stepping: which model the step trains (None: all of them)."""
        return self._step_part if self._steps_left is not None else None

    @property
    def steps_left(self) -> int | None:
        """Steps still to take before the run pauses; None when not stepping."""
        return self._steps_left

    def begin_step(self) -> bool:
        """The loops call this as each step begins; True when it is the last step of a Step request."""
        with self._lock:
            self._armed = self._steps_left is not None
            return self._armed and self._steps_left == 1

    def step_done(self) -> bool:
        """The loops call this after every step; True when it was the last step asked for (now paused)."""
        with self._lock:
            armed, self._armed = self._armed, False
            if self._steps_left is None or not armed:
                return False
            self._steps_left -= 1
            if self._steps_left > 0:
                return False
            self._steps_left = None
        self.pause()
        return True

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> None:
        self._running.wait(timeout)
