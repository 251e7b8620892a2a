"""The precision selector says, next to the bfloat16 choice, when this CPU has no bfloat16 units
(emulated, ~5x slower), and says nothing where it has them. /proc/cpuinfo is faked for both."""
from __future__ import annotations

import pytest

from tapedeck.engine.model import cpu
from tapedeck.engine.spec.experiment import PRECISIONS
from tests.engine.training.test_bfloat16_cpu import EPYC, SAPPHIRE


def _choose_bfloat16(window):
    combo = window.settings_panel.editors["training.precision"]
    index = PRECISIONS.index("mixed_bfloat16")
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    return combo, index


@pytest.mark.parametrize("text, slow", [(EPYC, True), (SAPPHIRE, False)])
def test_bfloat16_choice_says_the_cpu_lacks_units(qtbot, make_window, monkeypatch, text, slow):
    monkeypatch.setattr(cpu, "_cpuinfo", lambda: text)
    window = make_window(wait=False)
    panel = window.settings_panel
    assert not panel.precision_note.isVisibleTo(panel)           # float32 chosen: nothing to say
    combo, index = _choose_bfloat16(window)
    assert window.document.experiment.training.precision == "mixed_bfloat16"
    assert ("no bfloat16 units" in combo.itemText(index)) is slow
    assert panel.precision_note.isVisibleTo(panel) is slow
    if slow:
        assert "AMD EPYC 7B13" in panel.precision_note.text() and "5x slower" in panel.precision_note.text()
    window.document.undo_stack.undo()
    assert not panel.precision_note.isVisibleTo(panel)
