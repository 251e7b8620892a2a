"""Grab the window training the digits GAN (offscreen): the Samples tab after a real run, at
1024x700, 1280x800 and 1920x1080, and the Training tab; to look at them.

    QT_QPA_PLATFORM=offscreen python tests/screenshots/gan_screenshots.py OUT_DIR [--epochs N]
        [--readme docs/screenshot-gan.png] [--preset digits_gan]
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
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--preset", default="digits_gan")
    parser.add_argument("--readme", help="also save the Samples tab at 1280x800 here")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window
    from tests.support.window_driver import until as turn

    app = QApplication([])
    scratch = tempfile.mkdtemp(prefix="tapedeck-gan-shots-")

    def until(condition, seconds=120):
        turn(app, condition, seconds)

    experiment = load_preset(args.preset)
    experiment.training.epochs = args.epochs
    window = open_window(app, experiment, scratch)
    window.train()
    until(lambda: not window.controller.running, 600)
    window.tabs.setCurrentWidget(window.samples)
    for width, height in ((1024, 700), (1280, 800), (1920, 1080)):
        window.resize(width, height)
        until(lambda: False, 0.4)
        window.grab().save(str(out / f"{args.preset}_samples_{width}x{height}.png"))
        if (width, height) == (1280, 800) and args.readme:
            window.grab().save(args.readme)
    if not window.samples.sketch_button.isHidden():   # a VAE: draw a digit, encode it, look at both
        window.resize(1024, 700)
        window.samples.sketch_button.click()
        dialog = window.samples.sketch_dialog
        size = dialog.canvas.image.width()
        dialog.canvas.draw_stroke([(size // 3, size // 4), (2 * size // 3, size // 4), (size // 3, 3 * size // 4)])
        until(lambda: False, 0.4)
        dialog.grab().save(str(out / f"{args.preset}_draw_dialog.png"))
        dialog.action.click()
        until(lambda: window.samples.kind.currentData() == "own_input", 60)
        until(lambda: False, 0.4)
        window.grab().save(str(out / f"{args.preset}_drawing_encoded_1024x700.png"))
    window.resize(1280, 800)
    window.tabs.setCurrentWidget(window.training)
    until(lambda: False, 0.4)
    window.grab().save(str(out / f"{args.preset}_training_1280x800.png"))
    window.model_switcher.bar.setCurrentIndex(1)
    window.tabs.setCurrentWidget(window.code)
    until(lambda: False, 0.6)
    window.grab().save(str(out / f"{args.preset}_code_discriminator_1280x800.png"))
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
