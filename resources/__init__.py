"""Package data: presets (experiment files), icons and the style sheet."""
