"""From an experiment to a Keras model: the shape and parameter check with its rules, the three builders,
the inference twin."""
