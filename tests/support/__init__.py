"""Helpers shared by the tests: data files of the real formats, short runs, a scripted window."""
