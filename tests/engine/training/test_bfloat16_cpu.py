"""bfloat16 on a CPU without bfloat16 units runs emulated (~5x slower): the check and the run warn,
naming the CPU's lack, and nothing picks bfloat16 there. Both branches, by faking /proc/cpuinfo."""
from __future__ import annotations

import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.model import cpu
from tapedeck.engine.model.check_rules import precision_warning
from tapedeck.engine.spec.experiment import list_presets, load_preset, save_experiment

EPYC = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"
        "flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n")
SAPPHIRE = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\n"
            "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n")
ARM_WITH = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU part\t: 0xd40\n"
ARM_WITHOUT = "processor\t: 0\nFeatures\t: fp asimd crc32 atomics\nCPU part\t: 0xd0c\n"


@pytest.fixture
def cpuinfo(monkeypatch):
    """fake(text): this process's /proc/cpuinfo reads ``text`` (None: there is none)."""
    def fake(text):
        monkeypatch.setattr(cpu, "_cpuinfo", lambda: text)
        monkeypatch.setattr(cpu.platform, "system", lambda: "Linux")
    return fake


@pytest.mark.parametrize("text, expected", [(EPYC, False), (SAPPHIRE, True), (ARM_WITH, True),
                                            (ARM_WITHOUT, False), (None, None), ("processor\t: 0\n", None)])
def test_bfloat16_units_read_from_the_cpu_flags(cpuinfo, text, expected):
    cpuinfo(text)
    assert cpu.bfloat16_units() is expected
    assert cpu.fast_precision() == ("mixed_bfloat16" if expected else "float32")


def test_bfloat16_on_a_cpu_without_units_warns_naming_the_lack_and_the_slow_down(cpuinfo):
    cpuinfo(EPYC)
    warning = precision_warning("mixed_bfloat16")
    assert "AMD EPYC 7B13" in warning and "no bfloat16 units" in warning
    assert "5x slower than float32" in warning and "use float32" in warning
    float16 = precision_warning("mixed_float16")
    assert "mixed_bfloat16 is the 16-bit choice" not in float16 and "use float32" in float16
    assert precision_warning("float32") is None


def test_bfloat16_on_a_cpu_with_units_says_nothing(cpuinfo):
    cpuinfo(SAPPHIRE)
    assert precision_warning("mixed_bfloat16") is None
    assert "mixed_bfloat16 is the 16-bit choice for CPUs" in precision_warning("mixed_float16")


@pytest.mark.parametrize("text, warns", [(EPYC, True), (SAPPHIRE, False)])
def test_check_command_warns_on_stderr(cpuinfo, tmp_path, capsys, text, warns):
    cpuinfo(text)
    experiment = load_preset("digits_cnn")
    experiment.training.precision = "mixed_bfloat16"
    path = tmp_path / "bf16.json"
    save_experiment(experiment, path)
    assert main(["check", str(path)]) == 0   # a warning, not a refusal
    err = capsys.readouterr().err
    assert ("warning: training.precision mixed_bfloat16: this CPU (AMD EPYC 7B13) has no bfloat16 units"
            in err) is warns


def test_no_preset_picks_a_16_bit_precision():
    """The presets train anywhere: bfloat16 would be ~5x slower on a CPU without the units."""
    for name in list_presets():
        assert load_preset(name).training.precision == "float32", name
