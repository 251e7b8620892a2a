"""Tapedeck's window (PySide6 + pyqtgraph) over the engine."""
