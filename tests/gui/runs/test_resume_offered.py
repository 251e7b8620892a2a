"""Resume is offered only for a run that can be resumed; its reason is the tooltip; messages about the
Runs panel's actions show in the panel when it floats over the window (fault 7 of issue 23)."""
from tests.support.fake_runs import fake_run


def test_resume_is_disabled_with_the_reason_and_messages_stay_in_the_floating_panel(qtbot, tmp_path, make_window):
    window = make_window(wait=False)
    runs = tmp_path / "runs"
    early = fake_run(runs, "20261206-120000-stopped-early", status="stopped", epochs=0)   # no checkpoint
    analysis = window.analysis
    panel = analysis.runs_panel
    analysis.runs_dock.show()                          # floating over the window, as it opens
    assert analysis.runs_dock.isFloating()
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.listing)
    panel.select_paths([str(early)])
    assert not panel.resume_button.isEnabled() and not panel.more_button.isEnabled()
    assert "no checkpoint" in panel.resume_button.toolTip() and str(early) not in panel.resume_button.toolTip()
    assert panel.open_button.isEnabled()

    analysis.menu.aboutToShow.emit()                   # the menu's Resume says the same
    assert not analysis.resume_action.isEnabled() and "no checkpoint" in analysis.resume_action.toolTip()

    window.notice.show_message("")
    assert not analysis.resume_run(str(early))         # asked anyway (a shortcut): refused, said in the panel
    assert panel.problem.isVisible() and "no checkpoint" in panel.problem.text()
    assert not window.notice.text()

    analysis.runs_dock.hide()                          # no panel on screen: the window's notice says it
    assert not analysis.resume_run(str(early))
    assert "no checkpoint" in window.notice.text()
    analysis.runs_dock.show()
    panel.grab().save(str(tmp_path / "runs-panel-resume.png"))
