"""Grab what the window says of a reinforcement-learning experiment around the play (offscreen), to look at:
a finished run reopened in the Environment tab (with its greedy replay), the Training tab after a short run,
the Data tab and the model switcher, and a Step from idle with frame_every 10, at 1024x700 and 1280x800.

    QT_QPA_PLATFORM=offscreen python tests/screenshots/rl_views_screenshots.py OUT_DIR [--updates N]
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

SIZES = ((1024, 700), (1280, 800))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--updates", type=int, default=30)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window, settle, until

    app = QApplication([])
    scratch = tempfile.mkdtemp(prefix="tapedeck-rl-views-")

    def grab(window, name):
        for width, height in SIZES:
            for _twice in range(2):   # paused, the run toolbar ("Continue") wraps only once the window is narrow
                window.resize(width, height)
                settle(app, 0.5)
            window.grab().save(str(out / f"{name}_{width}x{height}.png"))

    experiment = load_preset("cartpole_actor_critic")
    experiment.training.epochs = args.updates
    run_dir = run(experiment, lambda event: None, runs_dir=Path(scratch) / "headless")

    window = open_window(app, load_preset("digits_cnn"), scratch)   # a classifier edited; an agent's run opened
    window.analysis.analyse(run_dir)
    panel = window.environment
    until(app, lambda: panel.showing_run, 60)
    panel.replay_button.click()
    until(app, lambda: panel.where.text().startswith("The greedy policy, step 40"), 120)
    grab(window, "reopened_environment")

    short = load_preset("cartpole_actor_critic")
    short.training.epochs = 12
    window.document.replace(short, None)
    until(app, lambda: window.can_train, 120)
    window.tabs.setCurrentWidget(window.data_tab)
    until(app, lambda: "CartPole-v1" in window.data_tab.title.text(), 60)
    grab(window, "data")
    window.train()
    until(app, lambda: not window.controller.running, 300)
    window.tabs.setCurrentWidget(window.training)
    grab(window, "training")

    panel.speed.setCurrentIndex(0)   # slow: the Step's play is still moving when grabbed
    window.step()   # from idle; frame_every is the preset's 10
    until(app, lambda: panel.step_table.rowCount() > 0 and panel.shown_frames > 10, 300)
    grab(window, "step_from_idle")
    window.stop()
    until(app, lambda: not window.controller.running, 120)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
