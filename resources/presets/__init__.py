"""Experiment files shipped with Tapedeck; `engine.experiment.load_preset` reads them."""
