"""The Code tab saves the script as .py or as a Jupyter notebook, says what it saved, and names the
file without repeating the API (fault 11 of issue 23)."""
import nbformat
from PySide6.QtWidgets import QFileDialog

from tapedeck.engine.spec.experiment import load_preset
from tapedeck.gui.document import Document
from tapedeck.gui.tabs.code_tab import NOTEBOOK_FILTER, PYTHON_FILTER, CodeView


def _view(qtbot, preset="digits_two_heads_functional"):
    view = CodeView(Document(load_preset(preset), None))
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    return view


def test_the_default_name_does_not_repeat_the_api(qtbot):
    view = _view(qtbot)
    assert view.default_name() == "digits_two_heads_functional_fit.py"
    assert _view(qtbot, "digits_cnn").default_name() == "digits_cnn_sequential_fit.py"
    assert view.default_name(".ipynb") == "digits_two_heads_functional_fit.ipynb"


def test_save_as_script_and_as_notebook_each_say_where(qtbot, tmp_path, monkeypatch):
    view = _view(qtbot)
    assert not view.confirmation.isVisible()
    answers = iter([(str(tmp_path / "mine"), PYTHON_FILTER),
                    (str(tmp_path / view.default_name()), NOTEBOOK_FILTER)])   # the suggested .py name kept
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: next(answers))
    saved = []
    view.saved.connect(saved.append)

    view.save_button.click()
    script = tmp_path / "mine.py"
    assert script.read_text() == view.editor.toPlainText()
    assert view.confirmation.isVisible() and "mine.py" in view.confirmation.text()
    assert "script" in view.confirmation.text()

    view.save_button.click()
    notebook_path = tmp_path / "digits_two_heads_functional_fit.ipynb"
    notebook = nbformat.read(str(notebook_path), as_version=4)
    assert [c.cell_type for c in notebook.cells[:3]] == ["markdown", "code", "markdown"]
    assert "notebook" in view.confirmation.text() and notebook_path.name in view.confirmation.text()
    assert saved == [str(script), str(notebook_path)]
    view.grab().save(str(tmp_path / "code-tab-saved.png"))


def test_a_failed_save_says_why(qtbot, tmp_path):
    view = _view(qtbot)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not view.save(str(blocker / "x.py"))
    assert "Not saved" in view.confirmation.text() and view.confirmation.isVisible()
