"""The central tabs of a run: training curves, predictions, code, model."""
