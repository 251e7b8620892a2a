"""The ``fit`` loop: ``model.fit`` with Tapedeck's callbacks, nothing else in between.

The model arrives compiled (inside the strategy's scope); Keras distributes, batches and shuffles.
"""
from __future__ import annotations

__all__ = ["train_fit"]


def train_fit(model, data, batch_size: int, epochs: int, initial_epoch: int, callbacks: list) -> dict:
    validation = (data.x_val, data.y_val) if data.has_validation else None
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
