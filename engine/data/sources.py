"""Which file-based data source a path the person picked is, told from its layout, so the window can
fill ``data.source`` from a file dialog without asking."""
from __future__ import annotations

import os


def guess_source(path: str) -> tuple[str | None, str]:
    """Which file-based source a picked path is, from its layout; (None, why) when it is none."""
    name = os.path.basename(path.rstrip("/")).lower()
    if os.path.isfile(path):
        if name.endswith(".npz"):
            return "npz", ""
        if name.endswith((".tar.gz", ".tgz")):
            return "cifar", ""
        return None, (f"{path}: not a data set Tapedeck reads. Pick a .npz file, a CIFAR .tar.gz, or a "
                      "folder (IDX files, CIFAR batches, or one sub-folder of images per class).")
    entries = set(os.listdir(path)) if os.path.isdir(path) else set()
    from tapedeck.engine.data.readers import is_idx_name

    if any(is_idx_name(e) for e in entries):   # the reader's own rule: EMNIST's and dotted names too
        return "idx", ""
    if {"data_batch_1", "batches.meta"} & entries or {"train", "meta"} <= entries:
        return "cifar", ""
    return "folder", ""
