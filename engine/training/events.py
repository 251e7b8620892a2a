"""The events a training run reports, as plain frozen data.

Both loops (``fit`` and ``tape``) emit exactly these, with the same metric names, so whoever listens
(the window's worker, the console, a test) cannot tell which loop produced them. Epochs are 1-based.
No TensorFlow here: the window imports this module before TensorFlow has loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RunStarted",
    "HeadInfo",
    "BatchEnd",
    "EpochEnd",
    "Predictions",
    "TestResult",
    "Finished",
    "StepTiming",
    "RunNote",
    "LayerStats",
    "GradientRecord",
    "StepInspected",
    "SampleGrid",
    "GanStepInspected",
    "EnvFrames",
    "UpdateInspected",
    "FINISH_REASONS",
]

FINISH_REASONS = ("completed", "stopped", "early_stopped", "diverged", "failed", "pruned")  # pruned: by a search


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    name: str
    summary: str
    trainable: int
    non_trainable: int
    epochs: int
    steps_per_epoch: int
    batch_size: int
    num_classes: int
    class_names: list
    sample_images: Any  # (N, H, W, C) float32
    sample_labels: Any  # (N,) int
    initial_epoch: int = 0  # epochs already done (a resumed run starts after them)
    loop: str = "fit"
    api: str = "sequential"
    precision: str = "float32"
    warnings: tuple = ()   # what the data set skipped or lacked (image files that do not decode), one line each
    # Several inputs or heads: HeadInfo per head (the first classification head fills num_classes,
    # class_names and the sample labels above) and the input names; empty for one input and one head.
    heads: tuple = ()
    inputs: tuple = ()
    # What the step does (engine.spec.objectives) and, for objectives with several models, each one's
    # role, parameter count and summary: (("generator", 149057, "..."), ("discriminator", ...)).
    objective: str = "classify"
    models: tuple = ()
    # What ``loss`` and ``accuracy`` of this run's BatchEnd/EpochEnd mean where not a classifier's, in
    # words for a plot's title: {"loss": "Discriminator loss", "accuracy": "..."}.
    figures: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HeadInfo:
    """One head of a several-head model: its layer (also the prefix of its metric names), target and kind."""

    layer: str
    target: str
    kind: str                 # "classes" (accuracy) or "values" (mae)
    class_names: tuple = ()
    loss: str = ""
    loss_weight: float = 1.0

    @property
    def metric(self) -> str:
        return "accuracy" if self.kind == "classes" else "mae"


@dataclass(frozen=True)
class BatchEnd:
    """Sampled (at most ~20 per second, and always the epoch's last step): plots need no more."""

    epoch: int
    step: int  # 1-based within the epoch; jumps by steps_per_execution in fit
    steps: int
    loss: float
    accuracy: float
    samples_seen: int  # within this epoch
    samples_per_second: float
    heads: dict = field(default_factory=dict)   # several heads: "<head>_loss", "<head>_accuracy" / "<head>_mae"


@dataclass(frozen=True)
class EpochEnd:
    """Never sampled: one per completed epoch."""

    epoch: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    seconds: float
    # Several heads: Keras's per-head names ("digit_loss", "val_parity_accuracy", "<head>_mae"); then
    # ``loss`` is the weighted total and ``accuracy`` the first classification head's.
    heads: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Predictions:
    epoch: int
    true_labels: Any  # (N,) int
    predicted_labels: Any  # (N,) int
    probabilities: Any  # (N, num_classes) float32
    # Several heads: head → (true, predicted, probabilities) for classification heads, or
    # (true values, predicted values, None) for regression heads; the fields above are the first
    # classification head's.
    heads: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class, despite the name
    loss: float
    accuracy: float
    precision: list  # per class
    recall: list  # per class
    confusion: list  # confusion[true][predicted] counts
    # Several heads: head → {"loss", "accuracy" | "mae", "precision", "recall", "confusion", "class_names"}
    # (a regression head has mae and no confusion); the fields above are the first classification head's.
    heads: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepTiming:
    """Once per epoch: how long one training step takes, and how often its function was traced.

    ``traces`` is None in eager execution (there is no graph: Python runs every step)."""

    epoch: int
    step_ms: float          # running median over the latest steps
    traces: int | None
    execution: str = "graph"


@dataclass(frozen=True)
class RunNote:
    """Something the person should know that does not stop the run (e.g. a retrace after epoch 1)."""

    kind: str
    message: str


@dataclass(frozen=True)
class LayerStats:
    """One trainable layer at one step. Gradient figures are None where the loop cannot see them
    (plain ``model.fit`` hides its gradients)."""

    name: str
    weight_norm: float
    update_ratio: float       # ||update|| / ||weights||: ~1e-3 healthy, far below idle, far above exploding
    grad_norm: float | None = None
    zero_grad_share: float | None = None   # share of exactly-zero gradient entries (dead ReLUs)
    nonfinite: int | None = None            # non-finite gradient entries


@dataclass(frozen=True)
class GradientRecord:
    """Every ``training.inspect_every`` steps: per-layer norms for the live Gradients view."""

    step: int                 # global step, 1-based over the whole run
    epoch: int
    layers: tuple             # LayerStats per trainable layer, model order


@dataclass(frozen=True)
class StepInspected:
    """One step taken apart (Step in the window, ``tapedeck step``): per-layer health, the batch
    and its predictions before and after the update."""

    step: int
    epoch: int
    loss: float
    layers: tuple             # LayerStats
    gradients_visible: bool   # False in plain fit: its gradients stay inside Keras
    images: Any = None        # (B, H, W, C) or None where the loop cannot see the batch
    labels: Any = None
    before: Any = None        # (B, classes) probabilities before the update
    after: Any = None


@dataclass(frozen=True)
class Finished:
    """Always the last event of a run, whatever happened; ``reason="failed"`` carries the error text.

    ``problems`` is non-empty when the run never started because of a user mistake (the experiment
    does not check, the data cannot be read): the command line exits 2 for those.
    """

    reason: str
    message: str
    run_dir: str | None
    step: int | None = None
    epoch: int | None = None
    problems: tuple = field(default=())


@dataclass(frozen=True)
class SampleGrid:
    """A generative objective's samples at the end of an epoch, from the same inputs every time (a GAN's
    fixed noise), so the grid shows the model change rather than new noise; ``labels`` names each
    image's class where the objective asks for one (None otherwise)."""

    epoch: int
    images: Any           # (N, H, W, C) float32
    columns: int
    labels: Any = None
    quality: dict = field(default_factory=dict)   # the judge's figures (engine.objectives.judge.Quality)
    # which picture: "samples" (from fixed noise), "reconstructions" (a VAE's: originals above their
    # reconstructions, row by row) or "latent_plane" (a 2-D latent space decoded on a grid)
    kind: str = "samples"



@dataclass(frozen=True)
class EnvFrames:
    """A reinforcement-learning run's play, sampled (every ``frame_every``-th update): what the first of
    the environments did step by step, for the window to draw at its own pace — its physical state
    (``env.unwrapped.state``: the cart and pole, the acrobot's two angles), the observation, the policy's
    action probabilities, the value estimate (NaN without a value model), the action and reward taken."""

    update: int
    env_id: str
    states: Any           # (T, S) float32
    observations: Any     # (T, O) float32
    probabilities: Any    # (T, A) float32
    values: Any           # (T,) float32
    actions: Any          # (T,) int
    rewards: Any          # (T,) float32
    episode_ends: Any     # (T,) bool: the episode ended at this step (the next frame starts a new one)


@dataclass(frozen=True)
class UpdateInspected:
    """A reinforcement-learning update taken apart (the last update of a Step request): the experience it
    learned from, step by step in the order played (at most its first 4,096 steps), its figures and each
    layer's gradient norm."""

    update: int
    observations: Any     # (N, O) float32
    actions: Any          # (N,) int: the actions chosen
    probabilities: Any    # (N,) float32: the probability the policy gave each chosen action when it acted
    advantages: Any       # (N,) float32: how much better than expected each action turned out
    returns: Any          # (N,) float32: the (discounted, bootstrapped) return each step's value is held to
    values: Any           # (N,) float32: the value model's estimate when acting (NaN without one)
    figures: dict = field(default_factory=dict)   # the update's EpochEnd heads
    # (model role, layer name, gradient norm) of each layer with weights, measured on this experience
    # before the update (as GanStepInspected.layers)
    layers: tuple = ()


@dataclass(frozen=True)
class GanStepInspected:
    """One GAN step taken apart (Step D, Step G or Step both): a few real images and images generated from
    the same noise before and after the step, what the discriminator says of each before and after
    (a probability for bce, a score otherwise), and each layer's gradient norm in the model(s) that stepped,
    measured on this batch before the update."""

    step: int
    epoch: int
    part: str                 # "d", "g" or "both"
    real: Any                 # (n, H, W, C)
    fake_before: Any
    fake_after: Any
    d_real_before: Any        # (n,)
    d_real_after: Any
    d_fake_before: Any
    d_fake_after: Any
    layers: tuple = ()        # (model role, layer name, gradient norm)

