"""What a run's step does — the training objective — as the experiment file declares it.

``classify`` (one model, labelled pairs) is what every file without an ``objective`` section means,
so those files read and save exactly as before. Any other objective names the models it trains
(``models`` in the file, one layer stack each) and its own settings. This table is the one place the
file format knows objectives: adding one (reinforcement learning adds its own, whose data come from
an environment rather than a data set) is one entry here plus its engine module
(``engine.objectives``), its code export and its view.

No Keras import here: the window reads experiments before TensorFlow has loaded.
"""
from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field

from tapedeck.engine.spec.value_rules import _bool, _choice, _float, _int, _text
from tapedeck.engine.text import shown

__all__ = ["ObjectiveKind", "ObjectiveSpec", "OBJECTIVES", "CLASSIFY", "read_objective", "objective_kind",
           "label_code_width", "MODEL_OPTIMIZERS", "read_model_optimizer"]

CLASSIFY = "classify"
MODEL_OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclass(frozen=True)
class Setting:
    """One setting of an objective: its default, its rule (value_rules) and what it is for."""

    default: object
    rule: object
    words: str


@dataclass(frozen=True)
class ObjectiveKind:
    """One objective: the models it trains, its settings, the loops that can express its step."""

    name: str
    models: tuple            # role names, in the order the editor and the files list them
    settings: dict           # name -> Setting
    loops: tuple             # the training loops that can run it
    why_not_fit: str = ""    # one sentence: why plain model.fit cannot (shown where fit is refused)
    data: str = "dataset"    # where the examples come from: "dataset" (or, for RL, "environment")
    # role -> (what it takes, what it must give): "image" (the data's image shape), "latent"
    # (latent_dim values), "one" (one value per example); engine.model.check_models holds them to it
    io: dict = field(default_factory=dict)
    summary: str = ""
    # the window's views this objective's runs fill, beside the common ones (curves, Code, Model, Data):
    # "predictions" and "step" (a classifier's), "samples" (a generator's grid and its judge), "environment"
    # (an agent's); and the Samples tab's controls: "step_models" (Step D / Step G: one model of two steps),
    # "class_prompt" (the class to draw, for a model told one), "encode" (an image or a drawing through the
    # encoder and back)
    views: tuple = ("predictions", "step")
    title: str = ""          # its name for people, in sentence case ("Actor-critic"): the window's labels

    def defaults(self) -> dict:
        return {name: _copy.deepcopy(s.default) for name, s in self.settings.items()}


_NO_FIT = ("plain model.fit minimises one model's loss on labelled pairs; here two models are trained "
           "against each other, so the step is written out (the GradientTape loop, or fit with a custom "
           "train_step)")

OBJECTIVES: dict[str, ObjectiveKind] = {
    CLASSIFY: ObjectiveKind(CLASSIFY, ("model",), {}, ("fit", "tape", "train_step"),
                            summary="one model learns labelled pairs", title="Classifier"),
    "gan": ObjectiveKind(
        "gan", ("generator", "discriminator"),
        {
            "latent_dim": Setting(32, _int(1), "size of the noise vector the generator turns into an image"),
            "loss": Setting("bce", _choice(("bce", "hinge", "wgan-gp")),
                            "bce: non-saturating cross-entropy; hinge; wgan-gp: Wasserstein with a gradient penalty"),
            "d_steps": Setting(1, lambda v: _int(1)(v) or (None if v <= 10 else "a whole number from 1 to 10"),
                               "discriminator steps per generator step"),
            "label_smoothing": Setting(0.0, _float(0.0, 0.5, hi_open=True),
                                       "real images are labelled 1 - this for the discriminator (bce)"),
            "gp_weight": Setting(10.0, _float(0.0), "weight of the gradient penalty (wgan-gp)"),
            "quality_samples": Setting(500, _int(0), "generated images the judge scores each epoch; 0 = off"),
        },
        ("tape", "train_step"), why_not_fit=_NO_FIT,
        io={"generator": ("latent", "image"), "discriminator": ("image", "one")}, views=("samples", "step_models"),
        summary="a generator and a discriminator trained against each other", title="GAN"),
}
OBJECTIVES["cgan"] = ObjectiveKind(
    "cgan", ("generator", "discriminator"),
    {
        **OBJECTIVES["gan"].settings,
        "label_input": Setting("one_hot", _choice(("one_hot", "embedding")),
                               "how the class label joins each model's input: one_hot, or a learned Embedding"),
        "embedding_dim": Setting(16, _int(1), "values of the label's embedding beside the noise (embedding)"),
    },
    ("tape", "train_step"), why_not_fit=_NO_FIT,
    io={"generator": ("latent+label", "image"), "discriminator": ("image+label", "one")},
    views=("samples", "step_models", "class_prompt"),
    summary="a GAN told which class to draw: the label goes into both models",
    title="Conditional GAN")
OBJECTIVES["vae"] = ObjectiveKind(
    "vae", ("encoder", "decoder"),
    {
        "latent_dim": Setting(2, _int(1), "size of the code each image is squeezed to (2: the plane can be drawn)"),
        "reconstruction": Setting("bce", _choice(("bce", "mse")),
                                   "how a reconstruction is scored, summed over pixels: bce (pixels in [0, 1]) or mse"),
        "beta": Setting(1.0, _float(0.0), "weight of the KL term (1: the plain VAE; above 1: a beta-VAE)"),
        "quality_samples": Setting(500, _int(0), "images decoded from random codes the judge scores; 0 = off"),
    },
    ("tape", "train_step"),
    why_not_fit=("plain model.fit minimises one model's loss on labelled pairs; a VAE's loss is the decoder's "
                 "reconstruction plus the encoder's KL term, through a random sample between them, so the step is "
                 "written out (the GradientTape loop, or fit with a custom train_step)"),
    io={"encoder": ("image", "two_latent"), "decoder": ("latent", "image")}, views=("samples", "encode"),
    summary="a variational autoencoder: an encoder and a decoder, reconstruction plus KL", title="VAE")

# Reinforcement learning: no data set, the examples come from acting in a gymnasium environment
# (engine.objectives.environments); io words "observation" and "actions" are the environment's spaces.
# Their view ("environment": the play drawn from EnvFrames, the curves of returns) is the window's to add.
_NO_FIT_RL = ("there is no fixed dataset — the data comes from acting: each update's examples are the episodes "
              "the policy just played, and its loss is built from their rewards")


def _gamma(value):
    return _float(0.0, 1.0, lo_open=True)(value)


def _whole(lo, hi):
    return lambda v: _int(lo)(v) or (None if v <= hi else f"a whole number from {lo} to {hi}")


def _rl_settings(copies=True, **own) -> dict:
    """The settings every RL objective has, then its own; ``copies=False``: the objective decides how many
    environments play side by side (REINFORCE: one per episode of an update)."""
    common = {
        "env": Setting("CartPole-v1", _text(), "gymnasium environment id (vector observations, discrete actions)"),
        "gamma": Setting(0.99, _gamma, "discount γ of future rewards, in (0, 1]"),
        "entropy": Setting(0.01, _float(0.0), "weight of the entropy bonus (keeps the policy exploring)"),
        "envs": Setting(8, _whole(1, 256), "environments played side by side (gymnasium.make_vec)"),
        "target": Setting(None, _float(optional=True),
                          "the greedy mean return that counts as solved; null: the environment's own (475 for "
                          "CartPole-v1)"),
        "eval_episodes": Setting(20, _whole(1, 1000), "greedy episodes that judge whether the target is reached"),
        "stop_at_target": Setting(True, _bool, "end the run once the greedy policy reaches the target"),
        "frame_every": Setting(10, _int(0), "send the environment's frames of every N-th update to the window; "
                                           "0 = never"),
    }
    if not copies:
        del common["envs"]
    return {**common, **own}


_ADVANTAGE = {
    "gae_lambda": Setting(0.95, _float(0.0, 1.0), "GAE(λ): 1 = Monte-Carlo advantages, 0 = one-step"),
    "value_weight": Setting(0.5, _float(0.0), "weight of the value loss in the total"),
    "critic_loss": Setting("mse", _choice(("mse", "huber")), "the value model's loss: mse or huber"),
    "normalize_advantages": Setting(True, _bool, "scale each batch's advantages to mean 0, spread 1"),
}

OBJECTIVES.update({
    "reinforce": ObjectiveKind(
        "reinforce", ("policy",),
        _rl_settings(
            copies=False,
            episodes_per_update=Setting(8, _whole(1, 256), "whole episodes played side by side per update"),
            baseline=Setting("normalize", _choice(("normalize", "none")),
                             "normalize: returns scaled to mean 0, spread 1 (the batch's mean is the baseline)")),
        ("tape",), why_not_fit=_NO_FIT_RL, data="environment", views=("environment",),
        io={"policy": ("observation", "actions")},
        summary="REINFORCE: whole episodes, each action pushed up by the return that followed it",
        title="REINFORCE"),
    "actor_critic": ObjectiveKind(
        "actor_critic", ("policy", "value"),
        _rl_settings(
            steps=Setting(16, _whole(1, 4096), "steps each environment plays per update"),
            returns=Setting("gae", _choice(("gae", "nstep")),
                            "gae: GAE(λ) advantages; nstep: n-step returns bootstrapped from the value"),
            **_ADVANTAGE),
        ("tape",), why_not_fit=_NO_FIT_RL, data="environment", views=("environment",),
        io={"policy": ("observation", "actions"), "value": ("observation", "one")},
        summary="advantage actor-critic: a policy and a value model learn from short stretches of play",
        title="Actor-critic"),
    "ppo": ObjectiveKind(
        "ppo", ("policy", "value"),
        _rl_settings(
            steps=Setting(128, _whole(1, 4096), "steps each environment plays per update"),
            epochs=Setting(4, _whole(1, 100), "passes over each batch of experience"),
            minibatches=Setting(4, _whole(1, 1024), "minibatches per pass"),
            clip=Setting(0.2, _float(0.0, 1.0, lo_open=True), "the ratio new/old policy is clipped to 1 ± this"),
            **_ADVANTAGE),
        ("tape",), why_not_fit=_NO_FIT_RL, data="environment", views=("environment",),
        io={"policy": ("observation", "actions"), "value": ("observation", "one")},
        summary="PPO: several clipped passes over each batch of play (discrete actions)", title="PPO"),
})


@dataclass
class ObjectiveSpec:
    kind: str = CLASSIFY
    settings: dict = field(default_factory=dict)

    @property
    def is_classify(self) -> bool:
        return self.kind == CLASSIFY

    def to_dict(self) -> dict:
        return {"kind": self.kind, **_copy.deepcopy(self.settings)}

    def __getattr__(self, name):   # objective.latent_dim reads a setting
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        raise AttributeError(name)


def label_code_width(objective: ObjectiveSpec, num_classes: int, for_image: bool) -> int:
    """A conditional GAN: how many values (generator) or channels (discriminator) the label adds to a
    stack's input — its one-hot code, or a learned embedding (engine.objectives.conditional)."""
    if objective.settings.get("label_input", "one_hot") == "one_hot":
        return int(num_classes)
    return 1 if for_image else int(objective.settings["embedding_dim"])


def objective_kind(spec: ObjectiveSpec | str) -> ObjectiveKind:
    """The table's entry for an objective section, or for its kind's name (an event names the kind)."""
    return OBJECTIVES[spec if isinstance(spec, str) else spec.kind]


def image_maker(kind: ObjectiveKind) -> str | None:
    """The role whose output is an image (a GAN's generator, a VAE's decoder): the one the samples show."""
    return next((role for role, (_given, made) in kind.io.items() if made == "image"), None)


def read_objective(d, path: str, problems: list) -> ObjectiveSpec:
    """The ``objective`` section: {"kind": ..., setting: value, ...}; missing settings take defaults."""
    if not isinstance(d, dict):
        problems.append(f"{path}: expected an object {{\"kind\": \"gan\", ...}}, received {shown(d)}")
        return ObjectiveSpec()
    kind = d.get("kind", CLASSIFY)
    if kind not in OBJECTIVES:
        problems.append(f"{path}.kind: expected one of {', '.join(shown(k) for k in OBJECTIVES)}, "
                        f"received {shown(kind)}")
        return ObjectiveSpec()
    table = OBJECTIVES[kind]
    settings = table.defaults()
    for key, value in d.items():
        if key == "kind":
            continue
        if key not in table.settings:
            known = ", ".join(table.settings) or "none"
            problems.append(f"{path}.{key}: unknown setting of objective {shown(kind)}; its settings: {known}")
            continue
        expected = table.settings[key].rule(value)
        if expected:
            problems.append(f"{path}.{key}: expected {expected}, received {shown(value)}")
            continue
        settings[key] = float(value) if isinstance(table.settings[key].default, float) else _copy.deepcopy(value)
    return ObjectiveSpec(kind, settings)


_MODEL_OPTIMIZER_RULES = {
    "name": _choice(MODEL_OPTIMIZERS),
    "learning_rate": _float(0.0, lo_open=True),
    "beta_1": _float(0.0, 1.0, hi_open=True),
}


def read_model_optimizer(d, path, problems) -> dict | None:
    """One model's own optimizer: {"name": "adam", "learning_rate": 0.0002, "beta_1": 0.5} (the GAN default)."""
    if not isinstance(d, dict):
        problems.append(f"{path}: expected an object {{\"name\": \"adam\", \"learning_rate\": ..., "
                        f"\"beta_1\": ...}}, received {shown(d)}")
        return None
    result = {"name": "adam", "learning_rate": 0.0002, "beta_1": 0.5}
    for key, value in d.items():
        if key not in _MODEL_OPTIMIZER_RULES:
            problems.append(f"{path}.{key}: unknown key; known keys: {', '.join(_MODEL_OPTIMIZER_RULES)}")
            continue
        expected = _MODEL_OPTIMIZER_RULES[key](value)
        if expected:
            problems.append(f"{path}.{key}: expected {expected}, received {shown(value)}")
            continue
        result[key] = float(value) if key != "name" else value
    return result
