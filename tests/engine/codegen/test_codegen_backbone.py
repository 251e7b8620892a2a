"""The exported script of a Backbone stack: its own Backbone class computes what the app's layer does,
and the fit and GradientTape scripts run as they are, unfreezing the backbone at its epoch (weights
None: offline; eager, as tracing MobileNet's gradient costs more than these few steps)."""
from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from tapedeck.engine.codegen.script import generate_code, model_code
from tests.engine.codegen.test_codegen import ACCURACY_LINE, _run_script
from tests.engine.model.test_backbone import backbone_experiment

keras = pytest.importorskip("keras")


def _class_section(script: str) -> str:
    start = script.index("# --- Pretrained backbone")
    return script[start:script.index("# --- Model")]


@pytest.mark.parametrize("api", ["functional", "subclassing"])
def test_the_scripts_backbone_computes_what_the_app_builds(api):
    from tapedeck.engine.model.build import build_model

    experiment = backbone_experiment(architecture="MobileNetV2", alpha=0.35)
    experiment.model.api = api
    script = generate_code(experiment)
    assert "keras.applications, architecture)(" in script and "Backbone(architecture=\"MobileNetV2\"" in script
    assert "trainable=False" in script
    namespace = {"keras": keras, "layers": keras.layers, "np": np, "input_shape": (8, 8, 1)}
    exec(compile(_class_section(script) + model_code(experiment), "model.py", "exec"), namespace)
    exported = namespace["model"]
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    exported(x)
    reference = build_model(experiment, (8, 8, 1))
    exported.set_weights(reference.get_weights())
    np.testing.assert_allclose(np.asarray(exported(x)), np.asarray(reference(x)), atol=1e-5)
    assert len(exported.trainable_variables) == len(reference.trainable_variables) == 2   # the Dense head


def test_fit_and_tape_scripts_unfreeze_and_run(tmp_path):
    rng = np.random.default_rng(0)   # 32 training and 10 test images: the scripts must run, not learn
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=rng.random((32, 8, 8), dtype=np.float32), y_train=np.arange(32) % 10,
             x_test=rng.random((10, 8, 8), dtype=np.float32), y_test=np.arange(10))
    paths = []
    for loop, api in (("fit", "functional"), ("tape", "subclassing")):
        experiment = backbone_experiment(loop=loop, unfreeze_at_epoch=2, unfreeze_learning_rate_factor=0.1)
        experiment.model.api = api
        experiment.training.execution = "eager"
        experiment.data.validation_split = 0.0
        experiment.data.source, experiment.data.path, experiment.data.limit = "npz", str(npz), None
        script = generate_code(experiment)
        assert "optimizer.build(model.trainable_variables)" in script
        assert ("UnfreezeBackbones()" in script) == (loop == "fit")
        path = tmp_path / f"{loop}.py"
        path.write_text(script)
        paths.append(path)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_run_script, paths))
    for path, code, out, err in results:
        assert code == 0, f"{path.name}:\n{err[-3000:]}"
        lines = out.strip().splitlines()
        assert "Epoch 2: backbone 0 unfrozen, learning rate 0.0001" in lines, out
        assert ACCURACY_LINE.match(lines[-1]), out
