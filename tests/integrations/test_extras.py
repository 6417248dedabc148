"""Each framework comes with its own extra only; the core and the other adapters stay free of it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

FRAMEWORKS = {
    "adk": ({"google-adk"}, "google.adk", "adk"),
    "langgraph": ({"langgraph", "langchain-core"}, "langchain_core", "langgraph"),
    "openai-agents": ({"openai-agents"}, "agents", "openai_agents"),
    "pydantic-ai": ({"pydantic-ai-slim"}, "pydantic_ai", "pydantic_ai"),
}
"""extra -> (its framework's distributions, its top module, our adapter module)."""
FRAMEWORK_PACKAGES = set().union(*(names for names, _, _ in FRAMEWORKS.values()))
FRAMEWORK_MODULES = ["google.adk", "langgraph", "langchain_core", "agents", "pydantic_ai"]


def extra_requirements() -> dict[str | None, set[str]]:
    """Requirement names of surestream per extra (None: the core)."""
    out: dict[str | None, set[str]] = {}
    for line in requires("surestream") or []:
        req = Requirement(line)
        extra = None
        if req.marker is not None:
            extra = next(
                (e for e in [*FRAMEWORKS, "test"] if req.marker.evaluate({"extra": e})), None
            )
            if extra is None:
                extra = "other"
        if req.name != "surestream":
            out.setdefault(extra, set()).add(req.name)
    return out


@pytest.mark.parametrize("extra", list(FRAMEWORKS))
def test_each_extra_brings_its_own_framework_and_no_other(extra: str) -> None:
    names, _, _ = FRAMEWORKS[extra]
    assert extra_requirements()[extra] & FRAMEWORK_PACKAGES == names


def test_the_core_requires_no_framework() -> None:
    assert not extra_requirements()[None] & FRAMEWORK_PACKAGES


def loaded_after(code: str) -> list[str]:
    check = (
        f"import sys\n{code}\nprint(sorted(m for m in {FRAMEWORK_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return list(eval(out.stdout.strip()))


def test_the_core_and_the_server_import_no_framework() -> None:
    code = (
        "import surestream, surestream.integrations, surestream.server, surestream.client\n"
        "import surestream.gateway.app, surestream.cli"
    )
    assert loaded_after(code) == []


@pytest.mark.parametrize("extra", list(FRAMEWORKS))
def test_an_adapter_imports_no_other_framework(extra: str) -> None:
    _, module, name = FRAMEWORKS[extra]
    adapter = f"surestream.integrations.{name}"
    others = {m for m in FRAMEWORK_MODULES if not m.startswith(module.partition(".")[0])}
    assert not set(loaded_after(f"import {adapter}")) & others


@pytest.mark.parametrize("extra", list(FRAMEWORKS))
def test_without_its_framework_an_adapter_names_the_extra_to_install(extra: str) -> None:
    _, module, name = FRAMEWORKS[extra]
    adapter = f"surestream.integrations.{name}"
    code = (
        f"import sys\nsys.modules[{module.partition('.')[0]!r}] = None\n"
        f"try:\n    import {adapter}\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert f"pip install 'surestream[{extra}]'" in out.stdout, out.stdout + out.stderr


def test_surestream_adk_without_its_extra_exits_2_with_the_install_line(tmp_path: Path) -> None:
    code = (
        "import sys\nsys.modules['google'] = None\n"
        "from surestream.cli import main\n"
        f"raise SystemExit(main(['adk', {str(tmp_path)!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "surestream adk" in out.stderr and "pip install 'surestream[adk]'" in out.stderr
