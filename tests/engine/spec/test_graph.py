"""Names and wiring shared by check, builders, code export and the GUI."""
from tapedeck.engine.spec.experiment import LayerSpec as L
from tapedeck.engine.spec.graph import INPUT, SEQUENTIAL_REFUSAL, auto_name, is_chain, resolve


def _messages(problems):
    return [(index, message) for index, message in problems]


def test_auto_names_follow_keras():
    assert [auto_name(t) for t in ("Conv2D", "MaxPooling2D", "BatchNormalization", "GlobalAveragePooling2D",
                                   "SeparableConv2D", "SpatialDropout2D", "RandomFlip", "Dense")] == [
        "conv2d", "max_pooling2d", "batch_normalization", "global_average_pooling2d",
        "separable_conv2d", "spatial_dropout2d", "random_flip", "dense"]


def test_auto_names_match_what_keras_itself_assigns():
    import pytest

    keras = pytest.importorskip("keras")
    types = ["Conv2D", "MaxPooling2D", "Conv2D", "BatchNormalization", "GlobalAveragePooling2D", "Dense",
             "Dense"]
    args = {"Conv2D": {"filters": 1, "kernel_size": 1}, "Dense": {"units": 1}}
    keras.backend.clear_session()  # restarts Keras's per-name counters
    keras_names = [getattr(keras.layers, t)(**args.get(t, {})).name for t in types]
    nodes, _ = resolve([L(t) for t in types])
    assert [n.name for n in nodes] == keras_names


def test_chain_names_and_inputs():
    nodes, problems = resolve([L("Conv2D"), L("Conv2D"), L("Flatten"), L("Dense"), L("Dense")])
    assert problems == []
    assert [n.name for n in nodes] == ["conv2d", "conv2d_1", "flatten", "dense", "dense_1"]
    assert [n.inputs for n in nodes] == [[INPUT], ["conv2d"], ["conv2d_1"], ["flatten"], ["dense"]]
    assert [n.index for n in nodes] == [0, 1, 2, 3, 4]
    assert is_chain(nodes)


def test_auto_names_never_collide_with_explicit_names():
    layers = [L("Dense", name="dense_1"), L("Dense"), L("Dense"), L("Dense", name="dense")]
    nodes, problems = resolve(layers)
    assert problems == []
    assert [n.name for n in nodes] == ["dense_1", "dense_2", "dense_3", "dense"]
    # an explicit name may look like an auto name of another type; INPUT is never auto-assigned
    nodes, _ = resolve([L("Dense", name="flatten"), L("Flatten")])
    assert [n.name for n in nodes] == ["flatten", "flatten_1"]


def test_residual_block_resolves_and_is_not_a_chain():
    layers = [L("Conv2D", name="stem"), L("Conv2D"), L("Conv2D"), L("Add", inputs=["stem", "conv2d_1"]),
              L("Flatten"), L("Dense")]
    nodes, problems = resolve(layers)
    assert problems == []
    assert nodes[3].inputs == ["stem", "conv2d_1"]
    assert nodes[4].inputs == ["add"]
    assert not is_chain(nodes)


def test_explicit_inputs_equal_to_the_previous_layer_are_still_a_chain():
    nodes, problems = resolve([L("Flatten", inputs=[INPUT]), L("Dense", inputs=["flatten"])])
    assert problems == [] and is_chain(nodes)


def test_a_layer_taking_the_input_again_is_not_a_chain():
    nodes, problems = resolve([L("Flatten"), L("Flatten", inputs=[INPUT]),
                               L("Concatenate", inputs=["flatten", "flatten_1"])])
    assert problems == [] and not is_chain(nodes)


def test_empty_stack():
    nodes, problems = resolve([])
    assert nodes == [] and len(problems) == 1
    index, message = problems[0]
    assert index is None and "no layers" in message


def test_unknown_reference():
    _, problems = resolve([L("Dense", name="a"), L("Dense", inputs=["b"])])
    assert problems == [(1, "input 'b' is not a layer name; earlier layers are: input, a")]


def test_later_reference_and_self_reference():
    _, problems = resolve([L("Flatten", inputs=["late"]), L("Dense", name="late"), L("Dense", name="me",
                                                                                    inputs=["me"])])
    assert (0, "input 'late' is layer 1, which comes later; a layer can only take earlier layers") in problems
    assert (2, "input 'me' is itself; a layer can only take earlier layers") in problems


def test_duplicate_name():
    _, problems = resolve([L("Dense", name="x"), L("Dense", name="x")])
    assert problems == [(1, "name 'x' is already used by layer 0; layer names must be unique")]


def test_reserved_input_name():
    _, problems = resolve([L("Dense", name="input")])
    assert problems == [(0, "name 'input' is reserved for the model input; choose another name")]


def test_merge_needs_two_inputs():
    _, problems = resolve([L("Dense"), L("Add")])
    assert len(problems) == 1 and problems[0][0] == 1
    assert problems[0][1].startswith("Add merges two or more layers; list them in \"inputs\"")
    _, problems = resolve([L("Dense"), L("Concatenate", inputs=["dense"])])
    assert [i for i, _ in problems] == [1]


def test_non_merge_with_two_inputs():
    _, problems = resolve([L("Dense"), L("Dense"), L("Dense", inputs=["dense", "dense_1"])])
    assert problems == [(2, "Dense takes one input, received 2 (dense, dense_1); merge them first with Add "
                            "or Concatenate")]


def test_dead_branch():
    layers = [L("Conv2D", name="a"), L("Conv2D", name="b", inputs=["a"]), L("Conv2D", name="c", inputs=["a"]),
              L("Flatten", inputs=["c"])]
    _, problems = resolve(layers)
    assert len(problems) == 1 and problems[0][0] == 1
    assert problems[0][1].startswith("the output of 'b' is never used")


def test_last_layer_is_the_output_not_a_dead_branch():
    _, problems = resolve([L("Dense")])
    assert problems == []


def test_problems_are_sorted_by_layer_and_all_reported():
    layers = [L("Dense", name="x"), L("Add"), L("Dense", name="x", inputs=["nope"])]
    _, problems = resolve(layers)
    assert [i for i, _ in problems] == [1, 2, 2]
    assert "merges two or more" in problems[0][1] and "already used" in problems[1][1]


def test_unknown_type_does_not_break_naming():
    nodes, problems = resolve([L("NotALayer"), L("Dense")])
    assert [n.name for n in nodes] == ["not_a_layer", "dense"] and problems == []


def test_sequential_refusal_names_the_alternatives():
    assert "single chain" in SEQUENTIAL_REFUSAL
    assert "Functional" in SEQUENTIAL_REFUSAL and "subclass" in SEQUENTIAL_REFUSAL
