"""Runs the window continues, exports and serves (issue 11): the run you look at is the one exported,
with its own curves; Resume and Train N more epochs; Open in TensorBoard; names that tell runs apart."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tapedeck.engine.runs.folder import RunFolder  # noqa: E402
from tapedeck.engine.runs.index import read_run  # noqa: E402
from tests.gui.conftest import small_digits, wait_run_over  # noqa: E402
from tests.support.run_support import copy_run, short_experiment, trained_run  # noqa: E402


def test_export_takes_the_run_just_trained_and_draws_each_run_from_its_own_history(qtbot, make_window, tmp_path):
    from PIL import Image

    from tapedeck.gui.runs.export_dialog import ExportDialog

    old = copy_run(trained_run(), tmp_path / "runs")
    window = make_window(small_digits(epochs=1, limit=120))
    panel = window.analysis.runs_panel
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.listing)   # the runs folder is listed in the background
    panel.select_paths([str(old)])              # selected in the (hidden) Runs panel
    window.train()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed"
    dialog = window.analysis.export()
    qtbot.addWidget(dialog)
    assert dialog.run_dir == str(finished.run_dir)
    assert "the run just trained" in dialog.run_label.text()
    dialog.close()

    old_dialog = ExportDialog(old, window, why="selected in the Runs panel")
    qtbot.addWidget(old_dialog)
    results = old_dialog._export_plots(["png"], tmp_path / "out")
    assert [Path(p).name for _f, p, _e in results] == ["run-loss.png", "run-accuracy.png", "run-learning-rate.png"]
    for _fmt, path, _problem in results:
        with Image.open(path) as image:
            assert image.width >= 800
    from tapedeck.gui.runs.run_plots import delete_plot_widgets, run_plot_widgets

    history = read_run(old).history
    widgets = run_plot_widgets(history, "old")
    try:
        loss = widgets["run-loss"].getPlotItem().listDataItems()[0]
        assert np.allclose(loss.yData, [row["loss"] for row in history])     # the old run's, not the new one's
        assert len(loss.yData) == 2 and finished.epoch == 1
    finally:
        delete_plot_widgets(widgets.values())


def test_resume_a_stopped_run_and_train_more_epochs(qtbot, make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    from tapedeck.engine.training.events import EpochEnd, RunStarted
    from tapedeck.engine.training.run import RunControl, run

    control = RunControl()

    def stop_after_first_epoch(event):
        if isinstance(event, EpochEnd):
            control.stop()

    stopped = Path(run(short_experiment(name="to-resume", epochs=3, limit=120), stop_after_first_epoch, control,
                       runs_dir=tmp_path / "runs"))
    assert json.loads((stopped / "metrics.json").read_text())["status"] == "stopped"
    assert RunFolder(stopped).checkpoint_epoch() == 1

    window = make_window(small_digits(epochs=1, limit=120))
    seen = []
    window.controller.event.connect(lambda event: seen.append(event) if isinstance(event, RunStarted) else None)
    assert window.analysis.resume_run(str(stopped))
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed", finished.message
    assert Path(finished.run_dir) == stopped and seen[-1].initial_epoch == 1
    assert [row["epoch"] for row in read_run(stopped).history] == [1, 2, 3]

    assert not window.analysis.resume_run(str(stopped))          # nothing left to resume: said, not started
    assert "Train more epochs" in window.notice.text() and not window.controller.running
    panel = window.analysis.runs_panel          # the same from the Runs panel's buttons
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.listing)   # the runs folder is listed in the background
    panel.select_paths([str(stopped)])
    asked = []
    panel.train_more.connect(asked.append)
    monkeypatch.setattr(QInputDialog, "getInt", lambda *args, **kwargs: (2, True))
    panel.more_button.click()
    assert asked == [str(stopped)] and window.controller.running
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed", finished.message
    assert [row["epoch"] for row in read_run(stopped).history] == [1, 2, 3, 4, 5]
    assert window.analysis.more_action.text().replace("&", "") == "Train more epochs…"


def test_open_in_tensorboard_serves_the_run_and_ends_with_the_window(qtbot, make_window, tmp_path):
    from PySide6.QtCore import QProcess

    from tapedeck.engine.training.run import run

    experiment = short_experiment(name="logged", epochs=1, limit=100)
    experiment.training.tensorboard = True
    logged = run(experiment, lambda _event: None, runs_dir=tmp_path / "runs")
    window = make_window(small_digits(epochs=1, limit=120))
    analysis = window.analysis
    analysis.tensorboard.open_browser = False

    assert not analysis.open_tensorboard(str(trained_run()))       # a run without logs: said why
    assert "TensorBoard logs" in window.notice.text()
    assert analysis.open_tensorboard(str(logged))
    qtbot.waitUntil(lambda: str(logged) in analysis.tensorboard.urls, timeout=90_000)
    url = analysis.tensorboard.urls[str(logged)]
    assert url.startswith("http://localhost:")
    assert url in window.notice.text()
    process = analysis.tensorboard._processes[str(logged)]
    window.close()
    assert analysis.tensorboard.running == [] and process.state() == QProcess.ProcessState.NotRunning


def _summary(name, date, lr, folder):
    experiment = {"name": name, "training": {"learning_rate": lr, "epochs": 2}}
    return SimpleNamespace(name=name, date=date, path=Path(folder), experiment=experiment)


def test_run_labels_tell_runs_of_one_experiment_apart():
    from tapedeck.gui.runs.run_labels import run_labels

    runs = [_summary("digits_cnn", "2026-12-01 10:00:00", 0.003, "a"),
            _summary("digits_cnn", "2026-12-01 10:05:00", 0.01, "b"),
            _summary("other", "2026-12-01 10:06:00", 0.01, "c")]
    labels = run_labels(runs)
    assert labels == ["digits_cnn · lr 0.003", "digits_cnn · lr 0.01", "other"]
    same = [_summary("digits_cnn", "2026-12-01 10:00:00", 0.003, "a"),
            _summary("digits_cnn", "2026-12-01 11:30:00", 0.003, "b")]
    assert run_labels(same) == ["digits_cnn · 10:00:00", "digits_cnn · 11:30:00"]
    assert len(set(run_labels(same + [_summary("digits_cnn", "2026-12-01 11:30:00", 0.003, "c")]))) == 3

