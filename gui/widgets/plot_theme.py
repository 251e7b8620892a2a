"""Every plot of the window in the colour scheme (gui.widgets.theme): the Training, Inside the step,
Samples, Environment and Analysis plots are made white with dark text; this repaints each one found under
a widget — at start-up, when the scheme changes, and when a tab is shown (plots built lazily)."""
from __future__ import annotations

from tapedeck.gui.widgets.theme import colours

__all__ = ["theme_plots"]

_AXES = ("left", "bottom", "right", "top")


def theme_plots(root) -> int:
    """Recolour the pyqtgraph plots under ``root``; how many there were."""
    import pyqtgraph as pg

    theme = colours()
    plots = root.findChildren(pg.PlotWidget)
    for plot in plots:
        plot.setBackground(theme["background"])
        item = plot.getPlotItem()
        for name in _AXES:
            axis = item.getAxis(name)
            axis.setTextPen(theme["text"])
            axis.setPen(theme["muted"])
            if axis.label is not None and axis.labelText:
                axis.setLabel(axis.labelText, units=axis.labelUnits, color=theme["text"])
        if item.titleLabel.text:
            item.setTitle(item.titleLabel.text, color=theme["text"], size="10pt")
        if item.legend is not None:
            item.legend.setLabelTextColor(theme["text"])
            item.legend.setBrush(pg.mkBrush(*theme["legend_fill"]))
            for _sample, label in item.legend.items:   # the colour shows once the text is drawn again
                label.setText(label.text, color=theme["text"])
    return len(plots)
