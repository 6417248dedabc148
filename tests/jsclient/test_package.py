"""The surestream npm package is ready to publish: ``npm pack`` ships exactly the client, its
declarations and README; the packed tarball installs, imports in Node through ``exports`` and
type-checks a typed example with ``tsc``; its ``surestream.js`` is the very file the gateway
serves (one source); its version is the Python package's."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx
import pytest

import surestream
from tests.support.browser import Gateway
from tests.support.node import JS_DIR, node_binary, run_node

PACKAGE_DIR = Path(surestream.__file__).parent / "gateway" / "static"
TSC = JS_DIR / "node_modules" / "typescript" / "bin" / "tsc"
SHIPPED = {"package.json", "README.md", "surestream.js", "surestream.d.ts"}


def npm(*args: str, cwd: Path) -> str:
    npm_path = shutil.which("npm")
    if npm_path is None:
        raise RuntimeError("npm not found: run `make test` (it installs Node.js when missing)")
    proc = subprocess.run(
        [npm_path, *args, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"npm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node_binary(), str(TSC), "-p", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pack")
    packed = json.loads(npm("pack", "--json", "--pack-destination", str(out), cwd=PACKAGE_DIR))
    return out / packed[0]["filename"]


@pytest.fixture(scope="module")
def installed(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh project with the tarball installed (offline: the package has no dependency)."""
    app = tmp_path_factory.mktemp("app")
    (app / "package.json").write_text('{"name": "app", "private": true, "type": "module"}')
    npm("install", "--offline", str(tarball), cwd=app)
    return app


def test_npm_pack_ships_the_client_its_types_and_readme(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = {name.removeprefix("package/") for name in tar.getnames()}
    assert names == SHIPPED
    manifest = json.loads((PACKAGE_DIR / "package.json").read_text())
    assert manifest["version"] == surestream.__version__
    assert manifest["exports"]["."] == {
        "types": "./surestream.d.ts",
        "default": "./surestream.js",
    }
    assert (manifest["type"], manifest["types"]) == ("module", "./surestream.d.ts")


def test_the_installed_tarball_imports_in_node_through_exports(installed: Path) -> None:
    script = installed / "check.mjs"
    script.write_text(
        'import * as sure from "surestream";\n'
        'import manifest from "surestream/package.json" with { type: "json" };\n'
        "console.log(JSON.stringify([Object.keys(sure).sort(), manifest.name]));\n"
    )
    exported, name = run_node(script)
    assert name == "surestream"
    assert {"stream", "Answer", "SSEDecoder", "StreamFailed", "StreamInterrupted"} <= set(exported)
    declared = (PACKAGE_DIR / "surestream.d.ts").read_text()
    missing = [n for n in exported if f" {n}" not in declared and f"{n}:" not in declared]
    assert missing == [], "every export is declared"


def test_a_typed_example_type_checks_against_the_packed_declarations(installed: Path) -> None:
    shutil.copy(JS_DIR / "typed_example.ts", installed)
    config = json.loads((JS_DIR / "tsconfig.json").read_text())
    (installed / "tsconfig.json").write_text(json.dumps(config))
    result = tsc(installed)
    # The example's `@ts-expect-error` lines would fail against `any`: the types are real.
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gateway_serves_the_file_the_package_ships(tarball: Path, gateway: Gateway) -> None:
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("package/surestream.js")
        assert member is not None
        shipped = member.read()
    served = httpx.get(f"{gateway.url}/static/surestream.js", timeout=10)
    assert served.status_code == 200
    assert served.content == shipped
