"""The front door: the X11 library check, bad command lines, and closing the window mid-run
(in a subprocess: a QThread destroyed while running would abort the whole process)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tapedeck.gui import app

ROOT = Path(__file__).resolve().parents[2]


def test_debian_package_names():
    assert app.debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert app.debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert app.debian_package("libxcb-keysyms.so.1") == "libxcb-keysyms1"
    assert app.debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert app.debian_package("libglib-2.0.so.0") == "libglib2.0-0"


def test_missing_xcb_libraries_are_named(monkeypatch):
    monkeypatch.setattr(app, "missing_libraries", lambda plugin: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    message = app.display_problem({"DISPLAY": ":0"})
    assert message is not None
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in message
    assert app.display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert app.display_problem({"QT_QPA_PLATFORM": "wayland"}) is None


def test_no_display_is_explained(monkeypatch):
    monkeypatch.setattr(app, "missing_libraries", lambda plugin: [])
    message = app.display_problem({})
    assert "DISPLAY" in message and "xvfb-run" in message
    assert app.display_problem({"DISPLAY": ":0"}) is None


def test_real_launch_without_display_says_what_to_do(tmp_path):
    """On this machine the xcb plugin really lacks libraries: the app says so instead of aborting."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, "-c", "import sys; from gui.app import main; sys.exit(main([]))"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "tapedeck: Qt cannot open a window" in done.stderr
    assert "Traceback" not in done.stderr and "Aborted" not in done.stderr
    missing = app.missing_libraries(app._xcb_plugin()) if app._xcb_plugin() else []
    if missing:
        assert "apt-get install" in done.stderr and app.debian_package(missing[0]) in done.stderr
    else:
        assert "DISPLAY" in done.stderr


def test_bad_experiment_file_is_one_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "tapedeck/1", "name": "x", "training": {"epochs": 0}}')
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    assert app.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "training.epochs" in err and "Traceback" not in err
    assert app.main(["a.json", "b.json"]) == 2
    assert "usage" in capsys.readouterr().err


CLOSE_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from tapedeck.engine.spec.experiment import load_preset
    from tapedeck.gui.main_window import MainWindow

    runs, rounds = sys.argv[1], int(sys.argv[2])
    app = QApplication([])
    closed = []

    def until(condition, seconds):
        end = time.time() + seconds
        while not condition() and time.time() < end:
            app.processEvents()
            time.sleep(0.005)
        assert condition(), "timed out"

    def one_round(last):
        experiment = load_preset("digits_cnn")
        experiment.training.epochs, experiment.training.batch_size = 50, 8
        window = MainWindow(experiment, settings=QSettings(os.path.join(runs, "s.ini"), QSettings.IniFormat),
                            runs_dir=runs)
        window.ask_to_save = False                 # no question about the run (test_closing.py asks it)
        window.show()
        window.start_background_loading()
        until(lambda: window.can_train, 120)
        window.train()
        if len(closed) % 2:
            until(lambda: window.training.batch_loss.size >= 1, 60)
            window.pause_action.trigger()          # closing a paused run must release it
        until(lambda: window.training.batch_loss.size >= 1, 60)
        if last:
            QTimer.singleShot(0, window.close)     # close from inside the event loop, then exit
            return window
        window.close()
        assert not window.controller.running
        closed.append(1)
        return window

    for i in range(rounds - 1):
        one_round(False)
    keep = one_round(True)
    code = app.exec()
    print("closed", len(closed) + 1, "running", keep.controller.running, flush=True)
    sys.exit(code)
""")


def test_closing_mid_run_exits_cleanly(tmp_path):
    script = tmp_path / "close_mid_run.py"
    script.write_text(CLOSE_SCRIPT)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(script), str(tmp_path), "3"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "closed 3 running False" in done.stdout
    assert "Destroyed while thread" not in done.stderr
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(runs) == 3
    for run in runs:      # each run folder says how it ended
        assert json.loads((run / "metrics.json").read_text())["status"] == "stopped"
        assert json.loads((run / "experiment.json").read_text())["name"] == "digits_cnn"


def test_main_opens_the_given_experiment(tmp_path):
    """`tapedeck EXP.json`: the window comes up titled after that experiment. (A subprocess: ending
    app.exec() with quit() leaves every later event loop of the process returning at once.)"""
    from tapedeck.engine.spec.experiment import load_preset, save_experiment

    experiment = load_preset("digits_residual")
    experiment.name = "my-residual"
    path = tmp_path / "mine.json"
    save_experiment(experiment, path)
    child = textwrap.dedent("""
        import sys
        from PySide6.QtWidgets import QApplication
        from tapedeck.gui.app import main
        from tapedeck.gui.main_window import MainWindow

        def visible(seconds):
            app = QApplication.instance()
            window = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)][-1]
            print("TITLE", window.windowTitle(), "LAYERS", window.editor.model.rowCount(), flush=True)
            app.quit()

        sys.exit(main([sys.argv[1]], on_visible=visible))
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", child, str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TITLE Tapedeck — my-residual" in done.stdout and "LAYERS 10" in done.stdout
