"""What the window says of a reinforcement-learning experiment outside the play itself: a finished run reopened
from its folder (curves and Greedy replay in the Environment tab), the Training tab's second plot and speed,
the Data tab (no data set: the environment), the model switcher's words, a Step from idle drawing its play,
and each layer's gradient norm in the Step's words."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from tapedeck.engine.training.events import UpdateInspected
from tests.gui.conftest import wait_run_over
from tests.gui.tabs.test_rl_window import settled, short_rl, visible_tabs


def test_a_finished_rl_run_reopens_in_the_environment_tab_with_its_curves_and_greedy_replay(
        qtbot, make_window, tmp_path, monkeypatch):
    from tapedeck.engine.objectives.run import run
    from tapedeck.gui.widgets import greedy_play

    run_dir = run(short_rl(updates=3), lambda event: None, runs_dir=tmp_path / "runs")
    read_in = []
    plain = greedy_play.read_run
    monkeypatch.setattr(greedy_play, "read_run", lambda path: read_in.append(threading.current_thread()) or plain(path))
    window = make_window()   # a classifier is being edited: the tab shows for the run all the same
    panel = window.environment
    window.analysis.analyse(run_dir)   # Runs ▸ Analyse on the run
    qtbot.waitUntil(lambda: panel.showing_run, timeout=30_000)
    assert read_in and read_in[0] is not threading.main_thread()
    assert "Environment" in visible_tabs(window) and window.tabs.currentWidget() is panel
    assert list(panel.curves["policy_loss"].getData()[0]) == [1, 2, 3]
    assert list(panel.curves["value_loss"].getData()[0]) == [1, 2, 3]
    assert "episode_return" in panel.curves   # from the first update an episode ended in
    assert panel.target_line is not None and panel.target_line.value() == 475
    assert "reopened: 3 update(s) of Actor-critic on CartPole-v1" in panel.caption.text()
    assert "greedy mean return" in panel.caption.text()   # how it ended, from metrics.json
    assert panel.actions == ["push left", "push right"]
    assert panel.replay_button.isEnabled()
    panel.replay_button.click()
    qtbot.waitUntil(lambda: panel.where.text().startswith("The greedy policy, step"), timeout=60_000)
    assert panel.playing.update == greedy_play.GREEDY
    window.document.replace(short_rl("cartpole_reinforce"), None)   # another experiment: the run leaves the tab
    assert not panel.showing_run and panel.curves == {}
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(run_dir))
    window.analysis.analysis_tab.open_button.click()   # the Analysis tab's Open run folder… sends it here too
    qtbot.waitUntil(lambda: panel.showing_run, timeout=30_000)
    assert window.tabs.currentWidget() is panel and not window.analysis.analysis_tab.loading
    settled(qtbot)


def test_analysing_an_agents_run_headless_says_where_its_figures_and_policy_are(tmp_path):
    import pytest

    from tapedeck.engine.analysis.reopen import AnalysisError, open_run
    from tapedeck.engine.objectives.run import run

    run_dir = run(short_rl("cartpole_reinforce", updates=1), lambda event: None, runs_dir=tmp_path / "runs")
    with pytest.raises(AnalysisError, match="its figures per update are in history.csv, `tapedeck evaluate` plays "
                                            "its policy .*its models are policy.keras$"):
        open_run(run_dir)


def test_a_run_folder_that_is_not_an_agents_says_so_in_the_environment_tab(qtbot, tmp_path):
    from tapedeck.engine.spec.experiment import load_preset, save_experiment
    from tapedeck.gui.tabs.environment_tab import EnvironmentPanel

    folder = tmp_path / "run"
    folder.mkdir()
    save_experiment(load_preset("digits_cnn"), folder / "experiment.json")
    panel = EnvironmentPanel()
    qtbot.addWidget(panel)
    panel.open_run(folder)
    qtbot.waitUntil(lambda: not panel._open_job.running and "Cannot show" in panel.caption.text(), timeout=10_000)
    assert "not a reinforcement-learning one" in panel.caption.text() and not panel.showing_run


def test_a_run_without_its_policy_shows_its_curves_and_says_there_is_nothing_to_replay(qtbot, tmp_path):
    from tapedeck.engine.objectives.run import run
    from tapedeck.gui.tabs.environment_tab import EnvironmentPanel

    run_dir = run(short_rl("cartpole_reinforce", updates=2), lambda event: None, runs_dir=tmp_path / "runs")
    (Path(run_dir) / "policy.keras").unlink()
    panel = EnvironmentPanel()
    qtbot.addWidget(panel)
    panel.open_run(run_dir)
    qtbot.waitUntil(lambda: panel.showing_run, timeout=30_000)
    assert list(panel.curves["policy_loss"].getData()[0]) == [1, 2] and "value_loss" not in panel.curves
    assert not panel.replay_button.isEnabled() and "nothing to replay" in panel.caption.text()


def test_the_window_speaks_of_an_agent_not_of_a_classifier(qtbot, make_window, monkeypatch):
    from tapedeck.gui.tabs import data_tab

    asked_in = []
    plain = data_tab._environment_words
    monkeypatch.setattr(data_tab, "_environment_words",
                        lambda objective: asked_in.append(threading.current_thread()) or plain(objective))
    window = make_window(short_rl(updates=2))
    assert window.model_switcher.caption.text() == "<b>Actor-critic</b> models:"
    window.tabs.setCurrentWidget(window.data_tab)   # no data set: the environment it acts in
    data = window.data_tab
    qtbot.waitUntil(lambda: "CartPole-v1" in data.title.text(), timeout=30_000)
    words = data.title.text()
    assert "no data set" in words and "2 actions (push left, push right)" in words
    assert "4 values (cart position, cart velocity, pole angle, pole angular velocity)" in words
    assert not data.preview_button.isVisible() and data.loaded is None
    assert asked_in and asked_in[0] is not threading.main_thread()   # gymnasium makes the environment off it
    qtbot.waitUntil(lambda: window.train_action.isEnabled(), timeout=60_000)
    window.train_action.trigger()
    assert wait_run_over(qtbot, window, timeout=120_000).reason == "completed"
    training = window.training
    assert training.acc_plot.isHidden() and not training.return_plot.isHidden()   # no accuracy: the return instead
    assert training.return_plot.getPlotItem().titleLabel.text.startswith("Episode return")
    assert training.loss_plot.getPlotItem().titleLabel.text == "Loss (policy + weighted value)"
    assert training.progress.format() == "update 2/2" and training.status.text().startswith("Finished")
    xs, ys = training.return_curve.getData()
    assert list(xs) == [1, 2] and np.all(np.isfinite(ys))
    assert "env steps/s" in training.speed.text() and "samples/s" not in training.speed.text()
    window.document.replace(short_rl("cartpole_ppo"), None)
    assert window.model_switcher.caption.text() == "<b>PPO</b> models:"
    assert not training.acc_plot.isHidden() and training.return_plot.isHidden()   # cleared: a classifier's again
    settled(qtbot)


def test_a_step_from_idle_draws_the_play_of_its_update_whatever_frame_every(qtbot, make_window):
    experiment = short_rl(updates=5)
    experiment.objective.settings["frame_every"] = 10   # update 1 is not one of the sampled ones
    window = make_window(experiment)
    panel = window.environment
    panel.speed.setCurrentIndex(3)   # only the latest state: drawn at once
    qtbot.waitUntil(lambda: window.step_action.isEnabled(), timeout=60_000)
    window.step_action.trigger()
    qtbot.waitUntil(lambda: panel.step_table.rowCount() > 0, timeout=120_000)
    qtbot.waitUntil(lambda: panel.shown_frames > 0, timeout=10_000)
    assert panel.where.text().startswith("Update 1, step ") and panel.canvas.state is not None
    qtbot.waitUntil(lambda: bool(panel.history), timeout=10_000)   # the update's figures come after its inspection
    window.analysis.analyse(window._run_dir)   # an agent's run opened while one trains: its tab is the live run's
    assert "showing the run in progress" in window.notice.text() and not panel.showing_run
    assert panel.history   # the live run's curves stay
    window.stop()
    assert wait_run_over(qtbot, window).reason == "stopped"
    settled(qtbot)


def test_the_step_words_give_each_layers_gradient_norm_model_by_model(qtbot):
    from tapedeck.gui.tabs.environment_tab import EnvironmentPanel

    panel = EnvironmentPanel()
    qtbot.addWidget(panel)
    n = 6
    event = UpdateInspected(update=4, observations=np.zeros((n, 4), np.float32), actions=np.array([0, 1, 1, 0, 1, 1]),
                            probabilities=np.full(n, 0.5, np.float32), advantages=np.linspace(-1, 1, n),
                            returns=np.arange(n, dtype=np.float32), values=np.zeros(n, np.float32),
                            figures={"policy_loss": 0.1, "entropy": 0.69, "policy_grad_norm": 0.5},
                            layers=(("policy", "dense", 0.25), ("policy", "logits", 0.125),
                                    ("value", "dense_v", 3.5)))
    panel.handle(event)
    words = panel.step_words.text()
    assert "Of each layer: policy: dense 0.25, logits 0.12; value: dense_v 3.5." in words
    assert panel.step_table.rowCount() == n


def test_gradient_words_group_the_layers_by_model_and_count_those_left_out():
    from tapedeck.gui.widgets.layer_gradients import gradient_words

    layers = [("generator", f"dense_{i}", 0.5 * i) for i in range(3)] + [("discriminator", "conv", float("nan"))]
    assert gradient_words(layers) == "generator: dense_0 0, dense_1 0.5, dense_2 1; discriminator: conv nan"
    assert gradient_words(layers, limit=2) == "generator: dense_0 0, dense_1 0.5; and 2 more layer(s)"
    assert gradient_words(()) == ""
    assert gradient_words([("policy", "policy/dense", 0.25)]) == "policy: dense 0.25"   # the model said once


def test_a_resumed_agents_curves_begin_with_the_updates_trained_before(qtbot, tmp_path):
    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.training.events import EpochEnd, RunStarted
    from tapedeck.gui.tabs.environment_tab import EnvironmentPanel
    from tapedeck.gui.tabs.training_tab import TrainingPanel

    experiment = short_rl(updates=3)
    run_dir = run(experiment, lambda event: None, runs_dir=tmp_path / "runs")
    environment, training = EnvironmentPanel(lambda: experiment.objective), TrainingPanel()
    for panel in (environment, training):
        qtbot.addWidget(panel)
    training.build_plots()
    started = RunStarted(run_dir=str(run_dir), name="resumed", summary="", trainable=1, non_trainable=0, epochs=5,
                         steps_per_epoch=1, batch_size=32, num_classes=2, class_names=["action 0", "action 1"],
                         sample_images=None, sample_labels=None, initial_epoch=3, loop="tape", objective="actor_critic")
    update = EpochEnd(epoch=4, loss=1.0, accuracy=float("nan"), val_loss=None, val_accuracy=None, learning_rate=0.001,
                      seconds=0.1, heads={"policy_loss": 0.5, "episode_return": 30.0, "steps_per_second": 900.0})
    for panel in (environment, training):
        panel.handle(started)
        panel.handle(update)
    assert list(environment.curves["policy_loss"].getData()[0]) == [1, 2, 3, 4]
    assert list(training.epoch_return.view()[0]) == [1, 2, 3, 4] and training.epoch_return.view()[1][-1] == 30.0
    assert training.speed.text().startswith("900 env steps/s")
