"""One training run, `run(experiment, reporter, control)`: both loops, callbacks, events, optimizers,
strategy, evaluation."""
