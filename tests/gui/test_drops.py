"""Files dropped on the window open as what they are: experiment, data set or Keras model."""
import numpy as np
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tapedeck.engine.spec.experiment import load_preset, save_experiment
from tapedeck.gui.drops import dropped_kind, install_drops


def _drop(window, path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    centre = QPoint(window.width() // 2, window.height() // 2)
    enter = QDragEnterEvent(centre, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(centre, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def test_what_a_dropped_path_is(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"zip")
    (tmp_path / "e.json").write_text("{}")
    np.savez(tmp_path / "d.npz", x_train=np.zeros((2, 2)))
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "images" / "cat").mkdir(parents=True)
    assert [dropped_kind(str(tmp_path / n))[0] for n in ("m.keras", "e.json", "d.npz", "images", "notes.txt")] == [
        "model", "experiment", "data", "data", None]
    assert "not something Tapedeck opens" in dropped_kind(str(tmp_path / "notes.txt"))[1]


def test_drops_on_the_window(qtbot, tmp_path, make_window, monkeypatch):
    window = make_window(wait=False)
    install_drops(window)

    data = tmp_path / "mine.npz"
    np.savez(data, x_train=np.zeros((4, 8, 8), np.float32), y_train=np.arange(4) % 2,
             x_test=np.zeros((2, 8, 8), np.float32), y_test=np.arange(2))
    assert _drop(window, data)
    assert window.document.experiment.data.source == "npz" and window.document.experiment.data.path == str(data)

    experiment = load_preset("digits_residual")
    saved = tmp_path / "residual.json"
    save_experiment(experiment, saved)
    assert _drop(window, saved)
    assert window.document.path == str(saved) and window.document.experiment.name == experiment.name

    imported = []
    monkeypatch.setattr(window.model_import, "ask_and_import", imported.append)
    model = tmp_path / "net.keras"
    model.write_bytes(b"not read here")
    assert _drop(window, model) and imported == [str(model)]

    stray = tmp_path / "notes.txt"
    stray.write_text("")
    assert _drop(window, stray)
    assert "not something Tapedeck opens" in window.notice.text()
