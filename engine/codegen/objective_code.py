"""Which script an objective with several models exports: one writer per objective, picked here so the
classifier's writer (engine.codegen.script) needs no branch per objective."""
from __future__ import annotations

from tapedeck.engine.spec.experiment import APIS
from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["objective_code"]


def _gan(*args):
    from tapedeck.engine.codegen.gan_code import gan_code

    return gan_code(*args)


def _rl(*args):
    from tapedeck.engine.codegen.rl_code import rl_code

    return rl_code(*args)


def _vae(*args):
    from tapedeck.engine.codegen.vae_code import vae_code

    return vae_code(*args)


WRITERS = {"gan": _gan, "cgan": _gan, "vae": _vae, "reinforce": _rl, "actor_critic": _rl, "ppo": _rl}


def objective_code(experiment, api, loop, model_parts) -> str:
    """``api``/``loop`` default to the experiment's own; ValueError (one message) for what cannot be written."""
    kind = objective_kind(experiment.objective)
    loop = loop or experiment.training.loop
    if api is not None and api not in APIS:
        raise ValueError(f"api: expected one of {', '.join(APIS)}, received {api!r}")
    if loop not in kind.loops:
        raise ValueError(f"loop: {loop!r} cannot train objective {kind.name!r}: {kind.why_not_fit}; choose "
                         f"{' or '.join(repr(choice) for choice in kind.loops)}")
    if kind.name not in WRITERS:
        raise ValueError(f"objective {kind.name!r}: no script writer in this version")
    return WRITERS[kind.name](experiment, api, loop, model_parts)
