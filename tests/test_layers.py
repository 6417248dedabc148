"""The layers of design.md, read from the source: every import points down, the core does no I/O.

Each module's imports are parsed (``ast``, every import statement, ``TYPE_CHECKING`` ones and
those inside functions included), so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"

LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("_closing", "_extras", "_chunked"),
    ("surestream",),
    ("sse",),
    ("events",),
    ("lifecycle",),
    ("dialects", "conformance"),
    ("upstream", "_watchdog"),
    ("store",),
    ("hub",),
    ("server", "testing"),
    ("client", "check"),
    ("gateway", "integrations"),
    ("cli",),
]
"""design.md's layers, bottom up. Parts on one line sit beside each other: neither imports
the other (``integrations`` beside the gateway). ``surestream`` is the top-level facade, which
re-exports the errors; ``_closing``, ``_extras`` and ``_chunked`` are helpers (``_extras``
raises one of the errors; ``_chunked``, the sans-IO chunked decoder the client's transport
and the upstream's connection share, raises another)."""

CORE = {part for layer in LAYERS[:7] for part in layer}
"""``pip install surestream``: what works with orjson alone."""

IO_LIBRARIES = {
    "aiohttp",
    "anyio",
    "asyncio",
    "fastapi",
    "h11",
    "http",
    "httpcore",
    "httpx",
    "redis",
    "requests",
    "selectors",
    "socket",
    "ssl",
    "starlette",
    "trio",
    "urllib3",
    "uvicorn",
}
CORE_THIRD_PARTY = {"orjson"}


def _part(module: str) -> str:
    """``surestream.dialects.native`` -> ``dialects``; the facade -> ``surestream``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "surestream"


RANK = {part: rank for rank, layer in enumerate(LAYERS) for part in layer}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "surestream").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports (absolute names; relative ones resolved)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            submodules = {f"{base}.{alias.name}" for alias in node.names} & set(MODULES)
            found.update(submodules or {base})
    return found


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {_part(module) for module in MODULES} == set(RANK)


def _upward(module: str) -> list[str]:
    """The imports of ``module`` that do not point down (its own part excepted)."""
    own = _part(module)
    return sorted(
        name
        for name in _imports(module)
        if name.split(".")[0] == "surestream"
        and _part(name) != own
        and RANK[_part(name)] >= RANK[own]
    )


def _core_violations(module: str) -> set[str]:
    """I/O libraries and third-party packages other than orjson that ``module`` imports."""
    tops = {name.split(".")[0] for name in _imports(module)}
    third_party = tops - set(sys.stdlib_module_names) - {"surestream", "__future__"}
    return (tops & IO_LIBRARIES) | (third_party - CORE_THIRD_PARTY)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_point_down(module: str) -> None:
    assert _upward(module) == [], f"{module} imports a layer at or above its own"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m) in CORE))
def test_the_core_imports_no_io_library_and_only_orjson(module: str) -> None:
    assert _core_violations(module) == set()


def test_the_rules_see_an_upward_import_and_an_io_library(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\nimport orjson\n"
        "if TYPE_CHECKING:\n    from surestream.client import aconnect\n"
        "def later() -> None:\n    import asyncio\n    from surestream import gateway\n"
    )
    saved = MODULES["surestream.sse"]
    MODULES["surestream.sse"] = probe
    try:
        assert _upward("surestream.sse") == ["surestream.client", "surestream.gateway"]
        assert _core_violations("surestream.sse") == {"asyncio"}
    finally:
        MODULES["surestream.sse"] = saved
