"""`python -m tapedeck`: the same as the `tapedeck` command (a sub-command runs headless, anything else
opens the window). pyproject.toml installs this folder as the top of the `tapedeck` package, which has
no __init__.py of its own: its wings (engine, gui, resources) are installed beside this file."""
import sys

from tapedeck.gui.entry import main

if __name__ == "__main__":
    sys.exit(main())
