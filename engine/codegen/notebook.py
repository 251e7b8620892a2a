"""The exported script as a Jupyter notebook: a cell per section of the script.

The script is the one source (``generate_code``); the notebook is cut from it at its section headings
(``# --- Data ---``, ``# --- Model ---`` …), so the two never disagree: its docstring becomes the
first Markdown cell, the imports and seed the first code cell, then a heading and a code cell per
section. nbformat writes and validates the file (format 4), as Jupyter itself does.
"""
from __future__ import annotations

import ast
import re

_SECTION = re.compile(r"^# --- (?P<title>.+?) -*$")


def notebook_cells(script: str) -> list[tuple[str, str]]:
    """[("markdown" | "code", source), …] in the script's order; blank edges trimmed."""
    lines = script.splitlines()
    cells: list[tuple[str, str]] = []
    tree = ast.parse(script)
    docstring = ast.get_docstring(tree, clean=True)
    if docstring is not None:
        title, _, rest = docstring.partition("\n")
        cells.append(("markdown", f"# {title.strip()}\n\n{rest.strip()}".strip()))
        lines = lines[tree.body[0].end_lineno:]
    code: list[str] = []

    def flush():
        text = "\n".join(code).strip("\n")
        if text:
            cells.append(("code", text))
        code.clear()

    for line in lines:
        match = _SECTION.match(line)
        if match:
            flush()
            cells.append(("markdown", f"## {match.group('title').strip()}"))
        else:
            code.append(line)
    flush()
    return cells


def script_notebook(script: str):
    """An ``nbformat`` v4 notebook (validated) holding the script's cells, with a Python 3 kernel."""
    import nbformat
    from nbformat import v4

    notebook = v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.cells = [v4.new_markdown_cell(text) if kind == "markdown" else v4.new_code_cell(text)
                      for kind, text in notebook_cells(script)]
    nbformat.validate(notebook)
    return notebook


def notebook_text(script: str) -> str:
    """The .ipynb file's text."""
    import nbformat

    return nbformat.writes(script_notebook(script)) + "\n"
