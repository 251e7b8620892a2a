"""The Add layer palette: every catalogue type in its group, a search that narrows them, Enter adds."""
from __future__ import annotations

from PySide6.QtCore import Qt

from tapedeck.engine.spec.catalogue import CATALOGUE


def types(window):
    return [layer.type for layer in window.document.experiment.model.layers]


def test_palette_lists_every_type_in_groups_and_search_narrows_them(qtbot, window):
    palette = window.editor.palette_widget
    palette.reset()
    assert sorted(palette.visible_types()) == sorted(CATALOGUE)
    headings = [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())]
    assert headings[:3] == ["Core", "Activation", "Convolution"] and "Resizing" in headings

    qtbot.keyClicks(palette.search, "crop")
    assert palette.visible_types() == ["Cropping2D", "CenterCrop", "RandomCrop"]
    hidden = [h.text(0) for h in palette._groups.values() if h.isHidden()]
    assert "Core" in hidden and "Resizing" not in hidden and "Augmentation" not in hidden

    palette.search.clear()
    qtbot.keyClicks(palette.search, "upsample")   # matches the help text, not only the name
    assert set(palette.visible_types()) == {"Conv2DTranspose", "UpSampling2D"}

    palette.search.clear()
    qtbot.keyClicks(palette.search, "zzzz")
    assert palette.visible_types() == [] and not palette.empty.isHidden()


def test_enter_adds_the_first_match_after_the_selection_and_clicks_add_the_one_clicked(qtbot, window):
    palette = window.editor.palette_widget
    window.editor.select_row(3)                                   # Flatten
    palette.reset()
    qtbot.keyClicks(palette.search, "leaky")
    qtbot.keyClick(palette.search, Qt.Key_Return)
    assert types(window)[4] == "LeakyReLU" and window.editor.current_row == 4
    palette.reset()
    palette.tree.itemClicked.emit(palette._items["GaussianNoise"], 0)
    assert types(window)[5] == "GaussianNoise"
    assert window.document.experiment.model.layers[5].params == {"stddev": 0.1}   # required value pre-filled
    window.document.undo_stack.undo()
    assert "GaussianNoise" not in types(window)


def test_the_add_layer_button_opens_the_palette_with_an_empty_search(qtbot, window):
    palette = window.editor.palette_widget
    palette.search.setText("conv")
    menu = window.editor.add_button.menu()
    menu.aboutToShow.emit()
    assert palette.search.text() == "" and len(palette.visible_types()) == len(CATALOGUE)
