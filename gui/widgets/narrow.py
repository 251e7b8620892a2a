"""Combo boxes a narrow dock can hold: Qt sizes a combo box to its longest item, so one long choice
("digits (scikit-learn, offline)") pushed a whole form past a 340-px dock's right edge."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox

MIN_CHARACTERS = 8


def narrow(combo: QComboBox) -> QComboBox:
    """Let `combo` shrink to about MIN_CHARACTERS characters (its popup still shows items whole)."""
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(MIN_CHARACTERS)
    return combo
