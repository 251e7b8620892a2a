"""The headless `tapedeck` sub-commands (check, code, train, evaluate, runs, compare, export, import, sweep) for scripts
and servers; `gui.entry` routes everything else to the window.

Exit codes: 0 success, 2 a user mistake (bad experiment, missing data, a stack that does
not check) reported in plain words, 1 an unexpected internal error.
"""
from __future__ import annotations

import argparse
import os
import sys

from tapedeck.engine.cli.errors import USER_ERROR, fail, load_or_explain
from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.spec.experiment import APIS, EXECUTIONS, LOOPS

COMMANDS = ("check", "code", "train", "step", "runs", "compare", "export", "import", "sweep", "gradcam", "evaluate")
# runs, compare and code answer in well under a second
NEEDS_TENSORFLOW = ("check", "train", "step", "export", "import", "sweep", "gradcam", "evaluate")


INTERRUPTED = 130   # the shell's code for a process ended by Ctrl-C (128 + SIGINT)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:   # Ctrl-C while TensorFlow still loads (the first seconds) is a plain exit too, no traceback
        args = _parser().parse_args(argv)
        if args.command in NEEDS_TENSORFLOW:
            _import_tensorflow_quietly()
        return args.func(args)
    except TapedeckError as error:   # written for the person: shown as it is, exit 2
        return fail(str(error))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return INTERRUPTED


def version() -> str:
    """The installed distribution's version (pyproject.toml's), as pip reports it."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("tapedeck")
    except PackageNotFoundError:   # run from a checkout that was never installed
        return "unknown (not installed; pip install -e . in the checkout)"


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe devices with their C++ start-up chatter (oneDNN, CUDA probes) kept off the terminal.

    Those lines are written to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL takes effect, so
    only a descriptor-level redirect hides them; if the import fails, the chatter is shown.
    """
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # device probing chatter, here too
        except KeyboardInterrupt:
            raise   # the person stopped it: TensorFlow's start-up chatter explains nothing then
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tapedeck",
        description="Desktop trainer for Keras models. Without a command, `tapedeck [EXP.json]` "
        "opens the window; `tapedeck --install-desktop` adds it to the desktop's application menu.",
    )
    parser.add_argument("--version", action="version", version=f"tapedeck {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="print each layer's output shape and parameters")
    check.add_argument("experiment", help="experiment file (JSON)")
    check.add_argument("--api", choices=APIS)
    check.set_defaults(func=cmd_check)

    code = sub.add_parser("code", help="print the Python script a person would write by hand")
    code.add_argument("experiment", help="experiment file (JSON)")
    code.add_argument("--api", choices=APIS)
    code.add_argument("--loop", choices=LOOPS)
    code.add_argument("--execution", choices=EXECUTIONS,
                      help="how each step runs in the script: graph (tf.function), eager or xla (jit_compile)")
    code.add_argument("-o", "--output", help="write the script to this file instead of stdout "
                                             "(a Jupyter notebook, a cell per section, when it ends in .ipynb)")
    code.set_defaults(func=cmd_code)

    from tapedeck.engine.cli.train import add_train_arguments, train_command

    train = sub.add_parser("train", help="train headless and write a run folder")
    add_train_arguments(train)
    train.set_defaults(func=train_command)

    from tapedeck.engine.cli.step import add_step_arguments, step_command

    step = sub.add_parser("step", help="take one training step (or N) apart: per-layer gradients and updates")
    add_step_arguments(step)
    step.set_defaults(func=step_command)

    from tapedeck.engine.cli.runs import (
        add_compare_arguments,
        add_export_arguments,
        add_runs_arguments,
        compare_command,
        export_command,
        runs_command,
    )

    runs = sub.add_parser("runs", help="list the runs in a folder as a table")
    add_runs_arguments(runs)
    runs.set_defaults(func=runs_command)

    compare = sub.add_parser("compare",
                             help="metrics of two or more runs side by side, and how their experiments differ")
    add_compare_arguments(compare)
    compare.set_defaults(func=compare_command)

    export = sub.add_parser("export", help="write a run's model as .keras, SavedModel or TensorFlow Lite "
                                           "(or its script or history)")
    add_export_arguments(export)
    export.set_defaults(func=export_command)

    from tapedeck.engine.cli.importing import add_import_arguments, import_command

    imports = sub.add_parser("import", help="turn a .keras model (or its JSON config) into an experiment")
    add_import_arguments(imports)
    imports.set_defaults(func=import_command)

    from tapedeck.engine.cli.sweep import add_sweep_arguments, sweep_command

    sweep = sub.add_parser("sweep", help="several runs: a grid, or a random / TPE search through Optuna")
    add_sweep_arguments(sweep)
    sweep.set_defaults(func=sweep_command)

    from tapedeck.engine.cli.gradcam import add_gradcam_arguments, gradcam_command

    gradcam = sub.add_parser("gradcam", help="Grad-CAM heat maps of a run's test image (predicted and true class)")
    add_gradcam_arguments(gradcam)
    gradcam.set_defaults(func=gradcam_command)

    from tapedeck.engine.cli.evaluate import add_evaluate_arguments, evaluate_command

    evaluate = sub.add_parser("evaluate", help="play a reinforcement-learning run's greedy policy: mean and "
                                               "spread of the return")
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=evaluate_command)
    return parser


def cmd_check(args) -> int:
    from tapedeck.engine.data.datasets import describe
    from tapedeck.engine.objectives.check import check_experiment
    from tapedeck.engine.text import cut_words

    experiment = load_or_explain(args.experiment)
    if experiment is None:
        return USER_ERROR
    input_shape, num_classes, _names = describe(experiment.data)
    report = check_experiment(experiment, input_shape, num_classes, api=args.api)
    print(report.format_table())
    from tapedeck.engine.data.streaming import plan_data
    from tapedeck.engine.spec.objectives import objective_kind

    if objective_kind(experiment.objective).data == "environment":   # reinforcement learning: no data set
        print(f"data: played in {experiment.objective.env} (no data set: the examples come from acting)")
    else:
        print(plan_data(experiment.data, experiment).message)   # streamed from disk or in memory, and why
    if experiment.data.source == "folder":   # the headers train reads: the files it would skip, named now
        from tapedeck.engine.data.image_folder import header_warnings

        for line in header_warnings(experiment.data.path, experiment.data.image_size, experiment.data.color_mode):
            print(f"tapedeck: warning: {line}", file=sys.stderr)
    from tapedeck.engine.model.check_rules import precision_warning
    from tapedeck.engine.training.fused_update import unfused_note

    for warning in (precision_warning(experiment.training.precision), unfused_note(experiment)):
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    if report.ok:
        return 0
    print(file=sys.stderr)
    for line in report.all_problems():
        print(f"error: {cut_words(line)}", file=sys.stderr)
    return USER_ERROR


def cmd_code(args) -> int:
    from tapedeck.engine.codegen.formatting import ruff_formatted
    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.files import write_text_atomic

    experiment = load_or_explain(args.experiment)
    if experiment is None:
        return USER_ERROR
    if args.execution:
        experiment.training.execution = args.execution
    try:
        source = ruff_formatted(generate_code(experiment, api=args.api, loop=args.loop))
    except ValueError as error:
        return fail(str(error))
    if args.output:
        if args.output.lower().endswith(".ipynb"):
            from tapedeck.engine.codegen.notebook import notebook_text

            source = notebook_text(source)
        write_text_atomic(args.output, source)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
