"""``make serve`` on a first run says what it installs before it installs it.

``make -n`` prints the recipe lines make would run, in order, without running them: in a
copy of the Makefile with no ``.venv`` (a first run) and with an installed one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


_MAKE_STATE = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}
"""What a parent ``make`` (``make test``) passes down; a sub-make would then print its
"Entering directory" lines."""


def _make(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _MAKE_STATE}
    return subprocess.run(
        ["make", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


def _plan(directory: Path) -> list[str]:
    run = _make("-n", "serve", cwd=directory)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_a_first_make_serve_announces_each_install_step_before_it(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    plan = _plan(tmp_path)
    venv = next(i for i, line in enumerate(plan) if " -m venv " in line)
    install = next(i for i, line in enumerate(plan) if "uv pip install" in line)
    assert plan[venv - 1].startswith('echo "First run: creating .venv')
    assert plan[install - 1].startswith('echo "Installing surestream')
    assert plan[-1].startswith(".venv/bin/surestream serve")


def test_once_installed_make_serve_only_serves(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    uv = tmp_path / ".venv" / "bin" / "uv"
    uv.parent.mkdir(parents=True)
    uv.touch(mode=0o755)
    (tmp_path / ".venv" / ".installed-run").touch()
    assert _plan(tmp_path) == [".venv/bin/surestream serve --demo-reasoning  || [ $? -eq 3 ]"]


def test_make_serve_on_a_taken_port_prints_only_the_line_that_names_it() -> None:
    """No ``make: *** [serve] Error`` after serve's own line: make ends quietly on status 3.

    ``-o`` keeps make from reinstalling: the test command has just installed the venv.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _make("-s", "-o", ".venv/.installed-run", "serve", f"ARGS=--port {port}", cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"surestream serve: port {port} on 127.0.0.1 is already in use; pick another port: "
        f'make serve ARGS="--port {port + 1}" (or surestream serve --port {port + 1})'
    ]
