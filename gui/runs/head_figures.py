"""A several-head run's test figures in words, for the runs table and the comparison of runs.

metrics.json's ``test`` holds the first classification head's accuracy (what a one-head table shows) and,
for a several-head run, ``heads``: each head's accuracy, or MAE for a regression head. One figure per head
reads "digit 96.1% · parity 98.3%"; a run without heads has none, so one-head runs look as before.
"""
from __future__ import annotations

import math

from tapedeck.engine.text import percent

__all__ = ["head_figures", "head_test_text"]


def head_figures(metrics: dict) -> dict[str, str]:
    """Head → its test figure in words ("96.1%", "MAE 0.12"), in the file's order; empty for one head."""
    test = metrics.get("test") if isinstance(metrics, dict) else None
    heads = test.get("heads") if isinstance(test, dict) else None
    if not isinstance(heads, dict):
        return {}
    figures = {}
    for name, values in heads.items():
        if not isinstance(values, dict):
            continue
        mae = values.get("mae")
        if "accuracy" in values:
            figures[str(name)] = percent(values.get("accuracy"))
        elif isinstance(mae, (int, float)) and not isinstance(mae, bool) and math.isfinite(mae):
            figures[str(name)] = f"MAE {mae:.3g}"
    return figures


def head_test_text(metrics: dict) -> str | None:
    """ "digit 96.1% · parity 98.3%", or None for a one-head run."""
    figures = head_figures(metrics)
    return " · ".join(f"{name} {figure}" for name, figure in figures.items()) if figures else None
