"""The `tapedeck` console script: a sub-command (check, code, train, …) runs headless through
`engine.cli.main`; anything else — nothing, or an experiment file — opens the window. Living in gui/
keeps the engine free of any path to Qt."""
from __future__ import annotations

import sys

from tapedeck.engine.cli.main import COMMANDS, INTERRUPTED
from tapedeck.engine.cli.main import main as headless_main


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS + ("-h", "--help"):
        return headless_main(argv)
    try:   # Ctrl-C while Qt and TensorFlow load: exit quietly, as a shell expects
        from tapedeck.gui.app import main as window_main

        return window_main(argv)
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
