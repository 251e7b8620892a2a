"""``tapedeck step``: take one training step (or N) apart on the terminal.

The same run as ``tapedeck train``, paused after N steps and then stopped: for the last step (and
every K-th with ``--every K`` in the GradientTape loop) a table per trainable layer — gradient,
weight and update norms, the update ratio, dead gradients, non-finite values — and a verdict on
the update ratio, the health signal practitioners read.
"""
from __future__ import annotations

import sys

from tapedeck.engine.cli.errors import USER_ERROR, fail
from tapedeck.engine.cli.train import ConsoleReporter, _load, _positive_int, add_train_arguments
from tapedeck.engine.training.health import verdict

__all__ = ["add_step_arguments", "step_command", "format_layer_table"]

def add_step_arguments(parser) -> None:
    add_train_arguments(parser)
    parser.add_argument("--steps", type=_positive_int, default=1, metavar="N", help="steps to take (default 1)")
    parser.add_argument("--every", type=_positive_int, metavar="K",
                        help="also show every K-th step (GradientTape loop)")


def _number(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def format_layer_table(layers, gradients_visible: bool, optimizer: str | None = None) -> str:
    header = f"{'layer':<20} {'grad norm':>10} {'weight norm':>12} {'update/weight':>14} {'zero grads':>11} " \
             f"{'non-finite':>11}  verdict"
    lines = [header]
    for layer in layers:
        zero = "-" if layer.zero_grad_share is None else f"{100 * layer.zero_grad_share:.1f}%"
        nonfinite = "-" if layer.nonfinite is None else str(layer.nonfinite)
        lines.append(f"{layer.name[:20]:<20} {_number(layer.grad_norm):>10} {_number(layer.weight_norm):>12} "
                     f"{_number(layer.update_ratio):>14} {zero:>11} {nonfinite:>11}  "
                     f"{verdict(layer.update_ratio, optimizer, layer.zero_grad_share)}")
    if not gradients_visible:
        lines.append("gradients: plain model.fit keeps them inside Keras; use --loop tape to see them")
    return "\n".join(lines)


class StepReporter(ConsoleReporter):
    """The run's own lines, the inspected steps as tables, and a stop once the last step is shown."""

    def __init__(self, stream, control, every: int = 0, optimizer: str | None = None):
        super().__init__(stream, tty=False)
        self.optimizer = optimizer   # the verdict's healthy band depends on it (health.band)
        self.control = control
        self.every = every
        self.inspected = 0

    def _on_gradient_record(self, event) -> None:
        # The last step's record comes just before its full inspection, which prints it.
        if self.every and self.control.steps_left != 1:
            self._print(f"\nstep {event.step} (epoch {event.epoch})")
            self._print(format_layer_table(event.layers, True, self.optimizer))

    def _on_step_inspected(self, event) -> None:
        self.inspected += 1
        self._print(f"\nstep {event.step} (epoch {event.epoch}) · batch loss {event.loss:.4f}")
        self._print(format_layer_table(event.layers, event.gradients_visible, self.optimizer))
        self.control.stop()   # the run pauses after this step; stop it there

    def _on_finished(self, event) -> None:
        super()._on_finished(event)
        if self.exit_code == 130 and self.inspected:
            self.exit_code = 0   # stopped as asked, after its steps


def step_command(args) -> int:
    experiment, code = _load(args)
    if experiment is None:
        return code
    if not experiment.objective.is_classify:   # its per-layer inspection reads one classifier's step
        return fail(f"step: takes a classifier's step apart; objective {experiment.objective.kind!r} has its own "
                    "step, so run `tapedeck train EXP --epochs 1` (one epoch; for reinforcement learning, one "
                    "update)")
    from tapedeck.engine.training.run import RunControl, run

    experiment.training.inspect_every = args.every or 0
    control = RunControl()
    control.step(args.steps)
    reporter = StepReporter(sys.stdout, control, args.every or 0, experiment.training.optimizer)
    run(experiment, reporter, control, runs_dir=args.out, resume_dir=args.resume)
    if reporter.exit_code == 0 and not reporter.inspected:
        print("tapedeck: the run ended before its steps could be inspected", file=sys.stderr)
        return USER_ERROR
    return reporter.exit_code
