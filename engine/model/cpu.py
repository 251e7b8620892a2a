"""Whether this CPU computes bfloat16 in hardware, read from what the operating system lists.

``mixed_bfloat16`` is fast only on CPUs with bfloat16 units (x86: AVX512-BF16 or AMX-BF16; Arm: the
BF16 extension). Elsewhere TensorFlow emulates it in float32 and converts every tensor both ways: the
tutorial CNN at batch 128 took 88 s per epoch against 8-20 s in float32 on an AMD EPYC without them
(0.16x). The project's machines and people's laptops change CPU, so the check, the run's notes and the
window's precision selector ask here rather than assume; nothing in Tapedeck picks bfloat16 unless
``bfloat16_units()`` is True. Reading /proc/cpuinfo (or asking sysctl on a Mac) imports no TensorFlow.
"""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from pathlib import Path

__all__ = ["bfloat16_units", "cpu_name", "bfloat16_slow_note", "fast_precision", "SLOW_DOWN"]

CPUINFO = Path("/proc/cpuinfo")
X86_FLAGS = ("avx512_bf16", "amx_bf16")
ARM_FEATURE = "bf16"
# Measured: the tutorial CNN, batch 128, emulated bfloat16 vs float32 on an AMD EPYC without the units.
SLOW_DOWN = "about 5x slower than float32 (0.16x measured on an AMD EPYC without them)"


@lru_cache(maxsize=1)
def _cpuinfo() -> str | None:
    try:
        return CPUINFO.read_text(errors="replace")
    except OSError:
        return None


def _words(text: str, keys: tuple) -> set[str]:
    """The words of the first line of /proc/cpuinfo whose key is one of ``keys`` (flags, Features)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in keys:
            return set(value.split())
    return set()


@lru_cache(maxsize=1)
def _mac_bf16() -> bool | None:
    try:
        out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True,
                             timeout=2)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() == "1" if out.returncode == 0 else None


def bfloat16_units() -> bool | None:
    """True where the CPU lists bfloat16 units, False where it lists its features without them,
    None where Tapedeck cannot tell (no /proc/cpuinfo and no sysctl answer)."""
    text = _cpuinfo()
    if text is not None:
        flags = _words(text, ("flags",))
        if flags:
            return any(flag in flags for flag in X86_FLAGS)
        features = _words(text, ("features",))
        if features:
            return ARM_FEATURE in features
    if platform.system() == "Darwin":
        return _mac_bf16()
    return None


def cpu_name() -> str:
    """The CPU's model name as the system gives it ("this CPU" when it gives none)."""
    text = _cpuinfo() or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("model name", "hardware", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or "this CPU"


def bfloat16_slow_note() -> str | None:
    """One sentence when ``mixed_bfloat16`` would run emulated on this CPU; None where it has the units
    or cannot tell. Says nothing about GPUs (the caller knows whether one will train)."""
    if bfloat16_units() is not False:
        return None
    return (f"this CPU ({cpu_name()}) has no bfloat16 units (no AVX512-BF16 or AMX-BF16), so "
            f"mixed_bfloat16 runs emulated: expect {SLOW_DOWN}; use float32")


def fast_precision() -> str:
    """The precision of the "fast settings" (the benchmark's, the README's advice): mixed_bfloat16 only
    where the CPU lists bfloat16 units, float32 where it lacks them or Tapedeck cannot tell."""
    return "mixed_bfloat16" if bfloat16_units() is True else "float32"
