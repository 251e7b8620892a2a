"""`tapedeck --version`, `tapedeck --install-desktop` and the window's icon."""
import configparser
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import tapedeck.gui.app
from tapedeck.gui.desktop_entry import desktop_entry, icon_bytes
from tapedeck.gui.entry import main


def test_version_is_printed_without_opening_the_window(capsys, monkeypatch):
    monkeypatch.setattr(tapedeck.gui.app, "main", lambda argv: pytest.fail("the window was asked"))
    with pytest.raises(SystemExit) as ended:
        main(["--version"])
    assert ended.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("tapedeck ") and out.split()[1][0].isdigit()


def test_install_desktop_writes_the_entry_and_icon_under_xdg_data_home(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tapedeck.gui.app, "main", lambda argv: pytest.fail("the window was asked"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert main(["--install-desktop"]) == 0
    entry = tmp_path / "share" / "applications" / "tapedeck.desktop"
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "tapedeck.svg"
    assert f"wrote {entry}" in capsys.readouterr().out
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(entry.read_text(encoding="utf-8"))
    fields = parser["Desktop Entry"]
    assert fields["Type"] == "Application" and fields["Name"] == "Tapedeck" and fields["Icon"] == "tapedeck"
    assert shlex.split(fields["Exec"]) == [sys.executable, "-m", "tapedeck", "%f"]
    assert ET.fromstring(icon.read_bytes()).tag.endswith("svg")
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]   # written atomically: no leftovers

    assert main(["--install-desktop"]) == 0   # a second install replaces the files
    validator = shutil.which("desktop-file-validate")   # desktop-file-utils, where installed
    if validator:
        checked = subprocess.run([validator, str(entry)], capture_output=True, text=True)
        assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout


def test_exec_quotes_a_python_path_with_spaces():
    exec_line = next(line for line in desktop_entry("/opt/my envs/bin/python").splitlines()
                     if line.startswith("Exec="))
    assert shlex.split(exec_line[len("Exec="):]) == ["/opt/my envs/bin/python", "-m", "tapedeck", "%f"]


def test_an_unwritable_data_folder_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "share"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert main(["--install-desktop"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tapedeck: ") and "Traceback" not in err and str(blocker) in err
    assert main(["--install-desktop", "extra"]) == 2


def test_the_application_has_the_icon_and_the_desktop_file_id(qapp):
    from PySide6.QtGui import QPixmap

    from tapedeck.gui.app import set_identity

    assert QPixmap().loadFromData(icon_bytes(), "SVG")
    names = qapp.applicationName(), qapp.organizationName()
    set_identity(qapp)
    try:
        assert not qapp.windowIcon().isNull() and qapp.desktopFileName() == "tapedeck"
    finally:   # other tests' QSettings() must not move to Tapedeck's real settings
        qapp.setApplicationName(names[0])
        qapp.setOrganizationName(names[1])
    assert qapp.windowIcon().pixmap(64, 64).toImage().pixelColor(32, 10).alpha() == 0   # its corner: transparent
