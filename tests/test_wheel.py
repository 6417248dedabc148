"""The wheel as users install it: the core pulls orjson only, each extra only its layer.

The wheel is built (``uv build``) and installed into fresh virtual environments (``uv venv``,
``uv pip install``, which takes the few packages from its cache). Each environment then
imports parts of surestream in a subprocess and reports what it loaded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from surestream._extras import EXTRAS

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).parents[1]
SERVER_OR_REDIS = {
    "fastapi",
    "hiredis",
    "prometheus-client",
    "pydantic",
    "redis",
    "sse-starlette",
    "starlette",
    "uvicorn",
}
"""Distributions neither the core nor the ``[client]`` extra may pull in."""


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    assert found, "uv is missing: `make test` installs it into .venv"
    return found


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@dataclass
class Env:
    """A fresh virtual environment with the wheel installed."""

    python: Path

    def distributions(self) -> set[str]:
        """Names of the installed distributions (normalised)."""
        frozen = _run(_uv(), "pip", "freeze", "--python", self.python).stdout
        names = {line.split("==")[0].split(" @ ")[0].strip() for line in frozen.splitlines()}
        return {name.lower().replace("_", "-") for name in names if name}

    def probe(self, code: str) -> object:
        """Run ``code`` (it prints one JSON document) and return what it printed."""
        done = subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return orjson.loads(done.stdout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(_uv(), "build", "--wheel", "--out-dir", out, ROOT)
    (built,) = out.glob("surestream-*.whl")
    return built


def _env(tmp_path_factory: pytest.TempPathFactory, wheel: Path, extras: str) -> Iterator[Env]:
    home = tmp_path_factory.mktemp(f"venv-{extras or 'core'}")
    _run(_uv(), "venv", "--quiet", "--python", sys.executable, home / "venv")
    python = home / "venv" / "bin" / "python"
    spec = f"surestream[{extras}] @ {wheel.as_uri()}" if extras else str(wheel)
    _run(_uv(), "pip", "install", "--quiet", "--python", python, spec)
    yield Env(python)


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[Env]:
    yield from _env(tmp_path_factory, wheel, "")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[Env]:
    yield from _env(tmp_path_factory, wheel, "client")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[Env]:
    yield from _env(tmp_path_factory, wheel, "gateway")


@pytest.fixture(scope="module")
def check(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[Env]:
    yield from _env(tmp_path_factory, wheel, "check")


LOADED = (
    "import sys, json\n{imports}\n"
    "print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))\n"
)
IO_MODULES = ["anyio", "asyncio", "h11", "httpx", "redis", "socket", "starlette", "uvicorn"]


def test_the_core_is_orjson_only(core: Env) -> None:
    assert core.distributions() == {"orjson", "surestream"}


def test_the_sans_io_core_imports_without_asyncio(core: Env) -> None:
    imports = (
        "import surestream, surestream.sse, surestream.events, surestream.lifecycle\n"
        "import surestream.dialects, surestream.conformance, surestream.check"
    )
    assert core.probe(LOADED.format(imports=imports, watched=IO_MODULES)) == []


def test_each_io_layer_names_the_extra_to_install(core: Env) -> None:
    layers = {
        "surestream.client": "client",
        "surestream.upstream": "client",
        "surestream.server": "server",
        "surestream.testing": "server",
        "surestream.store.redis": "redis",
        "surestream.gateway.app": "gateway",
        "surestream.cli.serve": "gateway",
        "surestream.cli.check": "check",
        "surestream.cli.tail": "check",
        "surestream.cli.adk": "adk",
        "surestream.integrations.adk": "adk",
        "surestream.integrations.langgraph": "langgraph",
        "surestream.integrations.openai_agents": "openai-agents",
        "surestream.integrations.pydantic_ai": "pydantic-ai",
    }
    code = (
        "import importlib, json\nout = {}\n"
        f"for name in {list(layers)!r}:\n"
        "    try:\n        importlib.import_module(name)\n"
        "    except ImportError as exc:\n        out[name] = str(exc)\n"
        "print(json.dumps(out))\n"
    )
    messages = core.probe(code)
    assert isinstance(messages, dict) and set(messages) == set(layers)
    for name, extra in layers.items():
        assert f"pip install 'surestream[{extra}]'" in messages[name], name


def test_the_command_without_its_extra_exits_2_with_the_install_line(core: Env) -> None:
    command = core.python.parent / "surestream"
    done = subprocess.run([command, "serve"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "pip install 'surestream[gateway]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_client_extra_adds_no_server_or_redis_package(client: Env) -> None:
    installed = client.distributions()
    assert {"httpx", "anyio", "h11"} <= installed
    assert not installed & SERVER_OR_REDIS
    loaded = client.probe(
        LOADED.format(imports="import surestream.client", watched=["starlette", "redis", "rich"])
    )
    assert loaded == []


def test_the_client_extra_provides_the_modules_it_is_named_for(client: Env) -> None:
    code = (
        "import importlib.util, json\n"
        f"print(json.dumps([m for m in {sorted(EXTRAS['client'])!r} "
        "if importlib.util.find_spec(m) is None]))\n"
    )
    assert client.probe(code) == []


def test_the_gateway_extra_is_enough_to_build_the_app_and_run_serve(gateway: Env) -> None:
    code = (
        "import json\nfrom surestream.gateway.app import create_app\n"
        "from surestream.gateway.settings import Settings\n"
        "app = create_app(Settings(store='redis://127.0.0.1:1/0'))\n"
        "print(json.dumps('/v1/chat/completions' in app.openapi()['paths']))\n"
    )
    assert gateway.probe(code) is True
    command = gateway.python.parent / "surestream"
    done = subprocess.run([command, "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--max-streams" in done.stdout, done.stderr


def test_the_check_extra_is_enough_for_check_and_tail(check: Env) -> None:
    command = check.python.parent / "surestream"
    for name in ("check", "tail"):
        done = subprocess.run([command, name, "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "usage: surestream " + name in done.stdout, done.stderr
    assert not check.distributions() & SERVER_OR_REDIS
