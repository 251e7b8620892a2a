"""Reinforcement learning in the window: a CartPole preset opens (from the presets and from a file), the
switcher edits its policy and value models, fit is refused with the reason, and a short run trains a few
updates off the GUI thread while the Environment tab draws the play and its curves grow."""
from __future__ import annotations

import threading

import numpy as np

from tapedeck.engine.spec.experiment import load_preset, save_experiment
from tests.gui.conftest import wait_run_over


def short_rl(preset="cartpole_actor_critic", updates=3):
    """A few small updates, every one of them drawn, and no greedy judging to wait for."""
    experiment = load_preset(preset)
    experiment.training.epochs = updates
    settings = experiment.objective.settings
    settings.update(frame_every=1, stop_at_target=False, eval_episodes=1)
    if "envs" in settings:
        settings["envs"] = 2
    if "steps" in settings:
        settings["steps"] = 16
    return experiment


def settled(qtbot):
    """Opening an experiment starts the data load, the check (and the runs list's scan) in the background:
    let every thread they started end before the test does."""
    from tests.conftest import _is_running, _started_threads

    qtbot.waitUntil(lambda: not any(_is_running(t) for t in list(_started_threads)), timeout=60_000)


def visible_tabs(window):
    tabs = window.tabs
    return {tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)}


def test_cartpole_ppo_opens_from_a_file_with_its_two_models_and_fit_refused(qtbot, make_window, tmp_path):
    window = make_window()
    path = tmp_path / "ppo.json"
    save_experiment(short_rl("cartpole_ppo"), path)
    assert window.open_path(str(path)) is None
    assert window.document.experiment.objective.kind == "ppo"
    switcher = window.model_switcher
    assert switcher.isVisible() and [switcher.bar.tabText(i) for i in range(2)] == ["policy", "value"]
    fit = window.selectors.loop_buttons["fit"]
    assert not fit.isEnabled() and "the data comes from acting" in fit.toolTip()
    assert "Environment" in visible_tabs(window) and "Samples" not in visible_tabs(window)
    assert "Predictions" not in visible_tabs(window)
    settled(qtbot)


def test_the_presets_menu_offers_the_rl_presets_in_their_own_group():
    from tapedeck.gui.editor.preset_menu import ACTING, preset_families
    from tapedeck.gui.main_window import _in_window

    groups = preset_families(_in_window)
    assert list(groups)[-1] == ACTING
    assert sorted(groups[ACTING]) == ["acrobot_actor_critic", "cartpole_actor_critic", "cartpole_ppo",
                                      "cartpole_reinforce"]
    assert not any("cartpole" in family for title, families in groups.items() if title != ACTING
                   for family in families)


def test_a_short_run_trains_off_the_gui_thread_and_the_drawing_and_curves_update(qtbot, make_window, monkeypatch):
    from tapedeck.engine.objectives import rl_run

    threads = []
    original = rl_run.run_rl

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(rl_run, "run_rl", recording)
    window = make_window(short_rl(updates=3))
    qtbot.waitUntil(lambda: window.train_action.isEnabled(), timeout=60_000)
    panel = window.environment
    panel.speed.setCurrentIndex(2)   # fast: the replay keeps up with the few updates
    drawn = []
    plain_show = panel.canvas.show_state
    panel.canvas.show_state = lambda env_id, state, action=None: (state is not None and drawn.append(np.array(state)),
                                                                  plain_show(env_id, state, action))
    window.train_action.trigger()
    finished = wait_run_over(qtbot, window, timeout=120_000)
    assert finished.reason == "completed", finished
    assert threads and threads[0] is not threading.main_thread()
    assert list(panel.curves["policy_loss"].getData()[0]) == [1, 2, 3]
    assert list(panel.curves["value_loss"].getData()[0]) == [1, 2, 3]
    assert "entropy" in panel.curves and "value_mean" in panel.curves
    assert panel.target_line is not None and panel.target_line.value() == 475
    qtbot.waitUntil(lambda: panel.shown_frames > 5, timeout=10_000)
    assert len(drawn) == panel.shown_frames and not np.allclose(drawn[0], drawn[-1])   # the cart and pole move
    assert panel.canvas.env_id == "CartPole-v1" and panel.bars.names == ["push left", "push right"]
    assert np.isclose(panel.bars.probabilities.sum(), 1.0, atol=1e-4) and np.isfinite(panel.bars.value)
    assert panel.where.text().startswith("Update ")
    assert "completed" in panel.caption.text()
    assert window.training.progress.format() == "update 3/3"   # no batches: the progress follows the updates
    from tapedeck.gui.widgets import greedy_play

    played_in = []
    plain_episode = greedy_play.greedy_episode
    monkeypatch.setattr(greedy_play, "greedy_episode",
                        lambda *a, **k: played_in.append(threading.current_thread()) or plain_episode(*a, **k))
    assert panel.replay_button.isEnabled()
    panel.replay_button.click()
    qtbot.waitUntil(lambda: panel.where.text().startswith("The greedy policy, step"), timeout=60_000)
    assert played_in and played_in[0] is not threading.main_thread()
    assert panel.playing.update == greedy_play.GREEDY and panel.playing.episode_ends[-1]
    assert np.all(panel.playing.probabilities.argmax(axis=1) == panel.playing.actions)   # greedy: the likeliest
    panel.speed.setCurrentIndex(3)   # only the latest state: the episode's last step and its whole return
    steps = len(panel.playing.actions)
    assert panel.where.text().startswith(f"The greedy policy, step {steps} of {steps}")
    assert f"return so far {panel.playing.rewards.sum():g}" in panel.where.text()
    window.document.replace(short_rl("cartpole_reinforce"), None)   # another experiment: the run leaves the tab
    assert panel.history == {} and panel.curves == {} and panel.canvas.state is None and panel.target_line is None
    assert not panel.replay_button.isEnabled() and "Environment" in visible_tabs(window)
    settled(qtbot)


def test_step_takes_one_update_apart_in_the_environment_tab(qtbot, make_window):
    window = make_window(short_rl(updates=5))
    qtbot.waitUntil(lambda: window.step_action.isEnabled(), timeout=60_000)
    window.step_action.trigger()
    panel = window.environment
    qtbot.waitUntil(lambda: panel.step_table.rowCount() > 0, timeout=120_000)
    assert window.tabs.currentWidget() is panel and panel.right.currentIndex() == 1
    assert panel.step_words.text().startswith("Update 1 learned from 32 step(s)")
    assert "Gradient norm of each model" in panel.step_words.text()
    assert panel.step_table.item(0, 1).text() in ("push left", "push right")
    window.stop()
    assert wait_run_over(qtbot, window).reason == "stopped"


def test_the_painter_draws_each_environment_offscreen(qtbot):
    from tapedeck.gui.tabs.environment_tab import ActionBars, EnvCanvas

    canvas, bars = EnvCanvas(), ActionBars()
    for widget in (canvas, bars):
        qtbot.addWidget(widget)
        widget.resize(320, 220)
    blank = canvas.grab().toImage()
    for env_id, state in (("CartPole-v1", [0.5, 0.0, 0.2, 0.0]), ("Acrobot-v1", [0.3, 1.0, 0.0, 0.0]),
                          ("MountainCar-v0", [-0.5, 0.0])):
        canvas.show_state(env_id, np.array(state, np.float32), 1)
        image = canvas.grab().toImage()
        assert not image.isNull() and image != blank, env_id
    bars.show_step(["push left", "push right"], np.array([0.3, 0.7]), 1, 12.5)
    assert not bars.grab().toImage().isNull()
    bars.show_step(["a", "b", "c"], np.array([0.2, 0.2, 0.6]), 2, float("nan"))   # REINFORCE: no value model
    assert not bars.grab().toImage().isNull()
