"""Grab every tab of the window after a short real run (offscreen, 1280x800), to look at them.

    QT_QPA_PLATFORM=offscreen python tests/screenshots/make_screenshots.py OUT_DIR [--readme docs/screenshot.png]
        [--step-readme docs/screenshot-step.png]
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
    parser.add_argument("--readme", help="also save the Training tab here")
    parser.add_argument("--step-readme", help="also save the Inside the step tab here")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window
    from tests.support.window_driver import until as turn

    app = QApplication([])
    scratch = tempfile.mkdtemp(prefix="tapedeck-shots-")

    def until(condition, seconds=120):
        turn(app, condition, seconds)

    def window_for(preset):
        experiment = load_preset(preset)
        experiment.training.epochs = args.epochs
        return open_window(app, experiment, scratch)

    window = window_for("digits_cnn")
    window.editor.select_row(4)
    window.train()
    until(lambda: not window.controller.running, 300)
    until(lambda: False, 0.3)
    tabs = (window.training, window.predictions, window.code, window.model_view)
    for index, (tab, name) in enumerate(zip(tabs, ("training", "predictions", "code", "model"))):
        window.tabs.setCurrentWidget(tab)
        until(lambda: False, 0.2)
        window.grab().save(str(out / f"{index}_{name}.png"))
        if index == 0 and args.readme:
            window.grab().save(args.readme)
    window.settings_dock.raise_()
    until(lambda: False, 0.2)
    window.grab().save(str(out / "4_settings.png"))
    window.tabs.setCurrentWidget(window.data_tab)          # class counts and a page per class
    until(lambda: window.data_tab.loaded is not None)
    window.grab().save(str(out / "7_data.png"))
    window.resize(1600, 1000)                              # the larger screen: wider sample grid
    window.tabs.setCurrentWidget(window.predictions)
    until(lambda: False, 0.4)
    window.grab().save(str(out / "8_predictions_1600.png"))
    window.close()

    residual = window_for("digits_residual")
    residual.tabs.setCurrentWidget(residual.model_view)
    residual.editor.select_row(3)
    residual.selectors.choose_api("sequential")      # refused: shows the engine's message
    until(lambda: False, 0.3)
    residual.grab().save(str(out / "5_residual_model.png"))
    residual.editor.add_layer("Conv2D", row=6)       # after Flatten: a marked row
    residual.checker.refresh()
    until(lambda: False, 0.3)
    residual.tabs.setCurrentWidget(residual.training)
    residual.grab().save(str(out / "6_problem.png"))
    residual.close()

    stepped = window_for("digits_cnn")               # the GradientTape loop, taken apart
    stepped.selectors.choose_loop("tape")
    edited = stepped.document.edited()
    edited.training.inspect_every = 5
    stepped.document.apply(edited, "inspect every 5")
    stepped.step()
    until(lambda: stepped.step_panel.inspected is not None and stepped.controller.paused)
    stepped.train()
    until(lambda: len(stepped.step_panel.history.get("dense", [])) > 24)
    stepped.toggle_pause()
    stepped.step()
    until(lambda: stepped.step_panel.inspected.step > 1 and stepped.controller.paused)
    until(lambda: False, 0.5)
    stepped.grab().save(str(out / "9_inside_the_step.png"))
    if args.step_readme:
        stepped.grab().save(args.step_readme)
    stepped.stop()
    until(lambda: not stepped.controller.running)
    stepped.close()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
