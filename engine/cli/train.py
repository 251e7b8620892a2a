"""``tapedeck train``: a run on a terminal, with a progress bar and ETA, or plain lines in a log.

Ctrl-C asks the run to stop after the current step (the run folder stays consistent); a second
Ctrl-C aborts at once. Exit codes: 0 completed (or early-stopped), 1 diverged or failed inside
TensorFlow, 2 a user mistake (bad experiment, unreadable data, a stack that does not check),
130 stopped by Ctrl-C.
"""
from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from tapedeck.engine.cli.errors import USER_ERROR, load_or_explain
from tapedeck.engine.cli.errors import fail as _fail
from tapedeck.engine.spec.experiment import APIS, EXECUTIONS, LOOPS
from tapedeck.engine.text import cut_words
from tapedeck.engine.training.progress import eta_text

__all__ = ["add_train_arguments", "train_command", "ConsoleReporter"]

BAR_WIDTH = 24


def add_train_arguments(parser) -> None:
    parser.add_argument("experiment", nargs="?", help="experiment file (JSON); optional with --resume")
    parser.add_argument("--out", default="runs", metavar="DIR", help="folder for run folders (default: runs)")
    parser.add_argument("--epochs", type=_positive_int, metavar="N", help="train this many epochs in total")
    parser.add_argument("--loop", choices=LOOPS, help="model.fit or the GradientTape loop")
    parser.add_argument("--api", choices=APIS,
                        help="how the model is written")
    parser.add_argument("--execution", choices=EXECUTIONS,
                        help="how each step runs: graph (tf.function), eager (Python every step) or xla")
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="use only the first N training examples")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue a run folder from its last checkpoint (optimizer state included)")


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, received {value}")
    return value




def _load(args):
    """The experiment to run, with the command line's overrides; (experiment, None) or (None, exit code)."""
    if args.resume:
        source = Path(args.resume) / "experiment.json"
        if not Path(args.resume).is_dir():
            return None, _fail(f"{args.resume}: no such run folder; --resume takes a folder a previous run wrote")
        if args.experiment:
            print(f"tapedeck: note: {args.experiment} is not read; --resume continues what {source} says",
                  file=sys.stderr)
    elif args.experiment:
        source = Path(args.experiment)
    else:
        return None, _fail("train: give an experiment file (tapedeck train EXP.json) or --resume RUN_DIR")
    experiment = load_or_explain(source)
    if experiment is None:
        return None, USER_ERROR
    changes = {}
    if args.epochs:
        changes[("training", "epochs")] = args.epochs
    if args.loop:
        changes[("training", "loop")] = args.loop
    if args.limit:
        changes[("data", "limit")] = args.limit
    if args.execution:
        changes[("training", "execution")] = args.execution
    for (section, key), value in changes.items():
        setattr(getattr(experiment, section), key, value)
    if args.api:   # every model of the experiment (a GAN's two)
        from tapedeck.engine.objectives.check import with_api

        experiment = with_api(experiment, args.api)
    return experiment, None


def train_command(args) -> int:
    experiment, code = _load(args)
    if experiment is None:
        return code
    from tapedeck.engine.objectives.run import RunControl, run

    control = RunControl()
    reporter = ConsoleReporter(sys.stdout)
    restore = _install_interrupt(control)
    try:
        run(experiment, reporter, control, runs_dir=args.out, resume_dir=args.resume)
    finally:
        restore()
    return reporter.exit_code


def _install_interrupt(control):
    """First Ctrl-C or SIGTERM: stop after this step. Second: abort (``engine.cli.signals``)."""
    from tapedeck.engine.cli.signals import install_stop_signals

    return install_stop_signals(control)


class ConsoleReporter:
    """Events → text. On a terminal one line redrawn in place (at most ~10 times a second)."""

    def __init__(self, stream, tty: bool | None = None):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.exit_code = 1
        self.epochs = 0
        self.steps = 1
        self.initial_epoch = 0
        self.test = None
        self._started = None
        self._last_draw = 0.0
        self._bar_open = False
        self._timing = None
        self.batch_size = 1
        # one character short of the terminal: a line that fills the last column wraps on some terminals
        self.width = max(40, min(shutil.get_terminal_size((80, 24)).columns, 200) - 1)

    def __call__(self, event) -> None:
        handler = getattr(self, f"_on_{_snake(type(event).__name__)}", None)
        if handler is not None:
            handler(event)

    def _print(self, text: str = "", file=None) -> None:
        if self._bar_open:
            self.stream.write("\n")
            self._bar_open = False
        print(text, file=file or self.stream, flush=True)

    def _on_run_started(self, event) -> None:
        self.epochs, self.steps, self.initial_epoch = event.epochs, event.steps_per_epoch, event.initial_epoch
        self.batch_size = event.batch_size
        self._started = time.perf_counter()
        resumed = f", resuming after epoch {event.initial_epoch}" if event.initial_epoch else ""
        self._print(f"{event.name}: {event.trainable:,} trainable parameters, {event.epochs} epochs of "
                    f"{event.steps_per_epoch} steps (batch {event.batch_size}), loop {event.loop}{resumed}")
        self._print(f"run folder: {event.run_dir}")
        for warning in getattr(event, "warnings", ()):
            self._print(f"tapedeck: warning: {cut_words(warning)}", file=sys.stderr)

    def _on_batch_end(self, event) -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and event.step < event.steps:
            return
        self._last_draw = now
        self.stream.write("\r" + progress_line(event, self.epochs, self.batch_size, self.width))
        self.stream.flush()
        self._bar_open = True

    def _on_step_timing(self, event) -> None:
        self._timing = event   # arrives just before its epoch's EpochEnd; shown on that line

    def _on_epoch_end(self, event) -> None:
        step = ""
        if self._timing is not None and self._timing.epoch == event.epoch:
            timing = self._timing
            traces = "eager" if timing.traces is None else f"{timing.execution}, {timing.traces} trace(s)"
            step = f" - step {timing.step_ms:.1f} ms ({traces})"
        if event.heads:   # several heads: Keras's per-head names, as fit's own progress line shows them
            figures = " - ".join(f"{name} {value:.4f}" for name, value in event.heads.items())
            self._print(f"epoch {event.epoch}/{self.epochs} - {event.seconds:.1f}s - loss {event.loss:.4f} "
                        f"- {figures} - lr {event.learning_rate:.3g}{step}")
            return
        val = ""
        if event.val_loss is not None:
            val = f" - val_loss {event.val_loss:.4f} - val_accuracy {event.val_accuracy:.4f}"
        self._print(f"epoch {event.epoch}/{self.epochs} - {event.seconds:.1f}s - loss {event.loss:.4f} "
                    f"- accuracy {event.accuracy:.4f}{val} - lr {event.learning_rate:.3g}{step}")

    def _on_run_note(self, event) -> None:
        self._print(f"tapedeck: note: {event.message}", file=sys.stderr)

    def _on_test_result(self, event) -> None:
        self.test = event

    def _on_finished(self, event) -> None:
        if event.reason == "failed":
            stream = sys.stderr
            if event.problems:
                self._print("tapedeck: the experiment cannot run:", file=stream)
                for line in event.problems:
                    self._print(f"  {cut_words(line)}", file=stream)
                self.exit_code = USER_ERROR
            else:
                self._print(f"tapedeck: the run failed: {cut_words(event.message)}", file=stream)
                self.exit_code = 1
            if event.run_dir:
                self._print(f"run folder: {event.run_dir}", file=stream)
                _resume_hint(event.run_dir, self._print)
            return
        self.exit_code = {"completed": 0, "early_stopped": 0, "stopped": 130, "diverged": 1}.get(event.reason, 1)
        self._print(f"{event.reason.replace('_', ' ')}: {event.message}")
        self._print(f"run folder: {event.run_dir}")
        if self.test is not None:
            self._print(f"test loss {self.test.loss:.4f}")
            for name, figures in self.test.heads.items():
                kind = "accuracy" if "accuracy" in figures else "mae"
                self._print(f"test {name} ({figures['target']}): loss {figures['loss']:.4f}, "
                            f"{kind} {figures[kind]:.4f}")
            if not self.test.heads:
                self._print(f"test accuracy {self.test.accuracy:.4f}")


def _resume_hint(run_dir, say) -> None:
    """A run that failed after an epoch (a full disk at the next checkpoint) keeps that checkpoint: say how
    to continue from it."""
    from tapedeck.engine.runs.folder import RunFolder

    epoch = RunFolder(run_dir).checkpoint_epoch()
    if epoch:
        say(f"tapedeck: its checkpoint after epoch {epoch} is kept; once fixed, continue with "
            f"`tapedeck train --resume {run_dir}`", file=sys.stderr)


def progress_line(event, epochs: int, batch_size: int, width: int = 79) -> str:
    """The terminal's progress line, exactly ``width`` characters (spaces rub out a longer line
    before it): the bar takes what the figures leave, so an 80-column terminal never wraps it."""
    accuracy = f"acc {event.accuracy:.4f} " if event.accuracy is not None else ""   # heads of values: none
    figures = (f"{event.step}/{event.steps} loss {event.loss:.4f} {accuracy}"
               f"{event.samples_per_second:,.0f}/s ETA {eta_text(event, epochs, batch_size)}")
    head = f"epoch {event.epoch}/{epochs} "
    room = width - len(head) - len(figures) - 3
    if room < 5:   # a very narrow terminal: the figures without a bar
        return (head + figures)[:width].ljust(width)
    bar_width = min(BAR_WIDTH, room)
    filled = int(round(event.step / max(event.steps, 1) * bar_width))
    return f"{head}[{'#' * filled}{'.' * (bar_width - filled)}] {figures}".ljust(width)


def _snake(name: str) -> str:
    """EpochEnd -> epoch_end: the handler name for an event class."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
