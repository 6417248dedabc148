"""The ``surestream`` console script itself, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

SURESTREAM = Path(sys.executable).with_name("surestream")
"""The console script the package installs beside this interpreter."""


def test_version_prints_the_installed_version_and_exits_0() -> None:
    for flag in ("--version", "-V"):
        run = subprocess.run([SURESTREAM, flag], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout == f"surestream {version('surestream')}\n"
        assert run.stderr == ""


def test_help_lists_the_version_flag() -> None:
    run = subprocess.run([SURESTREAM, "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert "--version" in run.stdout and "serve" in run.stdout
