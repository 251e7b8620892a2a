"""Editing the experiment: the layer stack (a thin Qt model over engine data), the parameter form,
settings, selectors."""
