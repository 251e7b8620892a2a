"""The exported script as a Jupyter notebook: a cell per section, the same code as the .py."""
import json
from pathlib import Path

import nbformat
import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.codegen.notebook import notebook_cells, script_notebook
from tapedeck.engine.codegen.script import generate_code
from tapedeck.engine.spec.experiment import load_preset


@pytest.mark.parametrize("preset, loop", [("digits_cnn", "fit"), ("digits_cnn", "tape"),
                                          ("digits_two_heads_functional", "fit"), ("digits_residual", "tape")])
def test_a_cell_per_section_and_the_same_code(preset, loop):
    script = generate_code(load_preset(preset), loop=loop)
    cells = notebook_cells(script)
    headings = [line[len("# --- "):].rstrip("- ") for line in script.splitlines() if line.startswith("# --- ")]
    assert [text for kind, text in cells if kind == "markdown"][1:] == [f"## {h}" for h in headings]
    assert cells[0][0] == "markdown" and cells[0][1].startswith(f"# {load_preset(preset).name}")
    assert [kind for kind, _ in cells[1:3]] == ["code", "markdown"]    # imports and seed, then the first section
    code = "\n".join(text for kind, text in cells if kind == "code")
    compile(code, "notebook", "exec")
    kept = [line for line in script.split('"""', 2)[2].splitlines() if line.strip() and not line.startswith("# --- ")]
    assert [line for line in code.splitlines() if line.strip()] == kept   # nothing lost, nothing added
    nbformat.validate(script_notebook(script))


def test_code_writes_a_notebook_for_an_ipynb_name(tmp_path, capsys):
    out = tmp_path / "digits.ipynb"
    preset = Path(__file__).resolve().parents[3] / "resources" / "presets" / "digits_cnn.json"
    assert main(["code", str(preset), "--loop", "tape", "-o", str(out)]) == 0
    notebook = nbformat.read(str(out), as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert any("tf.GradientTape" in cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert json.loads(out.read_text())["nbformat"] == 4
