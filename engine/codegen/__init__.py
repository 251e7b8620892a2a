"""The script a person would have written by hand, for each API and training loop."""
