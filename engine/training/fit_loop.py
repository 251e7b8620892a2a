"""The ``fit`` loop: ``model.fit`` with Tapedeck's callbacks, nothing else in between.

The model arrives compiled (inside the strategy's scope); Keras distributes, batches and shuffles.
"""
from __future__ import annotations

import contextlib
import warnings

from tapedeck.engine.data.streaming import is_streamed

__all__ = ["train_fit"]


def train_fit(model, data, batch_size: int, epochs: int, initial_epoch: int, callbacks: list) -> dict:
    from tapedeck.engine.training.multi_worker import fit_under_workers

    if is_streamed(data.x_train):
        return _train_streamed(model, data, batch_size, epochs, initial_epoch, callbacks)
    validation = (data.x_val, data.y_val) if data.has_validation else None
    with fit_under_workers(model):
        model.fit(
            data.x_train,
            data.y_train,
            batch_size=batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=True,
            verbose=0,
        )
    return {}


def _train_streamed(model, data, batch_size: int, epochs: int, initial_epoch: int, callbacks: list) -> dict:
    """A set read from disk batch by batch (engine.data.streaming): ``fit`` on its tf.data pipelines."""
    from tapedeck.engine.training.multi_worker import fit_under_workers

    validation = data.x_val.dataset(data.y_val, batch_size, shuffle=False) if data.has_validation else None
    with fit_under_workers(model), _length_learned_in_first_epoch(data.x_train):
        model.fit(data.x_train.dataset(data.y_train, batch_size, shuffle=True), epochs=epochs,
                  initial_epoch=initial_epoch, validation_data=validation, callbacks=callbacks, shuffle=False,
                  verbose=0)   # shuffled by the pipeline itself, every epoch
    return {}


@contextlib.contextmanager
def _length_learned_in_first_epoch(images):
    """A cached stream's length is unknown to tf.data (the cache holds the rows that decoded, unbatched
    for shuffling): Keras counts its batches in the first epoch and says "Your input ran out of data;
    interrupting training" when it ends. Nothing ran out, so that one warning is not passed on."""
    if not getattr(images, "cache", None):
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
        yield
