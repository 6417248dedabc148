"""Run the real npm clients of ``tests/js`` (installed by ``make test`` with ``npm ci``) in Node.

``run_node(script, *args)`` runs a Node ES module -- a file of ``tests/js`` or inline source,
which then resolves its imports from ``tests/js/node_modules`` -- and returns the JSON value
printed on its last line of output. ``read_ui_stream(url, ...)`` reads a UI message stream
the way the AI SDK's ``DefaultChatTransport`` does (every chunk validated against
``uiMessageChunkSchema``, the message built by ``readUIMessageStream``); ``read_ui_streams``
reads several in one Node process (``data:`` URLs work too, for bytes without a server).
``run_esbuild(argv, cwd)`` runs an esbuild command line with the kit's packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parents[1] / "js"
"""The Node test kit: package.json, package-lock.json, the scripts, node_modules."""


def node_binary() -> str:
    """The ``node`` path, after checking that ``tests/js`` was installed."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not found: run `make test` (it installs Node.js when missing)")
    if not (JS_DIR / "node_modules" / ".package-lock.json").exists():
        raise RuntimeError("tests/js/node_modules missing: run `make test` (it runs `npm ci`)")
    return node


def run_node(
    script: str | Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Any:
    """Run ``script`` (a path, or ES module source) with ``args``; its last line as JSON.

    A non-zero exit or output that does not end in JSON raises ``AssertionError`` with what
    Node printed, so a failing script reads as a failing test.
    """
    argv = [node_binary()]
    source: str | None = None
    if isinstance(script, Path):
        argv.append(str(script))
    else:
        argv += ["--input-type=module", "-"]
        source = script
    proc = subprocess.run(
        [*argv, *args],
        input=source,
        capture_output=True,
        text=True,
        cwd=JS_DIR,
        env=env,
        timeout=timeout,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"node exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        raise AssertionError(f"node printed no JSON last:\n{proc.stdout}\n{proc.stderr}") from None


def read_ui_stream(url: str, init: dict[str, Any] | None = None) -> dict[str, Any]:
    """``fetch(url, init)`` read by the AI SDK: status, headers, chunks, invalid, message, ..."""
    result: dict[str, Any] = run_node(JS_DIR / "read_ui_stream.mjs", url, json.dumps(init or {}))
    return result


BUNDLE = """
import { build } from "esbuild";
const result = await build({
  stdin: { contents: process.argv[2], resolveDir: process.cwd(), loader: "js" },
  bundle: true, format: "iife", platform: "browser", write: false, logLevel: "silent",
});
console.log(JSON.stringify(result.outputFiles[0].text));
"""


def bundle_for_browser(entry_source: str) -> str:
    """``entry_source`` (an ES module importing from ``tests/js``) bundled by esbuild for a page."""
    code: str = run_node(BUNDLE, entry_source)
    return code


def read_ui_streams(requests: list[tuple[str, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """``read_ui_stream`` of each ``(url, init)``, in order, in one Node process."""
    many = json.dumps([[url, init or {}] for url, init in requests])
    results: list[dict[str, Any]] = run_node(JS_DIR / "read_ui_stream.mjs", "--many", many)
    return results


def run_esbuild(argv: list[str], cwd: Path) -> None:
    """The esbuild command line ``argv`` (without ``esbuild``) run in ``cwd`` by the kit's
    esbuild, bare imports resolved from ``tests/js/node_modules`` (``NODE_PATH``)."""
    node_binary()
    esbuild = JS_DIR / "node_modules" / ".bin" / "esbuild"
    env = {**os.environ, "NODE_PATH": str(JS_DIR / "node_modules")}
    proc = subprocess.run(
        [str(esbuild), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise AssertionError(f"esbuild exited {proc.returncode}:\n{proc.stderr}")
