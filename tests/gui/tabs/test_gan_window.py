"""A GAN in the window: both models edited with the same stack editor (a switcher picks which), the
check naming the model that does not fit, fit not offered for it, and a short run off the GUI thread
that draws the sample grid and changes it epoch by epoch."""
from __future__ import annotations

import threading

import numpy as np

from tests.gui.conftest import small_digits, wait_run_over


def short_gan(epochs=2):
    experiment = small_digits("digits_gan", epochs=epochs, limit=128)
    experiment.objective.settings["quality_samples"] = 100
    return experiment


def test_the_switcher_edits_each_model_and_the_check_names_the_one_that_does_not_fit(qtbot, make_window):
    window = make_window(short_gan())
    switcher = window.model_switcher
    assert switcher.isVisible() and [switcher.bar.tabText(i) for i in range(2)] == ["generator", "discriminator"]
    assert window.editor.model.rowCount() == 6 and window.checker.ok
    assert not window.editor.inputs.isVisible() and not window.editor.head_button.isVisible()   # fed by the objective
    switcher.bar.setCurrentIndex(1)
    assert window.document.experiment.current_role == "discriminator"
    assert window.editor.model.rowCount() == 7
    assert not window.document.modified   # looking at another model is not an edit
    changed = window.document.edited()
    changed.model.layers[-1].params["units"] = 10   # the discriminator must give one value
    window.document.apply(changed, "units")
    qtbot.waitUntil(lambda: not window.checker.ok, timeout=30_000)
    assert any("the discriminator gives (10,) per example" in p for p in window.checker.problems_for_row(6))
    switcher.bar.setCurrentIndex(0)   # from the generator, the other model's problem is still named
    qtbot.waitUntil(lambda: switcher.bar.tabText(1) == "⚠ discriminator", timeout=30_000)
    assert any(p.startswith("the discriminator does not check") for p in window.checker.model_problems())
    assert not window.train_action.isEnabled()
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: window.checker.ok, timeout=30_000)
    assert window.document.experiment.models["discriminator"].layers[-1].params["units"] == 1


def test_fit_is_not_offered_for_a_gan_and_says_why(make_window):
    window = make_window(short_gan())
    fit = window.selectors.loop_buttons["fit"]
    assert not fit.isEnabled() and "plain model.fit minimises one model's loss" in fit.toolTip()
    assert window.selectors.loop_buttons["tape"].isEnabled()
    tabs = window.tabs
    visible = {tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)}
    assert "Samples" in visible and "Predictions" not in visible and "Inside the step" not in visible


def test_a_short_gan_run_trains_off_the_gui_thread_and_the_grid_changes(qtbot, make_window, monkeypatch):
    from tapedeck.engine.objectives import gan_run

    threads = []
    original = gan_run.run_gan

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(gan_run, "run_gan", recording)
    window = make_window(short_gan())
    window.train_action.trigger()
    finished = wait_run_over(qtbot, window, timeout=120_000)
    assert finished.reason == "completed", finished
    assert threads and threads[0] is not threading.main_thread()
    samples = window.samples
    assert [grid.epoch for grid in samples.grids] == [1, 2]
    assert not np.allclose(samples.grids[0].images, samples.grids[1].images)
    assert samples.picture.pixmap() is not None and not samples.picture.pixmap().isNull()
    assert "Fréchet distance" in samples.caption.text()
    samples.slider.setValue(0)
    assert samples.shown_epoch == 1 and samples.caption.text().startswith("Epoch 1:")
    xs, _ys = samples.curves["g_loss"].getData()
    assert list(xs) == [1, 2]
    assert "Discriminator loss" in window.training.loss_plot.getPlotItem().titleLabel.text
    from tapedeck.engine.objectives import draw

    drawn_in = []
    plain_draw = draw.draw
    monkeypatch.setattr(draw, "draw",
                        lambda *a, **k: drawn_in.append(threading.current_thread()) or plain_draw(*a, **k))
    assert samples.draw_button.isEnabled() and not samples.draw_class.isVisible()   # a plain GAN: no class
    samples.draw_count.setValue(5)
    samples.draw_button.click()
    qtbot.waitUntil(lambda: samples.kind.currentData() == "drawn", timeout=60_000)
    assert samples.grids[-1].images.shape == (5, 8, 8, 1) and "5 new images" in samples.caption.text()
    assert drawn_in and drawn_in[0] is not threading.main_thread()


def test_step_g_from_the_samples_tab_trains_the_generator_once_and_shows_the_step(qtbot, make_window):
    from PySide6.QtCore import Qt

    window = make_window(short_gan())
    qtbot.mouseClick(window.samples.step_buttons["g"], Qt.LeftButton)
    qtbot.waitUntil(lambda: window.samples.kind.currentData() == "step", timeout=120_000)
    assert window.tabs.currentWidget() is window.samples
    assert window.samples.grids[-1].images.shape == (24, 8, 8, 1)   # real, generated before, after
    assert "the generator stepped" in window.samples.caption.text()
    assert window.controller.running and window.controller.paused
    window.stop()
    assert wait_run_over(qtbot, window).reason == "stopped"


def test_a_vae_run_in_the_window_offers_its_three_pictures(qtbot, make_window, tmp_path, monkeypatch):
    experiment = small_digits("digits_vae", epochs=1, limit=128)
    experiment.objective.settings["quality_samples"] = 100
    window = make_window(experiment)
    assert [window.model_switcher.bar.tabText(i) for i in range(2)] == ["encoder", "decoder"]
    window.train_action.trigger()
    assert wait_run_over(qtbot, window, timeout=120_000).reason == "completed"
    samples = window.samples
    kinds = [samples.kind.itemData(i) for i in range(samples.kind.count())]
    assert kinds == ["samples", "reconstructions", "latent_plane"]
    assert all(button.isHidden() for button in samples.step_buttons.values())   # Step D/G are a GAN's
    assert "the decoder's images of the fixed codes" in samples.caption.text()
    samples.kind.setCurrentIndex(2)
    samples._choose_kind("latent_plane")
    assert samples.grids[-1].images.shape == (100, 8, 8, 1) and "2-D code plane" in samples.caption.text()
    assert samples.plots["outputs"].getPlotItem().titleLabel.text.startswith("How far the codes are")
    from PIL import Image

    drawing = np.zeros((32, 32), np.uint8)
    drawing[4:28, 14:18] = 255
    Image.fromarray(drawing).save(tmp_path / "one.png")
    assert not samples.encode_button.isHidden() and samples.encode_button.isEnabled()
    from tapedeck.engine.analysis import reconstruct

    threads, plain = [], reconstruct.reconstruct
    monkeypatch.setattr(reconstruct, "reconstruct", lambda *a: threads.append(threading.current_thread()) or plain(*a))
    samples.encode_file(str(tmp_path / "one.png"))   # what "Encode an image…" does with the chosen file
    qtbot.waitUntil(lambda: samples.kind.currentData() == "own_input", timeout=60_000)
    assert samples.grids[-1].images.shape == (2, 8, 8, 1) and "its code's mean" in samples.caption.text()
    assert threads and threads[0] is not threading.main_thread()

    # Draw and encode…: a stroke on the dialog's canvas, Encode, the same pictures of the drawing
    assert not samples.sketch_button.isHidden() and samples.sketch_button.isEnabled()
    samples.sketch_button.click()
    dialog = samples.sketch_dialog
    assert dialog.isVisible()
    dialog.accept()   # a blank canvas: nothing to encode, the dialog stays
    assert dialog.isVisible()
    size = dialog.canvas.image.width()
    dialog.canvas.draw_stroke([(size // 2, size // 5), (size // 2, 4 * size // 5)])   # a "1"
    encoded = len(threads)
    dialog.action.click()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: len(threads) > encoded and not samples._draw_job.running, timeout=60_000)
    image = samples.grids[-1].images[0]
    assert "Your drawing (left)" in samples.caption.text() and image.shape == (8, 8, 1)
    columns = image[..., 0].max(axis=0)
    assert columns[3:5].max() > 0.5 and columns[0] < 0.2   # the stroke, centred as the digits are
    assert threads[-1] is not threading.main_thread()


def test_a_finished_gan_run_reopens_in_the_samples_tab_off_the_gui_thread(qtbot, make_window, tmp_path, monkeypatch):
    from tapedeck.engine.objectives import reopen as reopening
    from tapedeck.engine.objectives.run import run

    experiment = short_gan(epochs=2)
    run_dir = run(experiment, lambda event: None, runs_dir=tmp_path / "runs")
    threads = []
    plain = reopening.reopen
    monkeypatch.setattr(reopening, "reopen", lambda path: threads.append(threading.current_thread()) or plain(path))
    window = make_window()   # a classifier is being edited: the tab shows for the run all the same
    window.analysis.analyse(run_dir)   # Runs ▸ Analyse on the run
    samples = window.samples
    qtbot.waitUntil(lambda: samples.showing_run, timeout=30_000)
    assert threads and threads[0] is not threading.main_thread()
    assert window.tabs.isTabVisible(window.tabs.indexOf(samples)) and window.tabs.currentWidget() is samples
    assert [grid.epoch for grid in samples.grids] == [1, 2] and "reopened: 2 epoch(s) of gan" in samples.caption.text()
    xs, _ys = samples.curves["d_loss"].getData()
    assert list(xs) == [1, 2] and samples.draw_button.isEnabled()
