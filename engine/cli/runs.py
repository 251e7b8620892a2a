"""``tapedeck runs``, ``tapedeck compare`` and ``tapedeck export``: the run history from a terminal.

Exit codes as for the other commands: 0 success, 2 a user mistake (a folder that is not a run, an
export the target refuses), each reported in one line naming the path and the fix.
"""
from __future__ import annotations

from pathlib import Path

from tapedeck.engine.cli.errors import fail as _fail
from tapedeck.engine.spec.experiment import APIS, LOOPS
from tapedeck.engine.text import percent

__all__ = ["add_runs_arguments", "runs_command", "add_compare_arguments", "compare_command",
           "add_export_arguments", "export_command", "resolve_run", "format_metrics_table"]


# --- tapedeck runs ------------------------------------------------------------------------------------

def add_runs_arguments(parser) -> None:
    parser.add_argument("folder", nargs="?", default="runs", metavar="DIR",
                        help="the runs folder (default: runs)")
    parser.add_argument("--all", action="store_true",
                        help="also list folders that are not Tapedeck runs, with the reason")


def runs_command(args) -> int:
    from tapedeck.engine.runs.index import format_runs_table, list_runs

    folder = Path(args.folder)
    if not folder.exists():
        return _fail(f"{folder}: no such folder; train something first (tapedeck train EXP.json --out {folder}) "
                     "or give the folder your runs are in")
    if _one_run(folder):
        return 0
    summaries = list_runs(folder, include_foreign=args.all)   # a TapedeckError is main()'s to report
    print(format_runs_table(summaries) if summaries else f"no runs in {folder}")
    return 0


def _one_run(folder: Path) -> bool:
    """A run's own folder given for the folder of runs ("no runs in" it was all it said, or with --all its
    subfolders): show that run, and say where the others are listed and which commands take a run as it is.
    False: not a run (a folder of runs, or anything else)."""
    import sys

    from tapedeck.engine.runs.index import format_runs_table, read_run

    summary = read_run(folder)
    if not summary.is_run:
        return False
    print(format_runs_table([summary]))
    parent = folder.resolve().parent if folder.name in ("", ".") else folder.parent
    print(f"tapedeck: note: {folder} is one run's folder, not a folder of runs: `tapedeck runs {parent}` lists it "
          f"with the others; compare, export and gradcam take the run's folder itself, e.g. "
          f"`tapedeck export {folder} --format keras --out model.keras`", file=sys.stderr)
    return True


# --- tapedeck compare ---------------------------------------------------------------------------------

def add_compare_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or folder names inside --runs-dir)")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR",
                        help="where to look for a RUN given by name (default: runs)")


def compare_command(args) -> int:
    from tapedeck.engine.runs.index import read_run
    from tapedeck.engine.spec.diff import (
        differences_among,
        experiment_differences,
        format_differences,
        format_differences_among,
    )

    if len(args.runs) < 2:
        return _fail("compare needs two or more runs, e.g. tapedeck compare runs/A runs/B")
    summaries = []
    for text in args.runs:
        path = resolve_run(text, args.runs_dir)
        if path is None:
            return _fail(f"{text}: no such run folder; `tapedeck runs {args.runs_dir}` lists the runs there")
        summary = read_run(path)
        if not summary.is_run or summary.experiment is None:
            return _fail(f"{path}: not a Tapedeck run ({summary.note or 'no experiment.json'})")
        summaries.append(summary)
    print(format_metrics_table(summaries))
    print()
    titles = [s.path.name for s in summaries]
    if len(summaries) == 2:
        print(format_differences(experiment_differences(summaries[0].experiment, summaries[1].experiment),
                                 titles[0], titles[1]))
    else:
        print(format_differences_among(differences_among([s.experiment for s in summaries]), titles))
    return 0


def resolve_run(text: str, runs_dir="runs") -> Path | None:
    """A run given as a path, or by its folder name inside ``runs_dir``."""
    for candidate in (Path(text), Path(runs_dir) / text):
        if candidate.is_dir():
            return candidate
    return None


def format_metrics_table(summaries) -> str:
    """One column per run: the figures worth comparing, from history.csv and metrics.json."""
    def value(s, key):
        m = s.metrics
        last = s.history[-1] if s.history else {}
        test = m.get("test") if isinstance(m.get("test"), dict) else {}
        return {
            "api": s.api or "-",
            "loop": s.loop or "-",
            "epochs": "-" if s.epochs is None else str(s.epochs),
            "best val accuracy": percent(s.best_val_accuracy)
            + ("" if s.best_epoch is None else f" (epoch {s.best_epoch})"),
            "final val accuracy": percent(last.get("val_accuracy")),
            "final loss": _number(last.get("loss")),
            "final val loss": _number(last.get("val_loss")),
            "test accuracy": percent(s.test_accuracy),
            "test loss": _number(test.get("loss")),
            "train seconds": _number(m.get("train_seconds"), "{:.1f}"),
            "samples/s": _number(m.get("samples_per_second"), "{:.0f}"),
            "status": s.status,
        }[key]

    keys = ("api", "loop", "epochs", "best val accuracy", "final val accuracy", "final loss", "final val loss",
            "test accuracy", "test loss", "train seconds", "samples/s", "status")
    headers = ["", *(s.path.name for s in summaries)]
    table = [[key, *(value(s, key) for s in summaries)] for key in keys]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() for t in table]
    return "\n".join(lines)


# --- tapedeck export ----------------------------------------------------------------------------------

def add_export_arguments(parser) -> None:
    from tapedeck.engine.runs.exports import EXPORT_FORMATS

    parser.add_argument("run", metavar="RUN", help="run folder (or its name inside --runs-dir)")
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                        help="keras (.keras file), savedmodel (TensorFlow Serving folder), tflite, onnx "
                             "(both checked against the model before they are written), "
                             "script (standalone training script), history (CSV)")
    parser.add_argument("--out", metavar="PATH",
                        help="file or folder to write (default: RUN/exports/...)")
    parser.add_argument("--api", choices=APIS,
                        help="script: how the model is written")
    parser.add_argument("--loop", choices=LOOPS, help="script: model.fit or the GradientTape loop")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR",
                        help="where to look for a RUN given by name (default: runs)")
    parser.add_argument("--from-checkpoint", action="store_true",
                        help="export the last checkpoint instead of model.keras (when that is damaged)")
    parser.add_argument("--model", metavar="ROLE",
                        help="a run of several models (a GAN's generator and discriminator): which one")


def export_command(args) -> int:
    from tapedeck.engine.runs.exports import export_run

    path = resolve_run(args.run, args.runs_dir)
    if path is None:
        return _fail(f"{args.run}: no such run folder; `tapedeck runs {args.runs_dir}` lists the runs there")
    result = export_run(path, args.format, out=args.out, api=args.api, loop=args.loop,
                        from_checkpoint=args.from_checkpoint, model=args.model)
    checked = ("" if result.max_difference is None else
               f"; predicts as the model does, largest difference {result.max_difference:.1g}")
    print(f"wrote {result.path} ({_size(result.bytes)}, {result.seconds:.1f} s{checked})")
    return 0



def _number(value, pattern="{:.4f}") -> str:
    return "-" if not isinstance(value, (int, float)) or value != value else pattern.format(value)


def _size(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)
