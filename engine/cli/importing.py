"""``tapedeck import MODEL.keras [-o EXP.json] [--keep-weights]``: an existing model as an experiment.

Without ``-o`` the experiment is printed; with it, the file is written atomically. ``--keep-weights``
also writes the model's trained weights beside the experiment (``EXP.weights.npz``) and records their
full path in ``training.initial_weights``, so ``tapedeck train EXP.json`` fine-tunes the model.
"""
from __future__ import annotations

import sys
from pathlib import Path

from tapedeck.engine.cli.errors import fail

__all__ = ["add_import_arguments", "import_command", "weights_path_for"]


def add_import_arguments(parser) -> None:
    parser.add_argument("model", help="a .keras model file, or a .json file holding model.to_json()")
    parser.add_argument("-o", "--output", metavar="EXP.json", help="write the experiment here instead of stdout")
    parser.add_argument("--keep-weights", action="store_true",
                        help="keep the trained weights (EXP.weights.npz beside EXP.json): training starts from them")


def weights_path_for(experiment_path) -> Path:
    """``exp.json`` → ``exp.weights.npz`` in the same folder."""
    from tapedeck.engine.model.importer import WEIGHTS_SUFFIX

    path = Path(experiment_path)
    stem = path.name[:-len(".json")] if path.name.endswith(".json") else path.name
    return path.with_name(stem + WEIGHTS_SUFFIX)


def import_command(args) -> int:
    from tapedeck.engine.model.importer import import_model, save_weights
    from tapedeck.engine.spec.experiment import dumps, save_experiment

    if args.keep_weights and not args.output:
        return fail("--keep-weights writes the weights beside the experiment file; give one with -o EXP.json")
    if args.output and not args.output.endswith(".json"):
        return fail(f"{args.output}: an experiment file ends in .json")
    imported = import_model(args.model)
    experiment = imported.experiment
    if args.keep_weights:
        weights = save_weights(imported.model, weights_path_for(args.output))
        experiment.training.initial_weights = str(weights.resolve())
    for note in imported.notes:
        print(f"tapedeck: note: {note}", file=sys.stderr)
    if not args.output:
        sys.stdout.write(dumps(experiment))
        return 0
    save_experiment(experiment, args.output)
    kept = f", weights in {weights_path_for(args.output)}" if args.keep_weights else ""
    print(f"wrote {args.output} ({len(experiment.model.layers)} layers, {experiment.model.api}{kept})")
    return 0
