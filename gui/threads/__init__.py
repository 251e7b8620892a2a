"""The one way to run work off the GUI thread, and the garbage-collection guard it needs."""
