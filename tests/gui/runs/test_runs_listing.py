"""The Runs panel lists the runs folder off the GUI thread, remembers what it read, tells runs of one
experiment apart by API, loop and execution, and the person chooses the runs folder."""
import json
import threading

from PySide6.QtCore import QSettings

from tests.support.fake_runs import fake_run


def _run_with(root, name, api, loop, execution):
    folder = fake_run(root, name)
    experiment = json.loads((folder / "experiment.json").read_text())
    experiment["name"] = "digits_cnn"
    experiment["model"]["api"], experiment["training"]["loop"] = api, loop
    if execution:
        experiment["training"]["execution"] = execution
    (folder / "experiment.json").write_text(json.dumps(experiment))
    return folder


def _column(panel, title):
    return [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())].index(title)


def test_the_list_is_read_off_the_gui_thread_and_only_changed_runs_again(qtbot, tmp_path, monkeypatch):
    import tapedeck.engine.runs.listing as listing
    from tapedeck.gui.runs.runs_panel import RunsPanel

    _run_with(tmp_path, "20261206-120000-a", "functional", "fit", "eager")
    _run_with(tmp_path, "20261206-120001-b", "functional", "fit", None)   # a file from before the setting
    _run_with(tmp_path, "20261206-120002-c", "subclassing", "tape", "xla")
    readers = []
    real = listing.read_listed
    monkeypatch.setattr(listing, "read_listed", lambda path: readers.append(threading.current_thread()) or real(path))

    panel = RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    assert panel.listing and panel.table.rowCount() == 0      # refresh() returned before reading
    qtbot.waitUntil(lambda: not panel.listing)
    assert len(readers) == 3 and threading.main_thread() not in readers
    assert panel.job.thread_name == "tapedeck-runs-list"
    rows = {panel.table.item(r, _column(panel, "date")).text()[-2:]:
            tuple(panel.table.item(r, _column(panel, c)).text() for c in ("API", "loop", "execution"))
            for r in range(3)}
    assert rows == {"00": ("functional", "fit", "eager"), "01": ("functional", "fit", "graph"),
                    "02": ("subclassing", "tape", "xla")}

    panel.select_paths([str(tmp_path / "20261206-120001-b")])
    (tmp_path / "20261206-120002-c" / "metrics.json").write_text(json.dumps({"status": "stopped"}))
    with qtbot.waitSignal(panel.listed):
        panel.refresh()
    assert len(readers) == 4                                   # only the changed run was read again
    status = {panel.table.item(r, _column(panel, "date")).text()[-2:]: panel.table.item(r, _column(panel, "status"))
              .text() for r in range(3)}
    assert status == {"00": "completed", "01": "completed", "02": "stopped"}
    assert panel.selected_paths() == [str(tmp_path / "20261206-120001-b")]   # the selection survived


def test_refresh_while_reading_reads_once_more(qtbot, tmp_path):
    from tapedeck.gui.runs.runs_panel import RunsPanel

    panel = RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    fake_run(tmp_path, "20261206-120000-late")     # written while the first listing may be under way
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.listing)
    assert panel.table.rowCount() == 1


def test_the_person_chooses_the_runs_folder(qtbot, tmp_path, make_window, monkeypatch):
    import platformdirs

    from tapedeck.gui.runs import runs_folder

    monkeypatch.setattr(platformdirs, "user_documents_path", lambda: tmp_path / "Documents")
    assert runs_folder.default_runs_dir() == tmp_path / "Documents" / "Tapedeck" / "runs"
    settings = QSettings(str(tmp_path / "fresh.ini"), QSettings.IniFormat)
    assert runs_folder.configured_runs_dir(settings) == str(tmp_path / "Documents" / "Tapedeck" / "runs")

    window = make_window(wait=False)
    chosen = tmp_path / "elsewhere"
    fake_run(chosen, "20261206-120000-old")
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(chosen))
    window.analysis.folder_action.trigger()
    assert window.controller.runs_dir == str(chosen) and window.analysis.analysis_tab.runs_dir == str(chosen)
    panel = window.analysis.runs_panel
    qtbot.waitUntil(lambda: not panel.listing and panel.table.rowCount() == 1)
    assert runs_folder.configured_runs_dir(window.settings) == str(chosen)   # and the next session starts there

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert not window.analysis.choose_runs_dir(str(blocker))
    assert "is a file" in window.notice.text() and window.controller.runs_dir == str(chosen)


def test_every_run_changed_shows_every_new_status(qtbot, tmp_path):
    from tapedeck.gui.runs.runs_panel import RunsPanel

    runs = [fake_run(tmp_path, f"20261206-12000{n}-r") for n in range(4)]
    panel = RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: not panel.listing)
    panel.select_paths([str(runs[1])])
    for run in runs[1:]:
        (run / "metrics.json").write_text(json.dumps({"status": "failed"}))
    (runs[0] / "metrics.json").unlink()
    import shutil

    shutil.rmtree(runs[3])
    with qtbot.waitSignal(panel.listed):
        panel.refresh()
    status = _column(panel, "status")
    assert sorted(panel.table.item(r, status).text() for r in range(panel.table.rowCount())) == [
        "failed", "failed", "incomplete"]
    assert panel.selected_paths() == [str(runs[1])]


def test_a_runs_folder_that_is_a_file_is_said_once_in_words(qtbot, tmp_path):
    from tapedeck.gui.runs.runs_panel import RunsPanel

    blocker = tmp_path / "runs"
    blocker.write_text("")
    panel = RunsPanel(str(tmp_path / "empty"))
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: not panel.listing)
    said = []
    panel.message.connect(said.append)
    panel.set_runs_dir(str(blocker))
    qtbot.waitUntil(lambda: not panel.listing)
    assert len(said) == 1 and "is a file, not a runs folder" in said[0] and "Traceback" not in said[0]
    assert panel.table.rowCount() == 0


def test_many_rows_arrive_a_few_per_turn_and_a_refresh_midway_loses_none(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QTimer

    import tapedeck.gui.runs.runs_panel as runs_panel

    monkeypatch.setattr(runs_panel, "ROWS_PER_TURN", 2)
    runs = [fake_run(tmp_path, f"20261206-12000{n}-r") for n in range(7)]
    panel = runs_panel.RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    counts = []

    def inserted(*_args):
        counts.append(panel.table.rowCount())
        if len(counts) == 2:                   # rows still coming: the person selects, a run is added
            QTimer.singleShot(0, midway)

    def midway():
        assert panel.listing
        panel.select_paths([str(runs[6])])
        fake_run(tmp_path, "20261206-120009-late")
        panel.refresh()
    panel.table.model().rowsInserted.connect(inserted)
    qtbot.waitUntil(lambda: not panel.listing)
    names = sorted(panel.table.item(r, 1).text()[-2:] for r in range(panel.table.rowCount()))
    assert names == ["00", "01", "02", "03", "04", "05", "06", "09"]
    assert len(counts) >= 4 and max(b - a for a, b in zip([0, *counts], counts)) <= 2   # two rows a turn
    assert panel.selected_paths() == [str(runs[6])]
