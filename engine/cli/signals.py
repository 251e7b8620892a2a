"""Ctrl-C and SIGTERM stop a headless run the same way: after the current step, keeping what is written.

A job scheduler, ``timeout`` or ``docker stop`` sends SIGTERM; its default action killed the process at
once, mid-checkpoint, leaving a temporary file in the run folder. Now the first signal asks the run to
stop (the checkpoint being written is finished and renamed), a second one aborts (KeyboardInterrupt,
whose unwinding removes the temporaries).
"""
from __future__ import annotations

import signal
import sys
import threading

__all__ = ["install_stop_signals"]

_SAID = {signal.SIGINT: "Stopping after the current step (Ctrl-C again to abort)…",
         signal.SIGTERM: "Terminated (SIGTERM): stopping after the current step and keeping what is written "
                         "(send it again to abort)…"}


def install_stop_signals(control):
    """First Ctrl-C or SIGTERM: ``control.stop()``. Second: KeyboardInterrupt. Returns a function that puts
    the previous handlers back (nothing is installed outside the main thread, where Python cannot)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {number: signal.getsignal(number) for number in _SAID}

    def on_signal(number, frame):
        if control.stop_requested:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        print(f"\n{_SAID[number]}", file=sys.stderr, flush=True)
        control.stop()

    for number in _SAID:
        signal.signal(number, on_signal)

    def restore():
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
    return restore
