"""The check of any experiment, whatever its objective: what ``tapedeck check`` prints and the run
refuses. A classifier's is engine.model.check; several models are checked one by one
(engine.model.check_models) and the objective adds what its run cannot do (engine.objectives.refusals).
"""
from __future__ import annotations

import dataclasses

from tapedeck.engine.model.check import check
from tapedeck.engine.model.check_models import check_models
from tapedeck.engine.objectives.refusals import gan_refusals, rl_refusals
from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["check_experiment", "with_api"]


def with_api(experiment, api: str | None):
    """The experiment written in ``api`` (every model of it); unchanged when ``api`` is None."""
    if api is None:
        return experiment
    if experiment.objective.is_classify:
        return dataclasses.replace(experiment, model=dataclasses.replace(experiment.model, api=api))
    return dataclasses.replace(experiment, models={role: dataclasses.replace(spec, api=api)
                                                   for role, spec in experiment.models.items()})


def check_experiment(experiment, input_shape, num_classes, api=None):
    """A report with ``ok``, ``all_problems()`` and ``format_table()`` for any objective."""
    if experiment.objective.is_classify:
        return check(experiment, input_shape, num_classes, api=api)
    experiment = with_api(experiment, api)
    if objective_kind(experiment.objective).data == "environment":
        return _check_acting(experiment, input_shape, num_classes)
    report = check_models(experiment, input_shape, num_classes)
    report.problems += gan_refusals(experiment)
    return report


def _check_acting(experiment, input_shape, num_classes):
    """An objective whose data come from an environment: its models take the environment's observation
    and give what its spaces say; an environment Tapedeck cannot train on is the one problem then."""
    from tapedeck.engine.model.check_models import ModelsReport
    from tapedeck.engine.objectives.environments import EnvError, env_spaces

    try:
        spaces = env_spaces(experiment.objective.env)
    except EnvError as problem:
        return ModelsReport({}, [str(problem)] + rl_refusals(experiment))
    report = check_models(experiment, input_shape, num_classes,
                          {"observation": spaces.observation, "actions": (spaces.actions,)})
    report.problems += rl_refusals(experiment)
    return report
