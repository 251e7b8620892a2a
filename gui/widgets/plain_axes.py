"""Plot axes that print the numbers as they are.

pyqtgraph scales an axis by an SI prefix on its own: a loss between 0.1 and 0.6 read
"loss (×0.001)" with ticks 100–600 (issue 23), a learning rate "lr (x0.001)" with ticks 1–3.
Every plot of the window turns that off through `plain_axes`.
"""
from __future__ import annotations


def plain_axes(plot_item) -> None:
    """No automatic SI-prefix scaling on any axis of `plot_item` (a pyqtgraph PlotItem)."""
    for name in ("left", "bottom", "right", "top"):
        axis = plot_item.getAxis(name)
        if axis is not None:
            axis.enableAutoSIPrefix(False)
