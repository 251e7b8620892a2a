"""Every exported script — each preset in each API and loop its objective offers — as `ruff format` and
`ruff check` (imports sorted, the default rules) want it, and still valid Python (issue 23)."""
from __future__ import annotations

import subprocess

from ruff.__main__ import find_ruff_bin

from tapedeck.engine.codegen.formatting import ruff_formatted
from tapedeck.engine.codegen.script import generate_code
from tapedeck.engine.spec.experiment import APIS, list_presets, load_preset
from tapedeck.engine.spec.objectives import objective_kind


def test_every_preset_script_passes_ruff_format_and_ruff_check(tmp_path):
    written = 0
    for name in list_presets():
        experiment = load_preset(name)
        for api in APIS:
            for loop in objective_kind(experiment.objective).loops:
                try:
                    source = generate_code(experiment, api=api, loop=loop)
                except ValueError:   # e.g. Sequential for a branched stack: refused, nothing written
                    continue
                formatted = ruff_formatted(source)
                compile(formatted, f"{name}_{api}_{loop}.py", "exec")
                (tmp_path / f"{name}_{api}_{loop}.py").write_text(formatted)
                written += 1
    assert written > 150
    ruff = find_ruff_bin()
    fmt = subprocess.run([ruff, "format", "--isolated", "--check", str(tmp_path)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout[-2000:] + fmt.stderr[-2000:]
    lint = subprocess.run([ruff, "check", "--isolated", "--select", "E4,E7,E9,F,I", str(tmp_path)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]


def test_without_ruff_the_script_is_returned_as_written(monkeypatch):
    from tapedeck.engine.codegen import formatting

    monkeypatch.setattr(formatting, "_ruff", lambda: None)
    source = generate_code(load_preset("digits_cnn"))
    assert formatting.ruff_formatted(source) == source
