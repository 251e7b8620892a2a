"""Grab each analysis view with real data (offscreen, 1280x800), to look at them.

    QT_QPA_PLATFORM=offscreen python tests/gui/analysis_screenshots.py OUT_DIR [--readme docs]

Trains two short digits runs (different learning rates) through the window, then shows the Runs
dock with both selected, the Analysis pages, and the sweep / compare / export dialogs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--readme", help="folder for screenshot-runs.png and screenshot-confusion.png")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tapedeck.gui.runs.runs_menu import AnalysisInstall, install_analysis
    from tests.support.window_driver import open_window
    from tests.support.window_driver import settle as pause
    from tests.support.window_driver import until as turn

    app = QApplication([])
    scratch = tempfile.mkdtemp(prefix="tapedeck-analysis-shots-")

    def until(condition, seconds=180):
        turn(app, condition, seconds)

    def settle(seconds=0.3):
        pause(app, seconds)

    def grab(widget, name):
        settle()
        widget.grab().save(str(out / name))
        print(out / name)

    experiment = load_preset("digits_cnn")
    experiment.training.epochs = args.epochs
    window = open_window(app, experiment, scratch)
    analysis = getattr(window, "analysis", None)
    if not isinstance(analysis, AnalysisInstall):
        analysis = install_analysis(window)
    for rate in (0.003, 0.0005):
        edited = window.document.edited()
        edited.training.learning_rate = rate
        edited.name = f"digits-lr{rate:g}"
        window.document.apply(edited, "rate")
        until(lambda: window.can_train)
        window.train()
        until(lambda: window.controller.running)
        until(lambda: not window.controller.running, 300)

    panel = analysis.runs_panel
    analysis.runs_dock.show()
    panel.refresh()
    until(lambda: not panel.listing)
    panel.select_paths([str(s.path) for s in panel.summaries])
    analysis.runs_dock.resize(1280, 800)
    grab(analysis.runs_dock, "runs-panel.png")
    analysis.runs_dock.hide()
    window.resize(1280, 800)

    tab = analysis.analysis_tab
    window.tabs.setCurrentWidget(tab)
    until(lambda: tab.analysed is not None)
    confusion = tab.analysed.confusion()
    off = [(r, c) for r in range(len(confusion)) for c in range(len(confusion)) if r != c and confusion[r, c]]
    tab.confusion.show_cell(*(max(off, key=lambda rc: confusion[rc]) if off else (0, 0)))
    grab(window, "confusion-window.png")
    tab.confusion.galleries.setCurrentIndex(1)
    grab(window, "wrong-window.png")
    tab.show_page(tab.own_input)
    settle()
    canvas = tab.own_input.canvas
    s = canvas.width()
    canvas.draw_stroke([(s * 0.3, s * 0.2), (s * 0.7, s * 0.2), (s * 0.45, s * 0.85)])  # a seven
    until(lambda: tab.own_input.probabilities is not None, 5)
    grab(window, "own-input-window.png")
    tab.show_page(tab.feature_maps)
    tab.feature_maps.select(image_index=5)
    grab(window, "feature-maps-window.png")

    window.tabs.setCurrentIndex(0)
    sweep = analysis.sweep()
    sweep.set_axis(0, "training.learning_rate", "0.001, 0.003")
    sweep.set_axis(1, "training.batch_size", "16, 64")
    sweep.base.training.epochs = 3
    sweep.start()
    until(lambda: not sweep.running, 600)
    sweep.resize(1280, 800)
    grab(sweep, "sweep-dialog.png")
    sweep.close()
    compare = analysis.compare_apis()
    compare.base.training.epochs = 3
    until(lambda: compare.counts is not None)
    compare.start()
    until(lambda: not compare.running, 600)
    compare.resize(1280, 800)
    grab(compare, "compare-dialog.png")
    compare.close()
    panel.refresh()
    until(lambda: not panel.listing)
    panel.select_paths([d for d in sweep.run_dirs.values()])
    analysis.runs_dock.show()
    analysis.runs_dock.resize(1280, 800)
    grab(analysis.runs_dock, "runs-panel-sweep.png")
    analysis.runs_dock.hide()
    panel.select_paths([str(panel.summaries[-1].path)])
    export = analysis.export()
    grab(export, "export-dialog.png")
    export.close()

    if args.readme:
        readme = Path(args.readme)
        readme.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "runs-panel-sweep.png", readme / "screenshot-runs.png")
        shutil.copy(out / "confusion-window.png", readme / "screenshot-confusion.png")
    window.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
