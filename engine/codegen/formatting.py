"""The exported script formatted as `ruff format` formats it, imports sorted as `ruff check --select I`
sorts them — by ruff itself, so the script reads as a person's project would after its formatter ran.

ruff is a dependency; where it cannot run (removed, or a platform without its binary) the script is
returned as written, which is valid Python all the same. It never runs code from the script: ruff parses.
"""
from __future__ import annotations

import subprocess

__all__ = ["ruff_formatted", "RUFF_TIMEOUT_S"]

RUFF_TIMEOUT_S = 10
_FIX = ["check", "--isolated", "--select", "I", "--fix", "--quiet", "--exit-zero", "-"]
_FORMAT = ["format", "--isolated", "--quiet", "-"]


def _ruff() -> str | None:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:
        return None
    try:
        return find_ruff_bin()
    except FileNotFoundError:
        return None


def ruff_formatted(source: str) -> str:
    binary = _ruff()
    if binary is None:
        return source
    text = source
    for arguments in (_FIX, _FORMAT):
        try:
            done = subprocess.run([binary, *arguments], input=text, capture_output=True, text=True,
                                  timeout=RUFF_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return source
        if done.returncode != 0 or not done.stdout.strip():
            return source
        text = done.stdout
    return text
