"""The three builders give the same model: same shapes, same parameters, same outputs."""
import numpy as np
import pytest

from tapedeck.engine.model.build import BuildError, TapedeckModel, build_model
from tapedeck.engine.model.check import check, known_input_shape
from tapedeck.engine.spec import graph
from tapedeck.engine.spec.experiment import Experiment, LayerSpec, ModelSpec, list_presets, load_preset

APIS = ("sequential", "functional", "subclassing")
DIGITS = (8, 8, 1)


def L(type_, name=None, inputs=None, **params):  # noqa: N802 — reads like the LayerSpec it makes
    return LayerSpec(type_, params, name, inputs)


def experiment_of(layers, api="functional"):
    return Experiment(name="test stack", model=ModelSpec(api=api, layers=list(layers)))


CHAIN = [
    L("Rescaling", scale=2.0, offset=-1.0),
    L("RandomFlip", mode="horizontal", seed=1),
    L("RandomRotation", factor=0.05, seed=2),
    L("Conv2D", filters=6, kernel_size=3, padding="same", activation="relu"),
    L("BatchNormalization"),
    L("SeparableConv2D", filters=8, kernel_size=3, activation="relu"),
    L("DepthwiseConv2D", kernel_size=[2, 2], depth_multiplier=2),
    L("SpatialDropout2D", rate=0.2),
    L("MaxPooling2D", pool_size=2),
    L("AveragePooling2D", pool_size=1),
    L("Reshape", target_shape=[2, 2, 16]),
    L("LayerNormalization"),
    L("Flatten"),
    L("Dense", units=12, activation="tanh"),
    L("Dropout", rate=0.3),
    L("Dense", units=10),
    L("Activation", activation="softmax"),
]

RESIDUAL = [
    L("Conv2D", name="stem", filters=4, kernel_size=3, padding="same", activation="relu"),
    L("Conv2D", name="c1", filters=4, kernel_size=3, padding="same", activation="relu"),
    L("Conv2D", name="c2", filters=4, kernel_size=3, padding="same"),
    L("Add", name="skip", inputs=["c2", "stem"]),
    L("Activation", activation="relu"),
    L("GlobalAveragePooling2D"),
    L("Dense", units=10, activation="softmax"),
]

MERGES = [
    L("Conv2D", name="a", filters=3, kernel_size=3, padding="same"),
    L("Conv2D", name="b", filters=3, kernel_size=1),
    L("Average", name="avg", inputs=["a", "b"]),
    L("Multiply", name="mul", inputs=["a", "avg"]),
    L("Maximum", name="max", inputs=["mul", "b"]),
    L("Concatenate", inputs=["max", "input"]),
    L("GlobalMaxPooling2D"),
    L("Dense", units=10, activation="softmax"),
]


def layer_shapes(model, api, input_shape):
    """name → output shape without the batch axis, however the model was written."""
    if api == "subclassing":
        outputs = model.layer_outputs(np.zeros((2, *input_shape), "float32"))
        return {name: tuple(value.shape[1:]) for name, value in outputs.items() if name != graph.INPUT}
    return {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers
            if layer.name != graph.INPUT}


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def assert_same_model(experiment, input_shape, apis, classes=10):
    """Same per-layer shapes (and the check's), same counts, same outputs given the same weights."""
    models = {api: build_model(experiment, input_shape, api) for api in apis}
    report = check(experiment, input_shape, classes, api=apis[0])
    assert report.ok, report.all_problems()
    expected = {layer.name: layer.output_shape for layer in report.layers}
    for api, model in models.items():
        assert layer_shapes(model, api, input_shape) == expected, api
        assert trainable_count(model) == report.trainable, api
        assert model.count_params() == report.trainable + report.non_trainable, api
    source = models[apis[0]]
    rng = np.random.default_rng(0)
    for layer in source.layers:
        # Random weights (not the fresh ones) so BatchNormalization's statistics matter too.
        layer.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") + (0.5 if "variance" in w.name
                           else 0.0) for w in layer.weights])
    for api, model in models.items():
        for layer in source.layers:
            if layer.name != graph.INPUT:
                model.get_layer(layer.name).set_weights(layer.get_weights())
    x = rng.random((4, *input_shape), dtype="float32")
    reference = np.asarray(source(x, training=False))
    for api, model in models.items():
        np.testing.assert_allclose(np.asarray(model(x, training=False)), reference, atol=1e-5,
                                   err_msg=api)
    return models


def test_chain_is_the_same_model_in_all_three():
    experiment = experiment_of(CHAIN)
    assert check(experiment, DIGITS, 10).ok
    models = assert_same_model(experiment, DIGITS, APIS)
    assert [layer.name for layer in models["sequential"].layers] == \
        [node.name for node in graph.resolve(CHAIN)[0]]
    assert isinstance(models["subclassing"], TapedeckModel)


@pytest.mark.parametrize("layers", [RESIDUAL, MERGES], ids=["residual", "merges"])
def test_branched_stack_builds_as_functional_and_subclassing(layers):
    experiment = experiment_of(layers)
    assert check(experiment, DIGITS, 10).ok
    assert_same_model(experiment, DIGITS, ("functional", "subclassing"))
    with pytest.raises(BuildError) as refused:
        build_model(experiment, DIGITS, "sequential")
    assert str(refused.value) == graph.SEQUENTIAL_REFUSAL


_VERIFIED_STACKS = set()  # presets differing only in api/loop share a stack: build it once


def _one_head(name) -> bool:
    from tapedeck.engine.spec.heads import is_multi

    preset = load_preset(name)
    return preset.objective.is_classify and not is_multi(preset.model)   # a GAN's models: test_gan_run.py


# Several-input / several-head presets have their own test (tests/engine/model/test_build_heads.py).
@pytest.mark.parametrize("name", [name for name in list_presets() if _one_head(name)])
def test_every_preset_is_the_same_model_in_all_three(name):
    experiment = load_preset(name)
    known = known_input_shape(experiment.data)
    assert known is not None, f"preset {name} reads a file; give it a known-shape source"
    input_shape, classes = known
    report = check(experiment, input_shape, classes)
    assert report.ok, report.all_problems()
    key = (repr([spec.to_dict() for spec in experiment.model.layers]), input_shape)
    if key in _VERIFIED_STACKS:
        return
    nodes, _ = graph.resolve(experiment.model.layers)
    apis = APIS if graph.is_chain(nodes) else APIS[1:]
    assert_same_model(experiment, input_shape, apis, classes)
    _VERIFIED_STACKS.add(key)


def test_subclassed_model_saves_and_reloads(tmp_path):
    import keras

    model = build_model(experiment_of(RESIDUAL), DIGITS, "subclassing")
    x = np.random.default_rng(1).random((3, *DIGITS), dtype="float32")
    before = np.asarray(model(x, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, TapedeckModel)
    assert reloaded.get_config()["layer_specs"] == [spec.to_dict() for spec in RESIDUAL]
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False)), before, atol=1e-6)


def test_subclassed_model_trains():
    model = build_model(experiment_of(RESIDUAL), DIGITS, "subclassing")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(2)
    x, y = rng.random((16, *DIGITS), dtype="float32"), rng.integers(0, 10, 16)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_model_name_comes_from_the_experiment():
    model = build_model(experiment_of(RESIDUAL[:0] + [L("Flatten"), L("Dense", units=10)]), DIGITS)
    assert model.name == "test_stack"


def test_wiring_problem_is_a_build_error_naming_the_layer():
    experiment = experiment_of([L("Flatten", inputs=["missing"]), L("Dense", units=10)])
    for api in APIS:
        with pytest.raises(BuildError, match="layer 0 'flatten': input 'missing' is not a layer name"):
            build_model(experiment, DIGITS, api)


def test_keras_refusal_is_a_build_error_in_plain_text():
    experiment = experiment_of([L("Flatten"), L("Reshape", target_shape=[5, 5])])
    for api in APIS:
        with pytest.raises(BuildError) as error:
            build_model(experiment, DIGITS, api)
        message = str(error.value)
        assert "\x1b" not in message and "total size of the tensor must be unchanged" in message
        assert message.startswith("layer 1 'reshape' (Reshape): ")


def test_unknown_api_is_a_build_error():
    with pytest.raises(BuildError, match="model.api"):
        build_model(experiment_of([L("Flatten")]), DIGITS, "keras2")


def test_subclass_trains_with_dropout_and_batchnorm_like_the_other_apis():
    """Keras hands `training` to a subclass's layers only through call's own argument: without it
    the subclass trained with Dropout off and BatchNormalization frozen, unlike the other two."""
    import keras

    from tapedeck.engine.spec.experiment import Experiment

    layers = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
              {"type": "BatchNormalization"}, {"type": "Flatten"}, {"type": "Dropout", "rate": 0.5},
              {"type": "Dense", "units": 10, "activation": "softmax"}]
    experiment = Experiment.from_dict({"format": "tapedeck/1", "model": {"api": "sequential", "layers": layers}})
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1), dtype="float32")
    y = np.arange(16) % 10
    losses = {}
    for api in ("sequential", "functional", "subclassing"):
        keras.utils.set_random_seed(0)
        model = build_model(experiment, (8, 8, 1), api)
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        losses[api] = [float(model.train_on_batch(x, y)) for _ in range(3)]
    np.testing.assert_allclose(losses["subclassing"], losses["functional"], rtol=1e-6)
    np.testing.assert_allclose(losses["sequential"], losses["functional"], rtol=1e-6)
