"""``tapedeck sweep EXP.json --set SETTING=VALUES … [--search grid|random|tpe] [--trials N]``.

``grid`` trains every combination of the listed values (``engine.queues.sweep``); ``random`` and
``tpe`` draw ``--trials`` settings from ranges or lists through Optuna (``engine.queues.search``),
pruning poor trials after each epoch and keeping the study in the runs folder, so the same command
after a stop continues the search. Each run prints one line; the ranking table comes last.
Exit codes: 0 done, 2 a user mistake (a bad setting or range), 130 stopped by Ctrl-C.
"""
from __future__ import annotations

import sys

from tapedeck.engine.cli.errors import USER_ERROR, fail, load_or_explain
from tapedeck.engine.text import percent

__all__ = ["add_sweep_arguments", "sweep_command"]


def add_sweep_arguments(parser) -> None:
    from tapedeck.engine.cli.train import _positive_int

    parser.add_argument("experiment", help="experiment file (JSON)")
    parser.add_argument("--set", dest="axes", action="append", default=[], metavar="SETTING=VALUES",
                        help="a setting and its values: training.learning_rate=0.001,0.003 (grid or choices), "
                             "or a range for random/tpe: training.learning_rate=1e-4..1e-2:log, "
                             "model.layers[4].units=16..128; up to three")
    parser.add_argument("--search", choices=("grid", "random", "tpe"), default="grid",
                        help="grid: every combination; random or tpe (Bayesian): --trials draws through Optuna")
    parser.add_argument("--trials", type=_positive_int, metavar="N", default=10,
                        help="random/tpe: finished trials the study should hold (default 10); a resumed "
                             "study runs only the rest")
    parser.add_argument("--study", metavar="NAME", help="random/tpe: the study's name (default EXP-NAME-SEARCH)")
    parser.add_argument("--out", default="runs", metavar="DIR", help="folder for run folders and the study")
    parser.add_argument("--epochs", type=_positive_int, metavar="N", help="train each run this many epochs")
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="use only the first N training examples")


def sweep_command(args) -> int:
    from tapedeck.engine.cli.train import _install_interrupt
    from tapedeck.engine.queues.sweep import SweepError, format_ranking, ranking
    from tapedeck.engine.training.run import RunControl

    experiment = load_or_explain(args.experiment)
    if experiment is None:
        return USER_ERROR
    if args.epochs:
        experiment.training.epochs = args.epochs
    if args.limit:
        experiment.data.limit = args.limit
    if not args.axes:
        return fail("sweep: give at least one --set SETTING=VALUES, e.g. --set training.learning_rate=0.001,0.003")
    control = RunControl()
    restore = _install_interrupt(control)
    try:
        from tapedeck.engine.queues.search import check_runs_folder

        check_runs_folder(args.out)   # before any run: a file in the way fails every run otherwise
        if args.search == "grid":
            axes, results = _grid(experiment, args, control)
        else:
            axes, results = _search(experiment, args, control)
    except SweepError as error:
        for line in error.problems[1:]:
            print(f"  {line}", file=sys.stderr)
        return fail(error.problems[0] if len(error.problems) == 1 else
                    f"the sweep cannot start ({len(error.problems)} problems):\n" + "\n".join(error.problems))
    finally:
        restore()
    print()
    from tapedeck.engine.queues.sweep import SweepAxis

    print(format_ranking(ranking([r.run_dir for r in results], [SweepAxis(a.setting, ()) for a in axes])))
    return 130 if control.stop_requested else 0


def _line(index: int, total, event) -> None:
    from tapedeck.engine.training.events import Finished

    if isinstance(event, Finished):
        print(f"run {index + 1}{f' of {total}' if total else ''}: {event.reason.replace('_', ' ')} — "
              f"{event.message.splitlines()[0] if event.message else ''}", flush=True)


def _grid(experiment, args, control):
    from tapedeck.engine.queues.queue import run_queue
    from tapedeck.engine.queues.sweep import expand, parse_axis

    axes = [parse_axis(text) for text in args.axes]
    experiments = expand(experiment, axes)
    print(f"grid: {len(experiments)} run(s)", flush=True)
    results = run_queue(experiments, lambda index, event: _line(index, len(experiments), event), control,
                        runs_dir=args.out)
    return axes, results


def _search(experiment, args, control):
    from tapedeck.engine.queues.search import TrialDone, parse_search_axis, run_search, storage_path

    axes = [parse_search_axis(text) for text in args.axes]

    def report(index, event):
        if isinstance(event, TrialDone):
            values = ", ".join(f"{k}={_shown(v)}" for k, v in event.values.items())
            print(f"trial {event.number}: {event.state} {percent(event.value) if event.value is not None else ''}"
                  f" ({values})", flush=True)

    print(f"{args.search}: up to {args.trials} trial(s), study in {storage_path(args.out)}", flush=True)
    result = run_search(experiment, axes, args.search, args.trials, report, control, runs_dir=args.out,
                        study_name=args.study)
    if result.resumed_from:
        print(f"(the study already held {result.resumed_from} finished trial(s); this run continued it)")
    if result.best is not None:
        values = ", ".join(f"{k}={_shown(v)}" for k, v in result.best.values.items())
        print(f"best: trial {result.best.number}, validation accuracy {percent(result.best.value)} ({values})")
    return axes, result.results


def _shown(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
