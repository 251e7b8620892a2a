"""Grab the Add layer palette over the window (offscreen, 1280x800): all groups, and a search for "crop".

    QT_QPA_PLATFORM=offscreen python tests/screenshots/palette_screenshot.py OUT_DIR

The palette is a popup (its own top-level window), so it is painted onto the window's grab where it
opened.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window, settle

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication([])
    window = open_window(app, load_preset("digits_cnn"), tempfile.mkdtemp(prefix="tapedeck-palette-shot-"))
    button = window.editor.add_button
    menu = button.menu()
    for name, text in (("palette.png", ""), ("palette-search.png", "crop")):
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
        settle(app, 0.3)
        window.editor.palette_widget.search.setText(text)
        settle(app, 0.3)
        image = window.grab().toImage()
        painter = QPainter(image)
        painter.drawPixmap(window.mapFromGlobal(menu.pos()), menu.grab())
        painter.end()
        image.save(str(out / name))
        menu.close()
        print(out / name)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
