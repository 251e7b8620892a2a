"""Grab the window training a reinforcement-learning preset (offscreen): the Environment tab during and
after a real run at 1024x700, 1280x800 and 1920x1080, and its Last Step view; to look at them.

    QT_QPA_PLATFORM=offscreen python tests/screenshots/rl_screenshots.py OUT_DIR [--updates N]
        [--readme docs/screenshot-rl.png] [--preset cartpole_ppo]
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--updates", type=int, default=150, help="at most; the preset stops once solved")
    parser.add_argument("--preset", default="cartpole_ppo")
    parser.add_argument("--readme", help="also save the Environment tab at 1280x800 here (scaled to 1024 wide)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window
    from tests.support.window_driver import until as turn

    app = QApplication([])
    scratch = tempfile.mkdtemp(prefix="tapedeck-rl-shots-")

    def until(condition, seconds=120):
        turn(app, condition, seconds)

    experiment = load_preset(args.preset)
    experiment.training.epochs = args.updates
    window = open_window(app, experiment, scratch)
    window.tabs.setCurrentWidget(window.environment)
    window.train()
    panel = window.environment
    until(lambda: len(panel.history.get("entropy", [])) >= 30 or not window.controller.running, 600)   # mid-run
    window.tabs.setCurrentWidget(panel)   # a run's start shows the Training tab
    until(lambda: False, 0.3)
    window.grab().save(str(out / f"{args.preset}_environment_running_1280x800.png"))
    until(lambda: not window.controller.running, 600)
    window.training.grab()
    window.tabs.setCurrentWidget(window.training)
    until(lambda: False, 0.3)
    window.grab().save(str(out / f"{args.preset}_training_1280x800.png"))
    window.tabs.setCurrentWidget(panel)
    until(lambda: False, 1.0)
    for width, height in ((1024, 700), (1280, 800), (1920, 1080)):
        window.resize(width, height)
        until(lambda: False, 0.5)
        window.grab().save(str(out / f"{args.preset}_environment_{width}x{height}.png"))
        if (width, height) == (1280, 800) and args.readme:
            window.grab().scaledToWidth(1024, Qt.SmoothTransformation).save(args.readme)
    window.resize(1280, 800)
    window.step()   # one more run of one update, taken apart
    until(lambda: panel.step_table.rowCount() > 0, 300)
    until(lambda: False, 0.5)
    window.grab().save(str(out / f"{args.preset}_last_step_1280x800.png"))
    window.stop()
    until(lambda: not window.controller.running, 120)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
