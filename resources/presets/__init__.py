"""Experiment files shipped with Tapedeck; `engine.spec.experiment.load_preset` reads them."""
