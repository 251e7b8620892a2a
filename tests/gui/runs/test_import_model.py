"""File ▸ Import model… in the real window: the load runs in a job's thread, the result opens as the document."""
from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.gui.conftest import small_digits  # noqa: E402


def _exported(tmp_path, preset="digits_residual"):
    from tapedeck.engine.model.build import build_model
    from tapedeck.engine.runs.exports import save_keras
    from tapedeck.engine.spec.experiment import load_preset

    return save_keras(build_model(load_preset(preset), (8, 8, 1)), tmp_path / f"{preset}.keras")


def test_import_opens_the_model_as_the_document_off_the_gui_thread(qtbot, make_window, tmp_path, monkeypatch):
    from tapedeck.gui.runs import import_model

    window = make_window(small_digits())
    actions = [a.text().replace("&", "") for a in window.menuBar().actions()[0].menu().actions()]
    assert "Import model…" in actions
    threads = []
    real = import_model.import_work

    def recording(*args):
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(import_model, "import_work", recording)
    path = _exported(tmp_path)
    window.model_import.import_path(str(path), keep_weights=True)
    assert not window.model_import.action.isEnabled()   # one import at a time
    qtbot.waitUntil(lambda: window.document.experiment.name == "digits_residual", timeout=60_000)
    assert threads and threads[0] != threading.main_thread().name
    assert window.model_import.importer.job.thread_name == "tapedeck-import-model"
    experiment = window.document.experiment
    assert experiment.model.api == "functional" and experiment.model.layers[3].inputs == ["stem", "conv_b"]
    assert experiment.training.initial_weights.startswith(str(window.controller.runs_dir))
    assert window.document.path is None and not window.document.undo_stack.canUndo()
    assert window.model_import.action.isEnabled()


def test_a_refused_file_is_shown_in_a_message_box(qtbot, make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window = make_window(small_digits())
    before = window.document.experiment.to_dict()
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    bad = tmp_path / "broken.keras"
    bad.write_text("not a model")
    window.model_import.import_path(str(bad), keep_weights=False)
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    assert shown[0][0] == "Cannot import the model" and "not a .keras model file" in shown[0][1]
    assert window.document.experiment.to_dict() == before
