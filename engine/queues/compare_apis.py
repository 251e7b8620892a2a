"""The tutorial's lesson as one action: the same stack written as Sequential, Functional and a Model
subclass (optionally trained by both loops) — same layers, same parameter counts, same curves.

:func:`api_variants` gives the experiments to run (through ``engine.queues.queue.run_queue``) and, for a
stack Sequential cannot express (branches, merges), the reason that API was left out.
:func:`parameter_counts` builds each variant to show the three counts side by side before training.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tapedeck.engine.spec.experiment import APIS

__all__ = ["ApiPlan", "api_variants", "parameter_counts"]



@dataclass
class ApiPlan:
    experiments: list = field(default_factory=list)  # named "<name>-<api>" or "<name>-<api>-<loop>"
    skipped: list = field(default_factory=list)  # (api, reason) for an API that cannot express the stack


# The two loops the tutorial sets side by side (the window's check box says so too).
COMPARED_LOOPS = ("fit", "tape")


def api_variants(experiment, both_loops: bool = False) -> ApiPlan:
    """One experiment per API (× loop when ``both_loops``), everything else unchanged, seed included."""
    from tapedeck.engine.spec import graph

    nodes, problems = graph.resolve(experiment.model.layers)
    plan = ApiPlan()
    loops = COMPARED_LOOPS if both_loops else (experiment.training.loop,)
    for api in APIS:
        if api == "sequential" and not problems and not graph.is_chain(nodes):
            plan.skipped.append((api, graph.SEQUENTIAL_REFUSAL))
            continue
        for loop in loops:
            variant = experiment.copy()
            variant.model.api = api
            variant.training.loop = loop
            variant.name = f"{experiment.name}-{api}" + (f"-{loop}" if both_loops else "")
            plan.experiments.append(variant)
    return plan


def parameter_counts(experiment, input_shape) -> dict:
    """{api: (trainable, non_trainable)} for each API that can build the stack; {api: message} otherwise."""
    import numpy as np

    from tapedeck.engine.model.build import BuildError, build_model

    counts = {}
    for api in APIS:
        try:
            model = build_model(experiment, input_shape, api=api)
        except BuildError as error:
            counts[api] = str(error)
            continue
        counts[api] = (int(sum(np.prod(w.shape) for w in model.trainable_weights)),
                       int(sum(np.prod(w.shape) for w in model.non_trainable_weights)))
    return counts
