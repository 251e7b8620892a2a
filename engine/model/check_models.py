"""The check of an experiment with several models (a GAN's generator and discriminator).

Each model is checked as a layer stack exactly as a classifier's is (shapes, parameters, the rules of
each layer), fed what its objective says it takes; then what it gives is held to the objective's
contract (``ObjectiveKind.io``): a generator must give the data's image shape, a discriminator one value
per example. A problem names the model and the layer, and the fix.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tapedeck.engine.model.check import CheckReport, check
from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["ModelsReport", "check_models", "io_shapes"]


@dataclass
class ModelsReport:
    """One CheckReport per model role, and the problems that belong to no single model."""

    reports: dict                      # role -> CheckReport
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(report.ok for report in self.reports.values())

    def all_problems(self) -> list[str]:
        lines = []
        for role, report in self.reports.items():
            lines += [f"models.{role}: {line}" for line in report.all_problems()]
        return lines + list(self.problems)

    @property
    def trainable(self) -> int:
        return sum(report.trainable for report in self.reports.values())

    def format_table(self) -> str:
        return "\n\n".join(f"{role}\n{report.format_table()}" for role, report in self.reports.items())


def io_shapes(experiment, image_shape, env_shapes=None, num_classes=None) -> dict:
    """What the objective's words stand for in this experiment: "image", "latent", "one"; an objective
    that acts in an environment adds its words ("observation", "actions") in ``env_shapes``; a conditional
    GAN's stacks take the label's code beside their input ("latent+label", "image+label")."""
    shapes = {"image": tuple(image_shape), "one": (1,), **(env_shapes or {})}
    latent = experiment.objective.settings.get("latent_dim")
    if latent is not None:
        shapes["latent"] = (int(latent),)
        shapes["two_latent"] = (2 * int(latent),)   # a VAE encoder's mean and log-variance
    if "label_input" in experiment.objective.settings and num_classes:
        from tapedeck.engine.spec.objectives import label_code_width

        shapes["latent+label"] = (int(latent) + label_code_width(experiment.objective, num_classes, False),)
        shapes["image+label"] = (*tuple(image_shape)[:-1],
                                 tuple(image_shape)[-1] + label_code_width(experiment.objective, num_classes, True))
    return shapes


def check_models(experiment, image_shape, num_classes, env_shapes=None) -> ModelsReport:
    kind = objective_kind(experiment.objective)
    if env_shapes is None and num_classes == 0:   # an npz of named targets only: no labels to sample or judge by
        return ModelsReport({}, [f"{experiment.data.path}: holds no plain y_train / y_test (the images' labels), "
                                 f"which objective {experiment.objective.kind!r} reads beside the images; save "
                                 "y_train and y_test in the file"])
    shapes = io_shapes(experiment, image_shape, env_shapes, num_classes)
    result = ModelsReport({})
    for role, spec in experiment.stacks().items():
        takes, gives = kind.io[role]
        if spec.inputs or spec.outputs:
            result.problems.append(f"models.{role}: declares inputs or heads; objective "
                                   f"{experiment.objective.kind!r} feeds it {_words(takes, shapes)} and reads one "
                                   f"output, so remove \"inputs\" and \"outputs\"")
            spec = dataclasses.replace(spec, inputs=[], outputs=[])
        single = dataclasses.replace(experiment, model=spec, models={},
                                     objective=dataclasses.replace(experiment.objective, kind="classify"))
        report = check(single, shapes[takes], num_classes, classify=False)
        _hold_output(report, role, gives, shapes)
        result.reports[role] = report
    return result


def _hold_output(report: CheckReport, role: str, gives: str, shapes: dict) -> None:
    """The last layer must give what the objective reads; the problem goes on that layer's row."""
    if not report.layers:
        report.problems.append(f"the {role} has no layers; it must give {_words(gives, shapes)}")
        return
    last = report.layers[-1]
    if last.output_shape is None or last.problems:
        return   # an earlier problem says why the shape is unknown
    wanted = shapes[gives]
    if tuple(last.output_shape) == tuple(wanted):
        return
    last.problems.append(f"the {role} gives {_shape(last.output_shape)} per example, but must give "
                         f"{_words(gives, shapes)}; {_fix(role, gives, wanted)}")


def _fix(role: str, gives: str, wanted: tuple) -> str:
    if gives == "one":
        return "end it with Flatten (if needed) and Dense with 1 unit (no activation: the loss reads logits)"
    if gives == "two_latent":
        return (f"end it with Dense with {wanted[0]} units and no activation (the first half is read as the "
                "mean, the second as the log-variance)")
    if gives == "image":
        return (f"make the last layer give {_shape(wanted)} (e.g. Conv2DTranspose with {wanted[-1]} filter(s), "
                f"strides that reach {wanted[0]}×{wanted[1]}, activation sigmoid for pixels in [0, 1])")
    if gives == "actions":
        return (f"end it with Dense with {wanted[0]} units and no activation (one logit per action of the "
                "environment)")
    return f"make the last layer give {_shape(wanted)}"


def _words(key: str, shapes: dict) -> str:
    names = {"image": "the data's image shape", "latent": "the latent vector", "one": "one value",
             "latent+label": "the latent vector and the label's code",
             "two_latent": "a mean and a log-variance per latent value", "image+label": "the image and the label's "
             "channels",
             "observation": "the environment's observation", "actions": "one logit per action"}
    return f"{names.get(key, key)} {_shape(shapes[key])}"


def _shape(shape) -> str:
    inside = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({inside},)" if len(shape) == 1 else f"({inside})"
