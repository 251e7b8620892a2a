"""The Code tab: the engine's standalone script for the current API style × loop, highlighted,
regenerated as the experiment changes; copy and save buttons. Save as… writes the script (.py) or the
same script as a Jupyter notebook (.ipynb, a cell per section: engine.codegen.notebook) and says where.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from tapedeck.engine.files import WriteError, write_text_atomic
from tapedeck.gui.widgets.theme import colours, is_dark, palette_changed

PYTHON_FILTER = "Python script (*.py)"
NOTEBOOK_FILTER = "Jupyter notebook (*.ipynb)"


def _format(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Bold)
    fmt.setFontItalic(italic)
    return fmt


SYNTAX_LIGHT = {"keyword": "#7b30a8", "builtin": "#1a5fa3", "decorator": "#a35a00", "number": "#0a7a6a",
                "definition": "#1f4e96", "string": "#b2571a", "comment": "#6a737d"}
SYNTAX_DARK = {"keyword": "#c792ea", "builtin": "#82aaff", "decorator": "#ffcb6b", "number": "#7fdbca",
               "definition": "#8fb8ff", "string": "#f1a66a", "comment": "#8b949e"}


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, decorators, numbers, strings (incl. triple-quoted) and comments, in colours
    for a light or a dark background (``set_dark``)."""

    def __init__(self, document, dark: bool = False):
        super().__init__(document)
        self._triple = re.compile(r'"""|\'\'\'')
        self.dark = None
        self.set_dark(dark)

    def set_dark(self, dark: bool) -> None:
        if dark == self.dark:
            return
        self.dark = dark
        colour = SYNTAX_DARK if dark else SYNTAX_LIGHT
        words = "|".join(keyword.kwlist)
        self._rules = [
            (QRegularExpression(rf"\b({words})\b"), _format(colour["keyword"], bold=True)),
            (QRegularExpression(r"\b(print|range|len|int|float|str|list|dict|tuple|super|self|"
                                r"isinstance|zip|enumerate|sum|max|min)\b"), _format(colour["builtin"])),
            (QRegularExpression(r"^\s*@[\w.]+"), _format(colour["decorator"])),
            (QRegularExpression(r"\b[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?\b"), _format(colour["number"])),
            (QRegularExpression(r"\bdef\s+(\w+)|\bclass\s+(\w+)"), _format(colour["definition"], bold=True)),
            (QRegularExpression(r"(?<![\"'])(\"[^\"\n]*\"|'[^'\n]*')"), _format(colour["string"])),
        ]
        self._comment = (QRegularExpression(r"#[^\n]*"), _format(colour["comment"], italic=True))
        self._string = _format(colour["string"])
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        for pattern, fmt in self._rules:
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), fmt)
        pattern, fmt = self._comment
        match = pattern.match(text)
        if match.hasMatch() and not _inside_string(text, match.capturedStart()):
            self.setFormat(match.capturedStart(), match.capturedLength(), fmt)
        self._triple_quotes(text)

    def _triple_quotes(self, text: str) -> None:
        """State 1 = inside a triple-quoted string carried over from the previous line."""
        start = 0 if self.previousBlockState() == 1 else -1
        self.setCurrentBlockState(0)
        for match in self._triple.finditer(text):
            if start < 0:
                start = match.start()
            else:
                self.setFormat(start, match.end() - start, self._string)
                start = -1
        if start >= 0:
            self.setFormat(start, len(text) - start, self._string)
            self.setCurrentBlockState(1)


def _inside_string(text: str, index: int) -> bool:
    before = text[:index]
    return before.count('"') % 2 == 1 or before.count("'") % 2 == 1


class CodeView(QWidget):
    """``checker`` (gui.checker.Checker, optional): while the stack does not check, the script would
    fail too, so the caption says so and Copy / Save are off."""

    saved = Signal(str)   # the file just written (the window may show it in its status bar)

    def __init__(self, document, checker=None, parent=None):
        super().__init__(parent)
        self._document = document
        self._checker = checker
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.editor = QPlainTextEdit(self)
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.NoWrap)
        font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        font.setPointSize(max(font.pointSize(), 10))
        self.editor.setFont(font)
        self.highlighter = PythonHighlighter(self.editor.document(), is_dark())
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the whole script to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        self.save_button = QPushButton("Save as…", self)
        self.save_button.setToolTip("Save the script as a Python file (.py) or a Jupyter notebook (.ipynb)")
        self.save_button.clicked.connect(self._save_dialog)
        self.confirmation = QLabel(self)   # "Saved …" or why not: a save is never silent
        self.confirmation.setWordWrap(True)
        self.confirmation.setTextInteractionFlags(self.confirmation.textInteractionFlags()
                                                  | Qt.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.caption, 1)
        row.addWidget(self.copy_button)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.confirmation)
        self.confirmation.hide()
        layout.addWidget(self.editor, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.regenerate)
        document.changed.connect(self._timer.start)
        if checker is not None:
            checker.report_changed.connect(self.regenerate)
        self.error: str | None = None
        self.regenerate()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if palette_changed(event):   # the system switched between light and dark
            self.highlighter.set_dark(is_dark())
            self.regenerate()

    def regenerate(self) -> None:
        experiment = self._document.experiment
        api, loop = experiment.model.api, experiment.training.loop
        try:
            from tapedeck.engine.codegen.formatting import ruff_formatted
            from tapedeck.engine.codegen.script import generate_code

            # several models: each written in its own API; laid out as `ruff format` leaves it (~20 ms)
            text = ruff_formatted(generate_code(experiment, api=api if experiment.objective.is_classify else None,
                                                loop=loop))
            self.error = None
        except Exception as error:  # noqa: BLE001 - a stack that cannot be exported says why
            self.error = str(error) or type(error).__name__
            text = f"# The script cannot be generated yet:\n# {self.error.replace(chr(10), chr(10) + '# ')}\n"
        problem = self.error or self._check_problem()
        if problem:
            self.caption.setText(f"Script — <b>{api}</b> model, <b>{loop}</b> training. "
                                 f"<span style='color:{colours()['bad']}'>The stack does not check yet, so this script "
                                 "would fail too: fix the marked layers first.</span>")
        else:
            self.caption.setText(f"Standalone script — <b>{api}</b> model, <b>{loop}</b> training. "
                                 f"Runs with plain <tt>python</tt>; change the style with the selectors above.")
        if text != self.editor.toPlainText():
            scroll = self.editor.verticalScrollBar().value()
            self.editor.setPlainText(text)
            self.editor.verticalScrollBar().setValue(scroll)
        self.save_button.setEnabled(not problem)
        self.copy_button.setEnabled(not problem)

    def _check_problem(self) -> bool:
        """True when the shape check has run and found a problem (not while it waits for TensorFlow)."""
        checker = self._checker
        if checker is None:
            return False
        report = checker.report
        return bool(checker.graph_problems or (report is not None and not report.ok))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.editor.toPlainText())

    def save(self, path: str) -> bool:
        """Write the script to ``path``, as a notebook when it ends in .ipynb; the tab says what it
        wrote, or why it could not."""
        text = self.editor.toPlainText()
        try:
            if Path(path).suffix.lower() == ".ipynb":
                from tapedeck.engine.codegen.notebook import notebook_text

                text = notebook_text(text)
            write_text_atomic(path, text)
        except WriteError as error:
            self._confirm(f"<span style='color:{colours()['bad']}'>Not saved: {_escaped(str(error))}</span>", path)
            return False
        kind = "notebook" if Path(path).suffix.lower() == ".ipynb" else "script"
        self._confirm(f"Saved the {kind} to <b>{_escaped(Path(path).name)}</b> in {_escaped(str(Path(path).parent))}",
                      path)
        self.saved.emit(str(path))
        return True

    def _confirm(self, html: str, path: str) -> None:
        self.confirmation.setText(html)
        self.confirmation.setToolTip(str(path))
        self.confirmation.show()

    def default_name(self, suffix: str = ".py") -> str:
        """<experiment>_<api>_<loop>.py: the fit and the tape script of one stack do not overwrite each
        other; an API or loop the experiment's name already says is not repeated
        (digits_two_heads_functional → digits_two_heads_functional_fit.py)."""
        experiment = self._document.experiment
        name = re.sub(r"[^\w.-]+", "_", self._document.display_name()).strip("_.") or "script"
        words = set(re.split(r"[_.-]+", name.lower()))
        extra = [part for part in (experiment.model.api, experiment.training.loop) if part.lower() not in words]
        return "_".join([name, *extra]) + suffix

    def _save_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Save the script", self.default_name(),
                                                   f"{PYTHON_FILTER};;{NOTEBOOK_FILTER}")
        if not path:
            return
        wanted = ".ipynb" if chosen == NOTEBOOK_FILTER else ".py"
        if Path(path).suffix.lower() not in (".py", ".ipynb"):   # no extension typed: the chosen filter's
            path += wanted
        elif chosen == NOTEBOOK_FILTER and Path(path).suffix.lower() == ".py":   # the suggested name, kept
            path = str(Path(path).with_suffix(".ipynb"))
        self.save(path)


def _escaped(text: str) -> str:
    from html import escape

    return escape(text)
