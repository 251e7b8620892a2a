"""The editor for several inputs and heads: a second input, marking and unmarking heads (undoable), the
head column, per-head problems on the head's row and dead branches as warnings, not errors."""
from __future__ import annotations

from tapedeck.gui.editor.stack_model import HEAD_COLUMN
from tests.gui.conftest import small_digits
from tests.gui.editor.test_editor import settle


def head_texts(window):
    model = window.editor.model
    return [model.data(model.index(r, HEAD_COLUMN)) for r in range(model.rowCount())]


def test_mark_a_second_head_then_undo_and_unmark(qtbot, window):
    editor, document = window.editor, window.document
    assert head_texts(window)[-1] == "◉ label (default)" and not any(head_texts(window)[:-1])
    hidden = 4                                              # the Dense before Dropout
    assert editor.mark_head(hidden, ("parity", None, 0.5))
    settle(qtbot, window)
    outputs = document.experiment.model.outputs
    assert [(h.layer, h.target, h.loss_weight) for h in outputs] == [("dense_1", "label", 1.0),
                                                                        ("dense", "parity", 0.5)]
    assert document.experiment.model.layers[hidden].name == "dense"     # pinned: a head names its layer
    assert head_texts(window)[hidden] == "◉ parity" and head_texts(window)[-1] == "◉ label"
    # dense has 128 units and parity 2 classes: the problem is on the head's own row
    assert any("parity" in p and "2" in p for p in window.checker.problems_for_row(hidden))
    assert editor.head_action.text() == "Edit head…" and editor.unhead_action.isEnabled()

    document.undo_stack.undo()
    settle(qtbot, window)
    assert document.experiment.model.outputs == [] and window.checker.ok
    document.undo_stack.redo()
    settle(qtbot, window)
    assert len(document.experiment.model.outputs) == 2

    assert editor.unmark_head(hidden)
    settle(qtbot, window)
    # only the default (last layer on the labels) is left: the file reads as before
    assert document.experiment.model.outputs == [] and window.checker.ok
    assert head_texts(window)[-1] == "◉ label (default)"


def test_a_second_input_is_listed_and_must_be_wired(qtbot, window):
    bar = window.editor.inputs
    assert bar.table.rowCount() == 1 and bar.table.item(0, 0).text() == "▸ input"
    assert not bar.remove_button.isEnabled()
    assert bar.add_input(("extra", "x"))
    settle(qtbot, window)
    model = window.document.experiment.model
    assert [(i.name, i.data) for i in model.inputs] == [("input", "x"), ("extra", "x")]
    assert bar.table.rowCount() == 2 and bar.table.item(1, 3).text().startswith("no layer")
    assert any("input 'extra' is not used" in p for p in window.checker.model_problems())
    # wire it: a Concatenate of the flattened image and a flattened extra, then the head
    editor = window.editor
    editor.select_row(3)
    row = editor.add_layer("Flatten")
    experiment = window.document.edited()
    experiment.model.layers[row].inputs = ["extra"]
    experiment.model.layers[row].name = "extra_flat"
    window.document.apply(experiment, "wire")
    editor.select_row(row)
    merge = editor.add_layer("Concatenate")
    experiment = window.document.edited()
    experiment.model.layers[merge].inputs = ["flatten", "extra_flat"]
    window.document.apply(experiment, "wire")
    settle(qtbot, window)
    assert any("Sequential is one input to one output" in p for p in window.checker.model_problems())
    experiment = window.document.edited()
    experiment.model.api = "functional"
    window.document.apply(experiment, "api")
    settle(qtbot, window)
    assert window.checker.ok, window.checker.model_problems()
    assert window.checker.report.inputs == {"input": (8, 8, 1), "extra": (8, 8, 1)}
    assert "extra_flat" in bar.table.item(1, 3).text()

    # renaming the input follows in the layers that read it; removing it unwires them
    assert bar.edit_input(1, ("side", "x"))
    assert window.document.experiment.model.layers[row].inputs == ["side"]
    assert not bar.add_input(("side", "x"))            # a name taken is refused
    assert bar.remove_input(1)
    assert window.document.experiment.model.inputs == []
    assert window.document.experiment.model.layers[row].inputs is None


def test_two_head_preset_shows_heads_and_dead_branch_warning(qtbot, make_window):
    window = make_window(small_digits("digits_two_heads_functional"))
    texts = head_texts(window)
    names = [n.name for n in window.checker.nodes]
    assert texts[names.index("digit")] == "◉ label" and texts[names.index("parity")] == "◉ parity"
    assert window.editor.inputs.table.item(0, 0).text() == "▸ image"
    assert window.checker.ok and [h[0] for h in window.checker.report.heads] == ["digit", "parity"]
    view = window.model_view                    # the Model tab: the named input and one output box per head
    view.refresh()
    texts = [item.toPlainText() for item in view.scene.items() if hasattr(item, "toPlainText")]
    assert {"image", "output digit", "output parity", "parity ×0.5"} <= set(texts)
    assert view.table.item(0, 0).text() == "image (InputLayer)"
    assert view.table.item(1 + names.index("parity"), 4).text() == "parity ×0.5"
    # a branch that reaches no head: a warning, Train stays possible
    experiment = window.document.edited()
    from tapedeck.engine.spec.experiment import LayerSpec

    experiment.model.layers.append(LayerSpec(type="Dense", params={"units": 4}, name="spare", inputs=["trunk"]))
    window.document.apply(experiment, "spare branch")
    settle(qtbot, window)
    assert window.checker.ok
    assert any("'spare' reaches no head" in w for w in window.checker.warnings())
    assert "Warning: layer" in window.editor.problem.text() and "spare" in window.editor.problem.text()
    assert window.editor.model.data(window.editor.model.index(len(names), 0), 0x0100) == []   # no row problem
