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
    """Load an experiment file; on a mistake print every problem (each names its key) and return None."""
    from tapedeck.engine.spec.experiment import ExperimentError, load_experiment
    from tapedeck.engine.text import cut_words

    try:
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
