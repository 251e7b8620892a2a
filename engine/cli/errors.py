"""How every command-line entry point tells a person about their mistake: one line per problem,
prefixed with the program's name, never a traceback, and the same exit code everywhere."""
from __future__ import annotations

import sys

USER_ERROR = 2


def fail(message: str) -> int:
    """Print a user-facing error and return the user-error exit code."""
    from tapedeck.engine.text import cut_words

    print(f"tapedeck: {cut_words(message)}", file=sys.stderr)
    return USER_ERROR


def load_or_explain(path):
    """Load an experiment file — or a bundled preset by name (``tapedeck train cartpole_ppo``) where no
    such file exists; on a mistake print every problem (each names its key) and return None."""
    from pathlib import Path

    from tapedeck.engine.spec.experiment import ExperimentError, list_presets, load_experiment, load_preset
    from tapedeck.engine.text import cut_words

    try:
        if not Path(path).exists() and str(path) in list_presets():
            return load_preset(str(path))
        return load_experiment(path)
    except ExperimentError as error:
        lines = str(error).splitlines()
        if len(lines) == 1:
            fail(lines[0])
        else:
            fail(f"{path} has {len(lines)} problems:")
            for line in lines:
                print(f"  {cut_words(line)}", file=sys.stderr)
        return None
