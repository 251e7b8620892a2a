"""The parameter form is built from the catalogue: every layer type added for issue 15 gets one editor
per Keras argument, and the new kinds (padding / cropping pairs of pairs, a value range) edit and show
back their values."""
from __future__ import annotations

from PySide6.QtWidgets import QLineEdit

from tapedeck.engine.spec.catalogue import layer_type
from tapedeck.gui.editor.param_form import parse_text, show_text
from tests.engine.codegen.test_codegen_wide_catalogue import NEW_TYPES


def test_every_new_type_gets_an_editor_per_parameter(qtbot, window):
    for type_name in sorted(NEW_TYPES):
        row = window.editor.add_layer(type_name, row=0)
        window.form.show_row(row)
        names = {p.name for p in layer_type(type_name).params}
        assert names <= set(window.form.editors), (type_name, names - set(window.form.editors))
        window.editor.remove_layer(row)


def test_cropping_and_value_range_fields_edit_the_layer(qtbot, window):
    row = window.editor.add_layer("Cropping2D", row=0)
    window.form.show_row(row)
    field = window.form.editors["cropping"]
    assert isinstance(field, QLineEdit)
    field.clear()
    qtbot.keyClicks(field, "[[1, 0], [0, 2]]")
    assert window.document.experiment.model.layers[row].params == {"cropping": [[1, 0], [0, 2]]}
    window.form.show_row(row)
    assert parse_text(field.text()) == [[1, 0], [0, 2]]

    row = window.editor.add_layer("RandomBrightness", row=0)
    window.form.show_row(row)
    field = window.form.editors["value_range"]
    field.clear()
    qtbot.keyClicks(field, "0, 1")
    assert window.document.experiment.model.layers[row].params["value_range"] == [0, 1]
    field.clear()
    qtbot.keyClicks(field, "1, 0")                     # low above high: refused, marked, not written
    assert "low < high" in field.toolTip()
    assert window.document.experiment.model.layers[row].params["value_range"] == [0, 1]


def test_nested_values_show_as_text_that_reads_back():
    for value in ([[1, 2], [3, 4]], [2, 3], 5):
        assert parse_text(show_text(value)) == value
