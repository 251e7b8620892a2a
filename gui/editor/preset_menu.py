"""File ▸ Open preset, grouped: a submenu per data set, then one entry per model. A preset written in
every API (and loop) is one entry that opens in the API and loop the selectors show now — the selectors
already choose those, so the list does not repeat them twelve times."""
from __future__ import annotations

import re

from tapedeck.engine.spec.experiment import APIS, LOOPS, list_presets, load_preset
from tapedeck.engine.spec.objectives import objective_kind
from tapedeck.engine.spec.presets import preset_note

__all__ = ["fill_preset_menu", "preset_families", "DATA_TITLES"]

DATA_TITLES = {"digits": "Digits (offline)", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
               "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "npz": "Your .npz file", "idx": "IDX files",
               "cifar": "CIFAR files", "folder": "An image folder"}
ACTING = "Reinforcement learning (gymnasium)"
_VARIANT = re.compile(rf"(.+?)_({'|'.join(APIS)})(?:_({'|'.join(LOOPS)}))?")


def preset_families(shown) -> dict:
    """data title -> {family: [preset names]}, in list order; ``shown(experiment)`` says which the window shows."""
    groups: dict = {}
    for name in list_presets():
        experiment = load_preset(name)
        if not shown(experiment):
            continue
        match = _VARIANT.fullmatch(name)
        family = match[1] if match else name
        title = (ACTING if objective_kind(experiment.objective).data == "environment" else   # no data set
                 DATA_TITLES.get(experiment.data.source, experiment.data.source))
        groups.setdefault(title, {}).setdefault(family, []).append(name)
    if ACTING in groups:   # after the data sets, whose presets come first in the list
        groups[ACTING] = groups.pop(ACTING)
    return groups


def pick_variant(names: list, api: str, loop: str) -> str:
    """The variant in ``api`` and ``loop`` (or in ``api``), else the first."""
    for wanted in (f"_{api}_{loop}", f"_{api}"):
        for name in names:
            if name.endswith(wanted):
                return name
    return names[0]


def fill_preset_menu(menu, shown, open_preset, current) -> None:
    """``current()`` gives the selectors' (api, loop); ``open_preset(name)`` opens one."""
    menu.setToolTipsVisible(True)
    for title, families in preset_families(shown).items():
        submenu = menu.addMenu(title)
        submenu.setToolTipsVisible(True)
        for names in families.values():
            note = preset_note(names[0])
            label = note.title.split(" — ")[0] if len(names) > 1 else note.title
            action = submenu.addAction(label, lambda n=tuple(names): open_preset(pick_variant(list(n), *current())))
            ways = (f"\nOpens in the API and loop chosen above ({len(names)} ways: {', '.join(names)})"
                    if len(names) > 1 else f"\n({names[0]})")
            action.setToolTip((note.teaches or note.title) + ways)
            action.setStatusTip(note.teaches)
