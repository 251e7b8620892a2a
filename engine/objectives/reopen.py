"""A finished generative run read back from its folder, for the window: its figures per epoch
(history.csv) and its pictures per epoch (samples/*.png, each a whole grid), so the Samples tab shows an
old run as it showed the run while it trained. No Keras: drawing new images is engine.objectives.draw.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.spec.experiment import ExperimentError, load_experiment

__all__ = ["GenerativeRun", "ReopenError", "reopen", "is_generative_run"]

# samples/<prefix>-NNN.png -> the SampleGrid kind it shows
PICTURES = {"epoch": "samples", "reconstructions": "reconstructions", "latent-plane": "latent_plane"}
_NAME = re.compile(r"(epoch|reconstructions|latent-plane)-(\d+)\.png")


class ReopenError(TapedeckError):
    """The folder is not a generative run that can be shown."""


@dataclass
class GenerativeRun:
    run_dir: Path
    experiment: object
    history: list = field(default_factory=list)      # history.csv rows
    pictures: dict = field(default_factory=dict)     # kind -> [(epoch, (H, W, C) float32 picture)]
    class_names: list = field(default_factory=list)  # the data set's, where it can still be described


def is_generative_run(run_dir) -> bool:
    try:
        experiment = load_experiment(Path(run_dir) / "experiment.json")
    except (ExperimentError, OSError):
        return False
    return experiment.objective.kind in ("gan", "cgan", "vae")


def reopen(run_dir) -> GenerativeRun:
    from tapedeck.engine.runs.folder import RunFolder

    run_dir = Path(run_dir)
    try:
        experiment = load_experiment(run_dir / "experiment.json")
    except ExperimentError as error:
        raise ReopenError(str(error).splitlines()[0]) from None
    run = GenerativeRun(run_dir, experiment, RunFolder(run_dir).read_history(), class_names=_class_names(experiment))
    for path in sorted((run_dir / "samples").glob("*.png")):
        match = _NAME.fullmatch(path.name)
        if match:
            picture = _read_png(path)
            if picture is not None:
                run.pictures.setdefault(PICTURES[match[1]], []).append((int(match[2]), picture))
    return run


def _class_names(experiment) -> list:
    from tapedeck.engine.data.datasets import DataError, describe

    try:
        return list(describe(experiment.data)[2])
    except (DataError, OSError):
        return []


def _read_png(path: Path) -> np.ndarray | None:
    """A grid picture as float32 in [0, 1], (H, W, C); None for a file that does not decode (said nowhere:
    the run wrote it, and the other epochs still show)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("L" if image.mode in ("L", "1", "I;16") else "RGB"), dtype=np.float32)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return (array[..., None] if array.ndim == 2 else array) / 255.0
