"""Issue 23, fault 6: an offline download says why in words, not Keras's socket error, and names
Keras's extensionless archive name as such."""
from __future__ import annotations

from tapedeck.engine.data.keras_sets import KERAS_SETS, _offline_message, why_no_download

OFFLINE = ("URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz: "
           "None -- [Errno -2] Name or service not known")


def test_no_network_is_said_in_words():
    assert why_no_download(OFFLINE) == "no network: the download server's name did not resolve"
    assert why_no_download("URL fetch failure on https://x/y.npz: 404 -- Not Found") == \
        "the download failed: 404 -- Not Found"
    message = _offline_message(KERAS_SETS["mnist"], OFFLINE, set())
    assert "Errno" not in message and "None --" not in message
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in message   # still named


def test_the_cifar_archive_name_is_explained():
    message = _offline_message(KERAS_SETS["cifar100"], OFFLINE.replace("mnist.npz", "x"), set())
    assert "cifar-100-python-target_archive (the name Keras looks for, without cifar-100-python.tar.gz's" in message
