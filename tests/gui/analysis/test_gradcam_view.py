"""The Grad-CAM dialog: from a gallery tile (predicted and true class side by side) and from your own
drawing (predicted and runner-up), computed in a Job thread, not on the GUI thread."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402

from tests.support.run_support import trained_run  # noqa: E402


@pytest.fixture(scope="module")
def analysed():
    from tapedeck.engine.analysis.reopen import open_run

    return open_run(trained_run())


def test_a_gallery_tile_opens_both_heat_maps_off_the_gui_thread(qtbot, analysed):
    from PySide6.QtCore import QThread

    from tapedeck.engine.analysis.gradcam import gradcam
    from tapedeck.gui.analysis.confusion_view import ConfusionView

    view = ConfusionView()
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show_run(analysed)
    view.show()
    view.galleries.setCurrentIndex(1)   # the most confidently wrong: predicted and true differ
    assert not view.gradcam_button.isEnabled()
    view.wrong_gallery.setCurrentRow(0)
    assert view.gradcam_button.isEnabled()
    index = view.wrong_gallery.item(0).data(Qt.UserRole + 3)
    qtbot.mouseClick(view.gradcam_button, Qt.LeftButton)
    dialog = view.gradcam
    assert dialog is not None and dialog.busy
    qtbot.waitUntil(lambda: not dialog.busy and dialog.result is not None, timeout=60_000)
    assert dialog.thread_name == "tapedeck-gradcam" != QThread.currentThread().objectName()
    first, second = dialog.result
    assert first.class_index == int(analysed.predicted_labels[index])
    assert second.class_index == int(analysed.true_labels[index]) != first.class_index
    assert first.layer == second.layer == "conv2d_1" == dialog.layer.currentText()
    expected = gradcam(analysed.model, analysed.dataset.x_test[index], second.class_index, "conv2d_1")
    np.testing.assert_allclose(second.heatmap, expected.heatmap, atol=1e-5)
    assert all(not picture.pixmap().isNull() for picture in dialog.pictures)
    names = analysed.class_names
    assert dialog.captions[1].text().startswith(f"<b>true</b>: {names[second.class_index]}")

    dialog.layer.setCurrentText("conv2d")          # another layer: computed again, in the thread
    qtbot.waitUntil(lambda: not dialog.busy and dialog.result[0].layer == "conv2d", timeout=60_000)
    dialog.resize(560, 420)
    dialog.grab().save("/tmp/tapedeck-gradcam.png")
    dialog.close()

    view.wrong_gallery.itemActivated.emit(view.wrong_gallery.item(1))   # a double-click does the same
    qtbot.waitUntil(lambda: view.gradcam.result is not None, timeout=60_000)
    view.gradcam.close()


def test_own_drawing_opens_predicted_and_runner_up(qtbot, analysed):
    from tapedeck.gui.analysis.own_input_view import OwnInputView

    view = OwnInputView()
    qtbot.addWidget(view)
    view.show()
    view.set_run(analysed)
    assert not view.gradcam_button.isEnabled()
    qtbot.mousePress(view.canvas, Qt.LeftButton, pos=QPoint(140, 40))
    for y in range(50, 250, 20):
        qtbot.mouseMove(view.canvas, QPoint(140, y))
    qtbot.mouseRelease(view.canvas, Qt.LeftButton, pos=QPoint(140, 250))
    qtbot.waitUntil(lambda: view.probabilities is not None, timeout=5000)
    qtbot.mouseClick(view.gradcam_button, Qt.LeftButton)
    dialog = view.gradcam
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=60_000)
    order = np.argsort(-view.probabilities)
    assert [cam.class_index for cam in dialog.result] == [int(order[0]), int(order[1])]
    assert dialog.captions[1].text().startswith("<b>runner-up</b>")
    dialog.close()


def test_a_model_without_convolutions_says_so_in_the_dialog(qtbot, analysed):
    from dataclasses import replace

    from tapedeck.engine.model.build import build_model
    from tapedeck.gui.analysis.gradcam_view import GradCamDialog
    from tests.support.training_support import experiment

    dense = replace(analysed, model=build_model(experiment(), (8, 8, 1), api="functional"))
    dialog = GradCamDialog(dense, analysed.dataset.x_test[0], 1)
    qtbot.addWidget(dialog)
    assert "needs a convolutional layer" in dialog.status.text() and not dialog.layer.isEnabled()
    assert not dialog.busy
