"""The shape check: Keras's own shapes and counts, and one clear message per common mistake."""
import pytest

from tapedeck.engine.model.check import check, keras_message, known_input_shape
from tapedeck.engine.spec import graph
from tapedeck.engine.spec.experiment import DataSpec, Experiment, LayerSpec, ModelSpec

DIGITS = (8, 8, 1)


def L(type_, name=None, inputs=None, **params):  # noqa: N802 — reads like the LayerSpec it makes
    return LayerSpec(type_, params, name, inputs)


def run(layers, api="functional", shape=DIGITS, classes=10, labels="sparse", **training):
    experiment = Experiment(model=ModelSpec(api=api, layers=list(layers)))
    experiment.data.labels = labels
    for key, value in training.items():
        setattr(experiment.training, key, value)
    return check(experiment, shape, classes)


HEAD = [L("Flatten"), L("Dense", units=10, activation="softmax")]


def only_problem(report):
    problems = report.all_problems()
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------- shapes and counts


def test_shapes_and_params_are_keras_own():
    from tapedeck.engine.model.build import build_model

    layers = [L("Conv2D", filters=8, kernel_size=3, activation="relu"), L("MaxPooling2D"),
              L("BatchNormalization"), *HEAD]
    report = run(layers)
    assert report.ok, report.all_problems()
    assert [r.output_shape for r in report.layers] == [(6, 6, 8), (3, 3, 8), (3, 3, 8), (72,), (10,)]
    assert [r.params for r in report.layers] == [80, 0, 32, 0, 730]
    assert [r.name for r in report.layers] == ["conv2d", "max_pooling2d", "batch_normalization",
                                               "flatten", "dense"]
    # BatchNormalization: gamma and beta learn, the moving mean and variance do not.
    assert (report.trainable, report.non_trainable) == (80 + 16 + 730, 16)
    model = build_model(Experiment(model=ModelSpec(api="functional", layers=layers)), DIGITS)
    assert report.trainable + report.non_trainable == model.count_params()


def test_branched_stack_shapes():
    layers = [L("Conv2D", name="a", filters=4, kernel_size=3, padding="same"),
              L("Conv2D", name="b", filters=4, kernel_size=1),
              L("Add", inputs=["a", "b"]),
              L("Concatenate", inputs=["add", "input"]), *HEAD]
    report = run(layers)
    assert report.ok, report.all_problems()
    assert report.layers[3].output_shape == (8, 8, 5)


def test_format_table_lists_every_layer_and_totals():
    report = run([L("Conv2D", filters=8, kernel_size=3), *HEAD], from_logits=False)
    table = report.format_table()
    lines = table.splitlines()
    assert lines[0].split() == ["#", "name", "type", "output", "shape", "params"]
    assert any(line.split()[:4] == ["0", "conv2d", "Conv2D", "(6,"] and line.endswith("80") for line in lines)
    assert any("(288,)" in line for line in lines)
    assert "dense" in table and "2,890" in table
    assert lines[-1] == "Total params: 2,970 (trainable: 2,970, non-trainable: 0)"


def test_format_table_marks_failed_and_unknown_layers():
    report = run([L("Flatten"), L("Conv2D", filters=8, kernel_size=3), L("Dense", units=10)])
    rows = {line.split()[1]: line for line in report.format_table().splitlines()[2:]
            if line.split() and line.split()[0].isdigit()}
    assert "error" in rows["conv2d"]
    assert rows["dense"].split()[3] == "?"
    assert "problem" in report.format_table().splitlines()[-1]


def test_known_input_shape():
    assert known_input_shape(DataSpec(source="digits")) == ((8, 8, 1), 10)
    assert known_input_shape(DataSpec(source="mnist")) == ((28, 28, 1), 10)
    assert known_input_shape(DataSpec(source="cifar100")) == ((32, 32, 3), 100)
    assert known_input_shape(DataSpec(source="cifar100", label_mode="coarse")) == ((32, 32, 3), 20)
    assert known_input_shape(DataSpec(source="npz", path="x.npz")) is None


# ---------------------------------------------------------------- per-layer mistakes


def test_dense_on_image_says_flatten_was_forgotten():
    report = run([L("Conv2D", filters=8, kernel_size=3), L("Dense", units=32, activation="relu"),
                  L("Dense", units=10, activation="softmax")])
    message = only_problem(report)
    assert message.startswith("layer 1 'dense' (Dense): ")
    assert "image-shaped input (6, 6, 8)" in message and "add a Flatten" in message


def test_dense_on_image_is_fine_when_flattened_later():
    report = run([L("Conv2D", filters=8, kernel_size=3), L("Dense", units=4), *HEAD])
    assert report.ok, report.all_problems()


def test_output_not_one_vector_per_example():
    report = run([L("Conv2D", filters=10, kernel_size=3, activation="softmax")])
    message = only_problem(report)
    assert message.startswith("layer 0 'conv2d' (Conv2D): ")
    assert "(6, 6, 10)" in message and "one vector of 10 class scores" in message


@pytest.mark.parametrize("type_,params", [("Conv2D", {"filters": 4, "kernel_size": 3}),
                                          ("MaxPooling2D", {}),
                                          ("GlobalAveragePooling2D", {})])
def test_spatial_layer_after_flatten(type_, params):
    report = run([L("Flatten"), L(type_, **params), L("Dense", units=10, activation="softmax")])
    message = only_problem(report)  # the Dense after it gets no second error
    assert message.startswith("layer 1 ")
    assert "flat vector (64,)" in message and "before the Flatten" in message
    assert report.layers[2].output_shape is None and report.layers[2].problems == []


def test_kernel_larger_than_input():
    report = run([L("Conv2D", filters=4, kernel_size=9), *HEAD])
    message = only_problem(report)
    assert "kernel_size 9×9 is larger than its 8×8 input" in message and 'padding="same"' in message
    assert run([L("Conv2D", filters=4, kernel_size=9, padding="same"), *HEAD]).ok


def test_dilated_kernel_larger_than_input():
    report = run([L("Conv2D", filters=4, kernel_size=3, dilation_rate=4), *HEAD])
    assert "dilated to 9×9" in only_problem(report)


def test_pool_window_larger_than_input():
    report = run([L("MaxPooling2D"), L("MaxPooling2D"), L("AveragePooling2D", pool_size=3), *HEAD])
    message = only_problem(report)
    assert message.startswith("layer 2 'average_pooling2d'")
    assert "pool_size 3×3 is larger than its 2×2 input" in message


@pytest.mark.parametrize("type_,param,value", [("Dense", "units", 0), ("Dense", "units", -5),
                                               ("Conv2D", "filters", 0), ("SeparableConv2D", "filters", -1)])
def test_non_positive_size(type_, param, value):
    if type_ == "Dense":
        layers = [L("Flatten"), L(type_, activation="softmax", **{param: value})]
    else:
        layers = [L(type_, kernel_size=3, **{param: value}), *HEAD]
    message = only_problem(run(layers))
    assert f"{param} must be a positive whole number" in message and f"received {value}" in message


@pytest.mark.parametrize("type_,rate", [("Dropout", 1.0), ("Dropout", -0.1), ("SpatialDropout2D", 1.5)])
def test_dropout_rate_outside_range(type_, rate):
    message = only_problem(run([L(type_, rate=rate), *HEAD]))
    assert "rate is the fraction" in message and f"received {rate}" in message


def test_dropout_rate_zero_is_fine():
    assert run([L("Dropout", rate=0.0), *HEAD]).ok


def test_add_with_different_shapes():
    report = run([L("Conv2D", name="a", filters=4, kernel_size=3), L("Add", inputs=["a", "input"]),
                  *HEAD])
    message = only_problem(report)
    assert message.startswith("layer 1 'add' (Add): ")
    assert "'a' (6, 6, 4), the model input (8, 8, 1)" in message and "1×1 Conv2D" in message


def test_add_broadcasting_is_refused_too():
    # Keras broadcasts (8, 8, 1) + (64,) into (8, 8, 64) without a word; that is never what was meant.
    layers = [L("Flatten", name="f"), L("Add", inputs=["input", "f"]), *HEAD]
    assert "must have one shape" in only_problem(run(layers))


def test_concatenate_with_different_sizes():
    layers = [L("MaxPooling2D", name="p"), L("Concatenate", inputs=["p", "input"]), *HEAD]
    message = only_problem(run(layers))
    assert "Concatenate joins its inputs along axis -1" in message and "(4, 4, 1)" in message


def test_unknown_and_later_references():
    report = run([L("Conv2D", name="a", filters=4, kernel_size=3, inputs=["nowhere"]), *HEAD])
    assert "'nowhere' is not a layer name" in only_problem(report)
    report = run([L("Conv2D", name="a", filters=4, kernel_size=3, inputs=["b"]),
                  L("Conv2D", name="b", filters=4, kernel_size=3), *HEAD])
    problems = report.all_problems()
    assert any("'b'" in p and "comes later" in p for p in problems), problems


def test_duplicate_names():
    report = run([L("Conv2D", name="x", filters=4, kernel_size=3),
                  L("Conv2D", name="x", filters=4, kernel_size=3), *HEAD])
    message = only_problem(report)
    assert message.startswith("layer 1 'x'") and "already used by layer 0" in message


def test_empty_stack():
    report = run([])
    assert report.layers == [] and not report.ok
    assert "no layers" in only_problem(report)


def test_sequential_refuses_branches():
    layers = [L("Conv2D", name="a", filters=1, kernel_size=3, padding="same"),
              L("Add", inputs=["a", "input"]), *HEAD]
    assert run(layers, api="functional").ok
    report = run(layers, api="sequential")
    assert report.problems == [graph.SEQUENTIAL_REFUSAL]
    assert report.layers[-1].output_shape == (10,)  # shapes are still shown


def test_unknown_type_and_bad_value_are_problems_not_exceptions():
    report = run([L("Conv3D", filters=4), L("Conv2D", filters=4, kernel_size="big"), *HEAD])
    problems = report.all_problems()
    assert "unknown layer type 'Conv3D'" in problems[0]
    assert report.layers[1].problems == []  # its input is unknown: no second error


def test_keras_refusal_is_reported_on_the_layer_in_plain_text():
    # The rules let this through; Keras refuses it with escape codes and call details.
    report = run([L("Flatten"), L("Reshape", target_shape=[5, 5]), *HEAD])
    message = only_problem(report)
    assert message.startswith("layer 1 'reshape' (Reshape): ")
    assert "total size of the tensor must be unchanged" in message
    assert "\x1b" not in message and "Arguments received" not in message and "\n" not in message


def test_keras_message_strips_escape_codes():
    text = ("Exception encountered when calling MaxPooling2D.call().\n\n\x1b[1mComputed output size "
            "would be zero or negative.\x1b[0m\n\nArguments received by MaxPooling2D.call():\n  • args=()")
    assert keras_message(ValueError(text)) == "Computed output size would be zero or negative."


# ---------------------------------------------------------------- output against loss and data


def test_last_layer_width_not_class_count():
    message = only_problem(run([L("Flatten"), L("Dense", units=5, activation="softmax")]))
    assert "outputs 5 values per example, but the data has 10 classes; set its units to 10" in message


def test_dense_one_with_softmax_is_always_one():
    message = only_problem(run([L("Flatten"), L("Dense", units=1, activation="softmax")]))
    assert "always 1.0" in message and "set units to 10" in message


def test_dense_one_with_softmax_for_binary_suggests_sigmoid():
    report = run([L("Flatten"), L("Dense", units=1, activation="softmax")], classes=2,
                 loss="binary_crossentropy")
    assert 'activation="sigmoid"' in only_problem(report)


def test_binary_setup_that_works():
    report = run([L("Flatten"), L("Dense", units=1, activation="sigmoid")], classes=2,
                 loss="binary_crossentropy")
    assert report.ok, report.all_problems()


def test_binary_crossentropy_with_many_classes():
    report = run([L("Flatten"), L("Dense", units=10, activation="sigmoid")],
                 loss="binary_crossentropy")
    message = only_problem(report)
    assert "binary_crossentropy, which is for two classes" in message and "10 classes" in message


def test_softmax_output_with_from_logits_loss():
    message = only_problem(run(HEAD, from_logits=True))
    assert "already outputs probabilities" in message and "from_logits to false" in message


def test_linear_output_with_probability_loss():
    message = only_problem(run([L("Flatten"), L("Dense", units=10), L("Dropout", rate=0.1)]))
    assert "no activation" in message and "from_logits to true" in message
    assert run([L("Flatten"), L("Dense", units=10)], from_logits=True).ok


def test_activation_layer_counts_as_the_output_activation():
    assert run([L("Flatten"), L("Dense", units=10), L("Activation", activation="softmax")]).ok
    message = only_problem(run([L("Flatten"), L("Dense", units=10), L("Activation", activation="relu")]))
    assert "ends with relu, which does not give probabilities" in message


def test_sparse_loss_with_one_hot_labels():
    message = only_problem(run(HEAD, labels="one_hot"))
    assert "expects integer class labels, but data.labels is one_hot" in message


def test_one_hot_loss_with_sparse_labels():
    message = only_problem(run(HEAD, loss="categorical_crossentropy"))
    assert "expects one-hot labels, but data.labels is sparse" in message
    assert run(HEAD, loss="categorical_crossentropy", labels="one_hot").ok


@pytest.mark.parametrize("type_,axis,words", [("BatchNormalization", 5, "axis 5 does not exist"),
                                              ("LayerNormalization", 0, "axis 0 is the batch axis"),
                                              ("BatchNormalization", -4, "axis -4 is the batch axis")])
def test_axis_outside_the_input(type_, axis, words):
    message = only_problem(run([L(type_, axis=axis), *HEAD]))
    assert words in message and "-1 is the channels (last) axis" in message
    assert run([L(type_, axis=1), *HEAD]).ok


def test_concatenate_along_the_batch_axis():
    message = only_problem(run([L("Concatenate", inputs=["input", "input"], axis=0), *HEAD]))
    assert "axis 0 is the batch axis" in message


def test_from_logits_mismatch_is_reported_even_when_a_layer_fails():
    report = run([L("Flatten"), L("Conv2D", filters=4, kernel_size=3), *HEAD], from_logits=True)
    problems = report.all_problems()
    assert len(problems) == 2, problems
    assert "flat vector" in problems[0] and "already outputs probabilities" in problems[1]


def test_recheck_after_an_edit_sees_the_edit():
    # Keras's answers are remembered per layer; an edit must never be answered from memory.
    layers = [L("Conv2D", filters=8, kernel_size=3), L("Flatten"), L("Dense", units=10, activation="softmax")]
    first = run(layers)
    assert run(layers) == first
    layers[0].params["filters"] = 4
    second = run(layers)
    assert [r.output_shape for r in second.layers] == [(6, 6, 4), (144,), (10,)]
    assert second.trainable == 40 + 1450
    layers[0].params["padding"] = "same"
    assert run(layers).layers[1].output_shape == (256,)
