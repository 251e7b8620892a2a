"""Package data: the presets (experiment files) the window and `tapedeck` offer."""
