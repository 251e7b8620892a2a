"""Runs > Export…: a run's model as .keras / SavedModel / TFLite / ONNX, its training script, its history as
CSV, and its loss / accuracy / learning-rate plots as PNG and SVG, drawn from that run's own history
(``gui.runs.run_plots``), never from whatever the window shows at the time.

Model, script and history exports are ``engine.runs.exports.export_run`` (atomic writes, one clear
message per refusal), run one after another in a worker thread: converting to TFLite or ONNX takes
seconds. Those two are checked in their own runtime (LiteRT, onnxruntime) before they are written; the
largest difference from the app's model is shown beside the file.
Plots are drawn by pyqtgraph's own exporters, which paint with Qt and so run on the GUI thread
(milliseconds each).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from tapedeck.engine.spec.experiment import APIS, LOOPS
from tapedeck.gui.threads.jobs import Job

MODEL_FORMATS = (("keras", "Model as .keras"), ("savedmodel", "TensorFlow SavedModel (for serving)"),
                 ("tflite", "TensorFlow Lite (.tflite, checked in LiteRT)"),
                 ("onnx", "ONNX (.onnx, checked in onnxruntime)"), ("script", "Training script (.py)"),
                 ("history", "History as CSV"))
PLOT_FORMATS = ("png", "svg")


def export_plot(plot_item, path) -> Path:
    """One pyqtgraph PlotItem as PNG (pyqtgraph's ImageExporter, at the plot's own size) or SVG.

    SVG is painted by Qt's own QSvgGenerator: pyqtgraph 0.14's SVGExporter fails on every plot under
    Qt 6.11 (it parses Qt's path data expecting "x,y" pairs; pyqtgraph issue #3485).
    Both are written to a temporary name and renamed, so a failed export leaves no half file.
    """
    from tapedeck.engine.files import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path}: a plot is exported as .png or .svg")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp:
        if suffix == ".svg":
            _write_svg(plot_item, temp)
        else:
            import pyqtgraph.exporters as exporters

            exporter = exporters.ImageExporter(plot_item)
            # At the plot's own size: a scaled export grows the tick labels but not the legend.
            exporter.parameters()["width"] = int(plot_item.sceneBoundingRect().width()) or 640
            exporter.export(str(temp))
    return path


def _write_svg(plot_item, path) -> None:
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    source = plot_item.sceneBoundingRect()
    target = QRectF(0, 0, source.width(), source.height())
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(target.size().toSize())
    generator.setViewBox(target)
    generator.setTitle("Tapedeck plot")
    painter = QPainter(generator)
    try:
        plot_item.scene().render(painter, target, source)
    finally:
        painter.end()


def export_formats(run_dir, formats, out_dir=None, api=None, loop=None) -> list[tuple]:
    """Each format exported in turn (worker thread): [(format, path or "", problem or "", largest
    difference from the app's model or None)]."""
    from tapedeck.engine.runs.exports import ExportError, default_export_path, export_run

    done = []
    for fmt in formats:
        target = None if out_dir is None else Path(out_dir) / default_export_path(run_dir, fmt, api, loop).name
        try:
            result = export_run(run_dir, fmt, out=target, api=api, loop=loop)
            done.append((fmt, str(result.path), "", result.max_difference))
        except ExportError as error:
            done.append((fmt, "", str(error), None))
    return done


class ExportDialog(QDialog):
    """Pick what to export from one run, and where (default: the run's own exports/ folder)."""

    def __init__(self, run_dir, parent=None, why: str = ""):
        """``why``: how this run was chosen ("the run just trained"), shown beside its name."""
        super().__init__(parent)
        self.run_dir = str(run_dir)
        from tapedeck.engine.runs.index import read_run

        self.summary = read_run(self.run_dir)
        self.results: list[tuple[str, str, str]] | None = None
        self.differences: dict[str, float] = {}   # tflite / onnx: largest difference from the app's model
        self.setWindowTitle(f"Export — {Path(self.run_dir).name}")
        self._job = Job("tapedeck-export", self)
        self.checks = {}
        grid = QGridLayout()
        for row, (fmt, label) in enumerate(MODEL_FORMATS):
            box = QCheckBox(label, self)
            box.setChecked(fmt in ("keras", "history"))
            if fmt == "keras" and self.summary.api == "subclassing":   # Keras needs the class to load it
                box.setToolTip("A keras.Model subclass: its .keras loads where its class is importable — in a "
                               "script, `import tapedeck.engine.model.build` first (SavedModel, TFLite and ONNX "
                               "need no class)")
                box.setText(f"{label} (loads where Tapedeck is installed: the class is Tapedeck's)")
            self.checks[fmt] = box
            grid.addWidget(box, row, 0, 1, 2)
        row = len(MODEL_FORMATS)
        self.api = QComboBox(self)
        self.api.addItems(list(APIS))
        self.loop = QComboBox(self)
        self.loop.addItems(list(LOOPS))
        self._preset_script_choice()
        script_row = QHBoxLayout()
        script_row.addWidget(QLabel("script written as", self))
        script_row.addWidget(self.api)
        script_row.addWidget(self.loop)
        script_row.addStretch(1)
        grid.addLayout(script_row, row, 0, 1, 2)
        for offset, fmt in enumerate(PLOT_FORMATS, start=1):
            box = QCheckBox(f"Plots as {fmt.upper()} (loss, accuracy, learning rate of this run)", self)
            box.setEnabled(bool(self.summary.history))
            self.checks[fmt] = box
            grid.addWidget(box, row + offset, 0, 1, 2)
        self.folder = QLineEdit(str(Path(self.run_dir) / "exports"), self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("into", self))
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.export_button = QPushButton("Export", self)
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        chosen = f" — {why}" if why else ""
        self.run_label = QLabel(f"Export from run <b>{Path(self.run_dir).name}</b>{chosen}:", self)
        self.run_label.setWordWrap(True)
        self.run_label.setToolTip(self.run_dir)
        layout.addWidget(self.run_label)
        layout.addLayout(grid)
        layout.addLayout(folder_row)
        layout.addWidget(self.status, 1)
        layout.addLayout(buttons)
        self.resize(560, 400)

    @property
    def running(self) -> bool:
        return self._job.running

    def chosen(self) -> list[str]:
        return [fmt for fmt, box in self.checks.items() if box.isChecked() and box.isEnabled()]

    def choose(self, formats) -> None:
        for fmt, box in self.checks.items():
            box.setChecked(fmt in formats)

    def export(self) -> bool:
        """Plots now (GUI thread), then the rest in the worker; ``results`` fills when it is done."""
        if self._job.running:
            return False
        out = Path(self.folder.text().strip() or Path(self.run_dir) / "exports")
        chosen = self.chosen()
        if not chosen:
            self.status.setText("Tick at least one thing to export.")
            return False
        self.results = None
        plot_results = self._export_plots([f for f in chosen if f in PLOT_FORMATS], out)
        formats = [f for f in chosen if f not in PLOT_FORMATS]
        default_out = out == Path(self.run_dir) / "exports"
        api, loop = self.api.currentText(), self.loop.currentText()
        self.export_button.setEnabled(False)
        self.status.setText(f"Exporting {', '.join(formats) or 'plots'}…")
        self._job.start(lambda: export_formats(self.run_dir, formats, None if default_out else out, api, loop),
                        lambda result, error: self._done(plot_results, result, error))
        return True

    def _export_plots(self, formats, out: Path) -> list[tuple[str, str, str]]:
        """This run's plots, drawn from its history.csv, in each of ``formats`` (GUI thread: Qt paints)."""
        if not formats:
            return []
        from tapedeck.gui.runs.run_plots import delete_plot_widgets, run_plot_widgets

        widgets = run_plot_widgets(self.summary.history, self.summary.name or Path(self.run_dir).name)
        results = []
        try:
            for fmt in formats:
                for name, widget in widgets.items():
                    try:
                        results.append((fmt, str(export_plot(widget.getPlotItem(), out / f"{name}.{fmt}")), ""))
                    except (OSError, ValueError) as error:
                        results.append((fmt, "", f"{out / name}.{fmt}: {error}"))
        finally:
            delete_plot_widgets(widgets.values())
        return results

    def shutdown(self, timeout_ms: int = 60000) -> bool:
        return self._job.shutdown(timeout_ms)

    def closeEvent(self, event) -> None:  # noqa: N802 — Qt's name
        if self._job.running and not self._job.shutdown(60000):
            event.ignore()
            return
        super().closeEvent(event)

    def _done(self, plot_results, results, error) -> None:
        self.export_button.setEnabled(True)
        self.differences = {r[0]: r[3] for r in results or [] if r[3] is not None}
        self.results = plot_results + [r[:3] for r in results or []]
        lines = [f"✔ {fmt}: {path}{self._checked(fmt)}" if path else f"✘ {fmt}: {problem}"
                 for fmt, path, problem in self.results]
        if error:
            lines.append(f"✘ {error}")
        self.status.setText("\n".join(lines))

    def _checked(self, fmt: str) -> str:
        if fmt not in self.differences:
            return ""
        runtime = {"tflite": "LiteRT", "onnx": "onnxruntime"}.get(fmt, fmt)
        return f" (checked in {runtime}: largest difference {self.differences[fmt]:.1g})"

    def _preset_script_choice(self) -> None:
        summary = self.summary
        if summary.api:
            self.api.setCurrentText(summary.api)
        if summary.loop:
            self.loop.setCurrentText(summary.loop)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export into", self.folder.text())
        if path:
            self.folder.setText(path)
