"""Grab the window for a two-head model (offscreen, 1280x800), to look at it.

    QT_QPA_PLATFORM=offscreen python tests/screenshots/heads_screenshots.py OUT_DIR [--epochs 3] [--only-editor]
        [--readme docs]

The digits_two_heads_functional preset (digit + parity from one image): the editor with its inputs and
head column, the Model tab's graph, then one short run: the per-head curves, Predictions and Analysis
with the head selector on parity, and the Runs dock with the per-head test figures and parity's curves.
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
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--only-editor", action="store_true")
    parser.add_argument("--readme", help="folder for screenshot-heads.png (the Training tab's per-head curves)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window
    from tests.support.window_driver import settle as pause
    from tests.support.window_driver import until as turn

    app = QApplication([])
    scratch = tempfile.mkdtemp(prefix="tapedeck-heads-shots-")

    def until(condition, seconds=180):
        turn(app, condition, seconds)

    def settle(seconds=0.4):
        pause(app, seconds)

    def grab(widget, name):
        settle()
        widget.grab().save(str(out / name))
        print(out / name)

    experiment = load_preset("digits_two_heads_functional")
    experiment.training.epochs = args.epochs
    window = open_window(app, experiment, scratch)
    names = [node.name for node in window.checker.nodes]
    window.editor.select_row(names.index("parity"))
    grab(window, "heads-editor.png")
    window.tabs.setCurrentWidget(window.model_view)
    grab(window, "heads-model-tab.png")
    if args.only_editor:
        window.close()
        return 0

    window.train()
    until(lambda: window.controller.running)
    until(lambda: not window.controller.running, 600)
    window.tabs.setCurrentWidget(window.training)
    grab(window, "heads-curves.png")
    window.tabs.setCurrentWidget(window.predictions)
    window.predictions.set_head("parity")
    grab(window, "heads-predictions.png")

    analysis = window.analysis
    tab = analysis.analysis_tab
    window.tabs.setCurrentWidget(tab)
    until(lambda: tab.analysed is not None)
    tab.confusion.set_head("parity")
    tab.confusion.show_cell(0, 1)
    grab(window, "heads-analysis.png")

    panel = analysis.runs_panel
    analysis.runs_dock.show()
    panel.refresh()
    until(lambda: not panel.listing)
    panel.select_paths([str(s.path) for s in panel.summaries])
    panel.curves.set_head("parity")
    analysis.runs_dock.resize(1280, 800)
    grab(analysis.runs_dock, "heads-runs-panel.png")
    if args.readme:
        Path(args.readme).mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "heads-curves.png", Path(args.readme) / "screenshot-heads.png")
    window.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
