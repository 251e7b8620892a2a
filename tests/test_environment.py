"""Guards on the environment Tapedeck runs in, each in a clean subprocess."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EMIT_10000 = textwrap.dedent(
    """
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Source(QObject):
        ping = Signal(object, bool)

    app = QCoreApplication([])
    received = []
    source = Source()
    source.ping.connect(lambda payload, flag: received.append(flag))
    for i in range(10_000):
        source.ping.emit({"step": i}, i % 2 == 0)
    assert len(received) == 10_000, len(received)
    print("emitted", len(received))
    """
)

NO_QT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class RefuseQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph") or name.startswith("tapedeck.gui"):
                raise ImportError(f"{name} is blocked: engine/ must not import Qt")
            return None

    sys.meta_path.insert(0, RefuseQt())
    import tapedeck.engine as engine
    names = [m.name for m in pkgutil.walk_packages(engine.__path__, "tapedeck.engine.")]
    for name in names:
        importlib.import_module(name)
    leaked = [m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph") or m.startswith("tapedeck.gui")]
    assert not leaked, leaked
    print("imported", len(names), "engine modules")
    """
)


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_pyside_survives_ten_thousand_emits():
    """PySide6 6.12.0 aborts with 'bool_dealloc' after a few hundred emits; pyproject excludes it."""
    result = _run(EMIT_10000)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "emitted 10000" in result.stdout


def test_every_engine_module_imports_without_qt():
    result = _run(NO_QT)
    assert result.returncode == 0, result.stderr[-3000:]
    count = int(result.stdout.split("imported")[1].split()[0])
    assert count >= 40, result.stdout
