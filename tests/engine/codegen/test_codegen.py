"""Code export: the generated scripts run under plain ``python`` (every api × loop, three model
families), compile for every preset, build the same model as the engine, and load the same data."""
from __future__ import annotations

import ast
import concurrent.futures
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.codegen.script import (
    MODEL_ATTRIBUTES,
    POSITIONAL,
    TRAINING_AWARE,
    generate_code,
    layer_expression,
    model_code,
)
from tapedeck.engine.spec import graph, heads
from tapedeck.engine.spec.experiment import Experiment, LayerSpec, list_presets, load_preset

APIS = ("sequential", "functional", "subclassing")
LOOPS = ("fit", "tape")
ACCURACY_LINE = re.compile(r"^Test accuracy: (\d\.\d{4})$")


def _short(experiment: Experiment, **data) -> Experiment:
    """One epoch on a few examples: the scripts must run end to end, not learn."""
    experiment = experiment.copy()
    experiment.training.epochs = 1
    experiment.data.limit = 200
    for key, value in data.items():
        setattr(experiment.data, key, value)
    return experiment


def _mnist_npz(path: Path) -> Path:
    """MNIST's own layout (uint8 28x28, integer labels) in the keras.datasets.mnist .npz form."""
    rng = np.random.default_rng(0)
    y_train, y_test = np.arange(240) % 10, np.arange(60) % 10
    x_train = rng.integers(0, 256, (240, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    np.savez(path, x_train=x_train, y_train=y_train.astype(np.uint8), x_test=x_test, y_test=y_test.astype(np.uint8))
    return path


def _run_script(path: Path) -> tuple[Path, int, str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=240, env=env,
                            cwd=path.parent)
    return path, result.returncode, result.stdout, result.stderr


def test_generated_scripts_run_standalone(tmp_path):
    """Every api × loop for digits_cnn and digits_residual (no Sequential), and the MNIST CNN on an .npz
    of MNIST's shape once per loop (its loader is the same code whatever the API): exit 0, and the
    last line printed is the test accuracy."""
    npz = _mnist_npz(tmp_path / "mnist.npz")
    cases = {}
    for api, loop in (("sequential", "fit"), ("subclassing", "tape")):
        mnist = _short(load_preset(f"mnist_cnn_{api}_{loop}"), source="npz", path=str(npz))
        cases[f"mnist_cnn_{api}_{loop}"] = generate_code(mnist)
    for api in APIS:
        for loop in LOOPS:
            cases[f"digits_cnn_{api}_{loop}"] = generate_code(_short(load_preset("digits_cnn")), api, loop)
            if api != "sequential":
                cases[f"digits_residual_{api}_{loop}"] = generate_code(_short(load_preset("digits_residual")),
                                                                       api, loop)
    cases["digits_residual_mirrored_tape"] = _two_replicas(_mirrored_tape())
    scripts = []
    for name, text in cases.items():
        (tmp_path / name).mkdir()
        script = tmp_path / name / f"{name}.py"
        script.write_text(text)
        scripts.append(script)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run_script, scripts))
    failures = []
    for path, code, stdout, stderr in results:
        last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
        match = ACCURACY_LINE.match(last)
        if code != 0 or not match or not 0.0 <= float(match[1]) <= 1.0:
            failures.append(f"{path.name}: exit {code}, last line {last!r}\n{stderr[-2000:]}")
    assert not failures, "\n\n".join(failures)
    assert len(results) == 13
    mirrored = next(stdout for path, _, stdout, _ in results if path.stem == "digits_residual_mirrored_tape")
    assert "replicas: 2" in mirrored


def _mirrored_tape() -> str:
    experiment = _short(load_preset("digits_residual"))
    experiment.training.distribute = "mirrored"
    return generate_code(experiment, "subclassing", "tape")


def _two_replicas(text: str) -> str:
    """Two logical CPUs and a MirroredStrategy over both: the tape loop's per-replica loss scaling and
    metrics run for real without a GPU."""
    prefix = (
        "import tensorflow as tf\n"
        'cpu = tf.config.list_physical_devices("CPU")[0]\n'
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
    )
    line = "strategy = tf.distribute.MirroredStrategy()"
    assert line in text
    both = ('strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])\n'
            'print("replicas:", strategy.num_replicas_in_sync)')
    return prefix + text.replace(line, both)


def test_every_preset_exports_every_api_and_loop():
    presets = list_presets()
    assert {"digits_cnn", "digits_residual", "mnist_cnn_sequential_fit",
            "cifar100_cnn_subclassing_tape"} <= set(presets)
    for name in presets:
        experiment = load_preset(name)
        if not experiment.objective.is_classify:
            continue   # several models: tests/engine/codegen/test_codegen_gan.py
        several = heads.is_multi(experiment.model)   # more in tests/engine/codegen/test_codegen_several.py
        for api in APIS:
            for loop in LOOPS:
                if api == "sequential" and (several or not graph.is_chain(graph.resolve(experiment.model.layers)[0])):
                    with pytest.raises(ValueError) as error:
                        generate_code(experiment, api, loop)
                    assert str(error.value).startswith("Sequential is one input to one output" if several else
                                                       graph.SEQUENTIAL_REFUSAL)
                    continue
                text = generate_code(experiment, api, loop)
                compile(text, f"{name}_{api}_{loop}.py", "exec")
                last = text.rstrip().splitlines()[-1]
                if several:
                    assert re.fullmatch(r"print\(f\"Test \w+ (accuracy|MAE): \{(results|metrics)\['\w+'\]:\.4f\}\"\)",
                                        last), last
                else:
                    assert last == ('print(f"Test accuracy: {test_accuracy:.4f}")' if loop == "fit"
                                    else 'print(f"Test accuracy: {accuracy:.4f}")')
                _assert_no_tapedeck_import(text)


def _assert_no_tapedeck_import(text):
    modules = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    assert modules <= {"numpy", "tensorflow", "keras", "sklearn", "gzip", "math", "os", "pickle", "struct",
                       "tarfile", "pathlib"}, modules


def test_default_arguments_are_left_out_and_the_tutorial_spelling_is_used():
    conv = LayerSpec("Conv2D", {"filters": 32, "kernel_size": 3, "padding": "valid", "activation": "relu",
                                "strides": [1, 1]})
    assert layer_expression(conv) == 'layers.Conv2D(32, 3, activation="relu")'
    pool = LayerSpec("MaxPooling2D", {"pool_size": [2, 2]}, name="pool")
    assert layer_expression(pool) == 'layers.MaxPooling2D(name="pool")'
    pool3 = LayerSpec("MaxPooling2D", {"pool_size": [3, 2], "padding": "same"})
    assert layer_expression(pool3) == 'layers.MaxPooling2D((3, 2), padding="same")'
    reshape = LayerSpec("Reshape", {"target_shape": [-1]})
    assert layer_expression(reshape) == "layers.Reshape((-1,))"


def test_branches_are_wired_by_name():
    experiment = load_preset("digits_residual")
    functional = generate_code(experiment, "functional", "fit")
    assert 'stem = layers.Conv2D(32, 3, activation="relu", padding="same", name="stem")(inputs)' in functional
    assert 'x = layers.Add(name="skip")([stem, x])' in functional
    assert "model = keras.Model(inputs=inputs, outputs=outputs)" in functional
    subclassing = generate_code(experiment, "subclassing", "tape")
    assert "class MyModel(keras.Model):" in subclassing
    assert "        x = self.skip([stem, x])" in subclassing
    assert "        x = self.dropout(x, training=training)" in subclassing
    assert "@tf.function" in subclassing and "tf.GradientTape()" in subclassing


def test_layer_names_that_clash_become_valid_distinct_python_names():
    layers = [LayerSpec("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}, name="layers"),
              LayerSpec("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}, name="2nd-conv.b"),
              LayerSpec("Add", {}, name="summary", inputs=["layers", "2nd-conv.b"]),
              LayerSpec("Flatten", {}, name="class"),
              LayerSpec("Dense", {"units": 10, "activation": "softmax"})]
    experiment = Experiment.from_dict({**Experiment().to_dict(), "model": {"api": "functional", "layers": [
        layer.to_dict() for layer in layers]}})
    for api in ("functional", "subclassing"):
        code = model_code(experiment, api)
        namespace = _exec_model(code, (8, 8, 1))
        model = namespace["model"]
        assert model(np.zeros((2, 8, 8, 1), "float32")).shape == (2, 10)
        assert "keras" in namespace and "layers" in namespace and namespace["layers"].__name__.startswith("keras")


def _exec_model(code, input_shape):
    import keras
    from keras import layers

    namespace = {"keras": keras, "layers": layers, "np": np, "input_shape": tuple(input_shape)}
    exec(compile(code, "model.py", "exec"), namespace)
    model = namespace["model"]
    if not model.built:
        model(np.zeros((1, *input_shape), "float32"))
    return namespace


@pytest.mark.parametrize("preset, input_shape", [
    ("digits_cnn", (8, 8, 1)),
    ("digits_residual", (8, 8, 1)),
    ("mnist_cnn_sequential_fit", (28, 28, 1)),
    ("cifar100_cnn_functional_tape", (32, 32, 3)),
])
def test_exported_model_matches_the_engine_build(preset, input_shape):
    """Same parameter count as engine.model.build, and the same outputs given the same weights."""
    from tapedeck.engine.model.build import build_model

    experiment = load_preset(preset)
    x = np.random.default_rng(0).random((3, *input_shape), dtype=np.float32)
    for api in APIS:
        if api == "sequential" and preset == "digits_residual":
            continue
        reference = build_model(experiment, input_shape, api)
        exported = _exec_model(model_code(experiment, api), input_shape)["model"]
        assert exported.count_params() == reference.count_params(), api
        exported.set_weights(reference.get_weights())
        np.testing.assert_allclose(np.asarray(exported(x, training=False)),
                                   np.asarray(reference(x, training=False)), atol=1e-5)


def test_model_code_is_the_models_part_of_the_script():
    experiment = load_preset("digits_residual")
    for api in ("functional", "subclassing"):
        assert model_code(experiment, api).strip() in generate_code(experiment, api, "fit")


def test_tables_agree_with_keras():
    """POSITIONAL follows Keras's argument order, TRAINING_AWARE layers take ``training``, and no layer
    attribute of MyModel can replace a keras.Model attribute."""
    import keras

    for type_name, names in POSITIONAL.items():
        parameters = list(inspect.signature(getattr(keras.layers, type_name).__init__).parameters)[1:]
        assert parameters[:len(names)] == list(names), type_name
    for type_name in TRAINING_AWARE:
        assert "training" in inspect.signature(getattr(keras.layers, type_name).call).parameters, type_name
    public = {name for name in dir(keras.Model) if not name.startswith("_")}
    assert public <= MODEL_ATTRIBUTES, sorted(public - MODEL_ATTRIBUTES)


def test_wrong_api_loop_and_broken_wiring_are_refused_in_words():
    experiment = load_preset("digits_cnn")
    with pytest.raises(ValueError, match="api: expected one of sequential, functional, subclassing"):
        generate_code(experiment, api="keras")
    with pytest.raises(ValueError, match="loop: expected one of fit, tape"):
        generate_code(experiment, loop="estimator")
    broken = experiment.copy()
    broken.model.layers[2].inputs = ["nowhere"]
    with pytest.raises(ValueError, match="layer 2: input 'nowhere' is not a layer name"):
        generate_code(broken, api="functional")


def _options_experiment(source_npz: Path | None = None, **training) -> Experiment:
    experiment = load_preset("digits_cnn")
    experiment.data.limit = 120
    for key, value in training.items():
        setattr(experiment.training, key, value)
    experiment.training.epochs = 2
    return experiment


OPTION_SETS = [
    dict(optimizer="sgd", momentum=0.9, nesterov=True, schedule="step", schedule_every=1),
    dict(optimizer="adamw", weight_decay=0.01, schedule="cosine", early_stopping=True,
         early_stopping_monitor="val_accuracy", early_stopping_patience=0),
    dict(optimizer="rmsprop", momentum=0.5, schedule="plateau", schedule_patience=0, seed=None),
    dict(loss="categorical_crossentropy", early_stopping=True, early_stopping_patience=0,
         restore_best_weights=False, steps_per_execution=2),
    dict(distribute="mirrored", schedule="step"),
    dict(distribute="auto", deterministic=True),
    dict(execution="eager"),
    dict(execution="xla", schedule="cosine"),
    dict(global_clipnorm=1.0, gradient_accumulation_steps=2),
    dict(clipnorm=1.0, optimizer="sgd"),
    dict(clipvalue=0.5, distribute="mirrored"),
    dict(steps_per_execution="auto", execution="xla"),
    dict(steps_per_execution=3, distribute="mirrored"),
    dict(fused_update=True, precision="mixed_bfloat16", steps_per_execution=2),
    dict(fused_update=True, optimizer="adamw", distribute="mirrored"),
]


def test_the_fused_update_is_written_at_module_level_under_a_strategy():
    """The function at module level, the line that installs it beside the optimizer in the strategy's scope."""
    for loop in LOOPS:
        text = generate_code(_options_experiment(fused_update=True, distribute="mirrored"), loop=loop)
        assert "\ndef fused_adam_update(self, gradient, variable, learning_rate):" in text, loop
        assert text.index("def fused_adam_update") < text.index("with strategy.scope():"), loop
        assert "    optimizer.update_step = types.MethodType(fused_adam_update, optimizer)" in text, loop
        assert text.count("def fused_adam_update") == 1, loop


def test_steps_per_execution_is_written_for_both_loops():
    """A number as it is; "auto" as the figure the script uses, with where a run's own figure is."""
    fit = generate_code(_options_experiment(steps_per_execution=4), loop="fit")
    tape = generate_code(_options_experiment(steps_per_execution=4), loop="tape")
    assert "    steps_per_execution=4," in fit
    assert "steps_per_execution = 4  # training steps per compiled call" in tape
    assert "def train_steps(iterator, steps):" in tape and "tf.while_loop(lambda taken: taken < steps" in tape
    assert "train_steps(iterator, tf.constant(min(steps_per_execution, steps_per_epoch - first)))" in tape
    one = generate_code(_options_experiment(steps_per_execution=1), loop="tape")
    assert "train_steps" not in one and "steps_per_execution" not in generate_code(
        _options_experiment(steps_per_execution=1), loop="fit")
    for loop in LOOPS:
        text = generate_code(_options_experiment(steps_per_execution="auto"), loop=loop)
        assert 'steps_per_execution "auto" in Tapedeck' in text and "metrics.json" in text
        assert "steps_per_execution=16," in text or "steps_per_execution = 16" in text
    # Keras's several-steps fit fails on several replicas: a distributed fit script keeps one step per call
    mirrored = generate_code(_options_experiment(steps_per_execution=4, distribute="mirrored"), loop="fit")
    assert "steps_per_execution=4" not in mirrored and "fails on several replicas" in mirrored
    assert "steps_per_execution = 4" in generate_code(_options_experiment(steps_per_execution=4,
                                                                          distribute="mirrored"), loop="tape")


def test_clipping_and_accumulation_are_written_out_in_the_tape_loop():
    tape = generate_code(_options_experiment(global_clipnorm=1.0, gradient_accumulation_steps=4), loop="tape")
    assert "gradients, _ = tf.clip_by_global_norm(gradients, 1.0)" in tape
    assert "tf.cond(batches_seen % accumulation_steps == 0, apply_accumulated" in tape
    assert "global_clipnorm=" not in tape
    fit = generate_code(_options_experiment(global_clipnorm=1.0, gradient_accumulation_steps=4), loop="fit")
    assert "global_clipnorm=1.0, gradient_accumulation_steps=4)" in fit


def test_the_execution_mode_is_written_out():
    """graph: @tf.function / plain compile; eager: no decorator / run_eagerly; xla: jit_compile=True."""
    texts = {(execution, loop): generate_code(_options_experiment(execution=execution), loop=loop)
             for execution in ("graph", "eager", "xla") for loop in LOOPS}
    assert "@tf.function\ndef train_step" in texts["graph", "tape"]
    assert "@tf.function\n" not in texts["eager", "tape"] and "No @tf.function" in texts["eager", "tape"]
    assert "@tf.function(jit_compile=True)" in texts["xla", "tape"]
    assert "run_eagerly" not in texts["graph", "fit"] and "jit_compile" not in texts["graph", "fit"]
    assert "    run_eagerly=True," in texts["eager", "fit"] and "    jit_compile=True," in texts["xla", "fit"]


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_training_options_run(options, loop, tmp_path, monkeypatch, capsys):
    """Every training option is written as working code in both loops (run in this process: TensorFlow is
    already imported, so a run costs a second, not a subprocess)."""
    experiment = _options_experiment(**options)
    if options.get("loss") == "categorical_crossentropy":
        experiment.data.labels = "one_hot"
    text = generate_code(experiment, "subclassing" if loop == "tape" else "functional", loop)
    if experiment.training.deterministic:
        # Op determinism is process-wide and would slow every later test: check it is asked for, run without.
        assert "tf.config.experimental.enable_op_determinism()" in text
        text = text.replace("tf.config.experimental.enable_op_determinism()", "pass")
    monkeypatch.chdir(tmp_path)
    exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert ACCURACY_LINE.match(last), last


def test_tensorboard_logs_are_written_in_both_loops():
    """TensorBoard is not installed here (the scripts need it only when asked), so check the code."""
    experiment = _options_experiment(tensorboard=True)
    fit = generate_code(experiment, loop="fit")
    assert 'keras.callbacks.TensorBoard(log_dir="logs")' in fit and "callbacks=callbacks" in fit
    tape = generate_code(experiment, loop="tape")
    assert 'summary_writer = tf.summary.create_file_writer("logs")' in tape
    assert "tf.summary.scalar(key, value, step=epoch)" in tape
    for text in (fit, tape):
        compile(text, "script.py", "exec")


def test_binary_classification_from_logits(tmp_path, monkeypatch, capsys):
    """Two classes, one logit: BinaryCrossentropy(from_logits=True) and an accuracy thresholded at 0."""
    rng = np.random.default_rng(0)
    x = rng.random((80, 6, 6), dtype=np.float32)
    y = (x.mean(axis=(1, 2)) > 0.5).astype(np.int64)
    np.savez(tmp_path / "two.npz", x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    experiment = Experiment.from_dict({
        "format": "tapedeck/1", "name": "two classes",
        "data": {"source": "npz", "path": str(tmp_path / "two.npz")},
        "model": {"api": "sequential", "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 1}]},
        "training": {"loss": "binary_crossentropy", "from_logits": True, "epochs": 1},
    })
    monkeypatch.chdir(tmp_path)
    for loop in LOOPS:
        text = generate_code(experiment, loop=loop)
        assert "keras.losses.BinaryCrossentropy(from_logits=True)" in text
        assert "BinaryAccuracy(" in text and "threshold=0.0" in text
        exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
        assert ACCURACY_LINE.match(capsys.readouterr().out.strip().splitlines()[-1])


def test_export_needs_no_tensorflow_and_is_fast():
    """The code tab regenerates on every edit, before TensorFlow has loaded: no Keras import, a few ms."""
    probe = (
        "import sys, time\n"
        "from engine.codegen.script import generate_code\n"
        "from engine.spec.experiment import load_preset\n"
        "experiment = load_preset('digits_residual')\n"
        "start = time.perf_counter()\n"
        "for loop in ('fit', 'tape'):\n"
        "    generate_code(experiment, 'subclassing', loop)\n"
        "print((time.perf_counter() - start) / 2)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'keras was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) < 0.05


@pytest.mark.parametrize("preset, api", [("digits_cnn", "sequential"), ("digits_cnn", "functional"),
                                         ("digits_residual", "functional"), ("digits_residual", "subclassing")])
def test_fit_with_a_custom_train_step_runs_in_every_api(preset, api, tmp_path, monkeypatch, capsys):
    experiment = _short(load_preset(preset))
    experiment.training.global_clipnorm = 1.0
    text = generate_code(experiment, api, "train_step")
    assert "    def train_step(self, data):" in text and "tf.clip_by_global_norm(gradients, 1.0)" in text
    assert ("class CustomFit" in text) == (api != "subclassing")
    assert "global_clipnorm" not in text   # written out in the step, not left to the optimizer
    monkeypatch.chdir(tmp_path)
    exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert ACCURACY_LINE.match(last), last


def test_a_frozen_layer_is_written_with_trainable_false():
    experiment = _short(load_preset("digits_cnn"))
    experiment.model.layers[0].trainable = False
    for api in APIS:
        text = generate_code(experiment, api, "fit")
        assert "trainable=False" in text.split("layers.Conv2D(", 1)[1].split("\n", 1)[0]
        assert text.count("trainable=False") == 1


@pytest.mark.parametrize("loop", ["tape", "train_step"])
def test_learning_rate_multipliers_are_written_out_and_run(loop, tmp_path, monkeypatch, capsys):
    experiment = _short(load_preset("digits_cnn"))
    experiment.model.layers[4].lr_multiplier = 0.1     # the hidden Dense
    experiment.training.loop = loop
    text = generate_code(experiment, "subclassing")
    assert "LR_MULTIPLIERS = {'dense': 0.1}" in text and 'name="dense"' in text
    monkeypatch.chdir(tmp_path)
    exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    assert ACCURACY_LINE.match(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("loop", ["fit", "tape", "train_step"])
def test_mixed_precision_is_written_out_and_runs(loop, tmp_path, monkeypatch, capsys):
    experiment = _short(load_preset("digits_cnn"))
    experiment.training.precision = "mixed_bfloat16"
    experiment.training.loop = loop
    text = generate_code(experiment, "functional")
    assert "keras.config.set_dtype_policy('mixed_bfloat16')" in text
    assert text.count('dtype="float32"') == 1      # the output layer only
    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    finally:
        import keras

        keras.config.set_dtype_policy("float32")   # process-wide in a script; the tests share the process
    assert ACCURACY_LINE.match(capsys.readouterr().out.strip().splitlines()[-1])


def test_float16_scales_the_loss_in_the_written_steps():
    experiment = _short(load_preset("digits_cnn"))
    experiment.training.precision = "mixed_float16"
    tape = generate_code(experiment, loop="tape")
    assert "optimizer = keras.optimizers.LossScaleOptimizer(optimizer)" in tape
    assert "scaled_loss = optimizer.scale_loss(loss)" in tape and "tape.gradient(scaled_loss," in tape
    step = generate_code(experiment, loop="train_step")
    assert "scaled_loss = self.optimizer.scale_loss(loss)" in step
    for text in (tape, step):
        compile(text, "script.py", "exec")
