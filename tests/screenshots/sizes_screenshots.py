"""The window at the screen sizes people have (1024x700, 1280x800, 1920x1080), after a short run:
each tab and the settings dock, offscreen, to look at whether everything fits (issue 23).

    QT_QPA_PLATFORM=offscreen python tests/screenshots/sizes_screenshots.py OUT_DIR [--epochs 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SIZES = ((1024, 700), (1280, 800), (1920, 1080))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--preset", default="digits_cnn")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window, settle, until

    app = QApplication([])
    experiment = load_preset(args.preset)
    experiment.training.epochs = args.epochs
    experiment.data.limit = args.limit
    window = open_window(app, experiment, tempfile.mkdtemp(prefix="tapedeck-sizes-"), size=SIZES[0])
    window.editor.select_row(2)
    window.step()                                    # one step first: Inside the step has content
    until(app, lambda: window.step_panel.inspected is not None, 120)
    window.stop()
    until(app, lambda: not window.controller.running, 60)
    window.train()                                   # then a whole run: curves, predictions
    until(app, lambda: not window.controller.running, 300)
    settle(app, 0.5)
    pages = [(tab, window.tabs.tabText(window.tabs.indexOf(tab)).split()[0].lower())
             for tab in (window.training, window.step_panel, window.predictions, window.code,
                         window.model_view, window.data_tab)]
    for width, height in SIZES:
        window.resize(width, height)
        settle(app, 0.3)
        for tab, name in pages:
            window.tabs.setCurrentWidget(tab)
            settle(app, 0.3)
            window.grab().save(str(out / f"{width}x{height}_{name}.png"))
        window.settings_dock.raise_()
        settle(app, 0.3)
        window.grab().save(str(out / f"{width}x{height}_settings.png"))
        window.form_dock.raise_()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
