"""Epoch checkpoints written off the training thread: the weights copied, then saved by a writer thread.

``model.save`` of the tutorial CNN with Adam's state (57 MB) took 110-450 ms at each epoch's end, all
of it on the training thread. Here the training thread only copies the state (the model's weights and
the optimizer's variables) into a *shadow* model, a variable-to-variable copy of a few ms, and a writer
thread saves the shadow while the next epoch trains. The shadow is rebuilt once from the model's own
configuration, as ``load_model`` rebuilds a checkpoint, and again after the trainable flags change (a
Backbone unfreezing); where its variables do not pair with the live ones, or the run saves only once,
saves stay on the training thread as before.

Still atomic and resumable after kill -9: the writer saves through ``RunFolder.save_checkpoint`` (a
temporary name renamed onto checkpoint.keras, then checkpoint.json), so a kill leaves the previous
epoch's complete checkpoint, and a resume already drops history rows past the checkpoint's epoch.
A write is finished before the next one starts, before training ends (``wait``) and before the run
lets go of its folder (the run enters this as a context). An error in the writer (a full disk) is
raised on the training thread at the next epoch's end or at training's end, as a synchronous save would.
"""
from __future__ import annotations

import threading

__all__ = ["CheckpointWriter", "MAX_SHADOW_BYTES"]

# The shadow holds a second copy of the weights and the optimizer's state (3x the weights with Adam):
# 57 MB for the tutorial CNN. Past this, the memory matters more than the wait, and saves stay synchronous.
MAX_SHADOW_BYTES = 512 * 2**20


class CheckpointWriter:
    def __init__(self, folder, background: bool = True):
        self.folder = folder
        self.background = background
        self._shadow = None          # (shadow model, [(shadow variable, live variable)]), or None
        self._signature = None       # the live model's signature when the shadow was made
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- the training thread ---------------------------------------------------------------------
    def save(self, model, epoch: int, more: bool = True) -> None:
        """Checkpoint ``model`` after ``epoch``: copy and hand off, or save here when no shadow fits
        (``more``: epochs follow, so a shadow made now would serve them)."""
        self.wait()
        if not self.background or not _single_replica() or _state_bytes(model) > MAX_SHADOW_BYTES:
            self.folder.save_checkpoint(model, epoch)
            return
        signature = _signature(model)
        if signature != self._signature:   # the first save, or the trainable flags changed
            self._signature = signature
            self._shadow = _make_shadow(model) if more else None
        if self._shadow is None:   # the run's only save, or a model the shadow cannot mirror
            self.folder.save_checkpoint(model, epoch)
            return
        shadow, pairs = self._shadow
        for copy, live in pairs:
            copy.assign(live.value)   # the epoch's state, consistent: training waits for this copy
        self._start(self.folder.save_checkpoint, shadow, epoch)

    def wait(self) -> None:
        """The write under way is done; its error, if any, raised here."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        """The run lets go of its folder: no write may still be under way. Never raises: training's
        end (``wait``) raised a writer's error already, and a run that failed otherwise keeps its own."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # -- the writer thread -----------------------------------------------------------------------
    def _start(self, work, *args) -> None:
        def run():
            try:
                work(*args)
            except BaseException as error:  # noqa: BLE001 — handed to the training thread
                self._error = error

        self._thread = threading.Thread(target=run, name="tapedeck-checkpoint", daemon=False)
        self._thread.start()


def _make_shadow(model):
    """(shadow, [(shadow variable, live variable)]): the model rebuilt from its own configuration and
    compiled from its compile configuration, as ``load_model`` rebuilds a checkpoint (90-120 CPU-ms for
    the tutorial CNN, where loading the first checkpoint back took 190), its variables paired with the
    live ones by position. None where they do not pair (an optimizer built for more variables than the
    trainable ones, a layer that cannot be rebuilt): then every save stays synchronous."""
    import keras

    try:
        shadow = keras.models.model_from_json(model.to_json())
        compile_config = model.get_compile_config()
        if compile_config:
            shadow.compile_from_config(compile_config)
        if getattr(shadow, "optimizer", None) is not None:
            shadow.optimizer.build(shadow.trainable_variables)
    except Exception:  # noqa: BLE001 — a model Keras cannot rebuild from its config here is saved as before
        return None
    live, copies = _state(model), _state(shadow)
    if len(live) != len(copies) or any(tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype
                                       for a, b in zip(live, copies)):
        return None
    return shadow, list(zip(copies, live))


def _state(model) -> list:
    """What a checkpoint holds that changes while training: the weights and the optimizer's variables
    (its step count, learning rate and slots)."""
    optimizer = getattr(model, "optimizer", None)
    return list(model.weights) + (list(optimizer.variables) if optimizer is not None else [])


def _state_bytes(model) -> int:
    import numpy as np

    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in _state(model))


def _signature(model) -> tuple:
    """What the saved configuration depends on and training may change: each layer's trainable flag,
    and the state's shapes (a change means a new shadow)."""
    layers = tuple((layer.name, bool(layer.trainable)) for layer in model._flatten_layers(include_self=False))
    return layers, tuple(tuple(v.shape) for v in _state(model))


def _single_replica() -> bool:
    """Mirrored and multi-worker variables are saved as Keras saves them, on the training thread."""
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync == 1
