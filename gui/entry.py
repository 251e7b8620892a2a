"""The `tapedeck` console script: a sub-command (check, code, train, …) runs headless through
`engine.cli.main`; anything else — nothing, or an experiment file — opens the window. Living in gui/
keeps the engine free of any path to Qt."""
from __future__ import annotations

import sys

from tapedeck.engine.cli.main import COMMANDS, INTERRUPTED
from tapedeck.engine.cli.main import main as headless_main


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS + ("-h", "--help", "--version"):
        return headless_main(argv)
    if argv[:1] == ["--install-desktop"]:
        return install_desktop_command(argv[1:])
    try:   # Ctrl-C while Qt and TensorFlow load: exit quietly, as a shell expects
        from tapedeck.gui.app import main as window_main

        return window_main(argv)
    except KeyboardInterrupt:
        return INTERRUPTED


def install_desktop_command(rest: list[str]) -> int:
    """`tapedeck --install-desktop`: the menu entry and icon, under the XDG data folder."""
    from tapedeck.engine.cli.errors import fail
    from tapedeck.engine.files import WriteError, why_unwritable
    from tapedeck.gui.desktop_entry import install_desktop

    if rest:
        return fail(f"--install-desktop takes no arguments (got {' '.join(rest)})")
    try:
        written = install_desktop()
    except WriteError as error:      # names the file and the fix already
        return fail(str(error))
    except OSError as error:         # a folder that could not be made
        return fail(why_unwritable(error.filename or "the XDG data folder", error))
    for path in written:
        print(f"wrote {path}")
    print("Tapedeck is in your desktop's application menu (log out and in if it does not show yet).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
