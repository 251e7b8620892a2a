"""A run's folder on disk, the index of all runs, and exports of a run's model."""
