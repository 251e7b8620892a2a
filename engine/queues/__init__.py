"""Several runs in a row: the run queue, sweeps over settings, the three APIs compared."""
