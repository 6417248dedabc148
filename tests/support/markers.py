"""Which tests start other processes or run long: the ``multiprocess`` and ``slow`` markers,
applied in one place.

``make test`` runs everything; ``make test-fast`` runs ``-m "not multiprocess and not slow"``:
the sans-IO suites (property tests with ``FAST_EXAMPLES`` examples) and those whose servers
run in the test's own process (uvicorn in a thread), in about 45 s of CPU. A test is multiprocess
when its node id starts with one of ``MULTIPROCESS`` or it uses one of
``MULTIPROCESS_FIXTURES`` (or the Redis variant of a parametrized fixture such as
``make_store``); slow when its node id starts with one of ``SLOW``. In a fast run, starting
a process fails the test with a message pointing here (``refuse_processes``), so a new test
that forgets its mark cannot slip into ``make test-fast``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import settings

MULTIPROCESS = (
    "tests/browser/",
    "tests/chaos/",
    "tests/cli/",
    "tests/examples/",
    "tests/integrations/",
    "tests/jsclient/",
    "tests/check/test_package.py::test_the_rules_import_no_io_library",
    "tests/dialects/test_vercel_ai_agent.py::test_the_ai_sdk_reads_every_golden_stream",
    "tests/gateway/test_anthropic_sdk.py::test_the_npm_sdk_streams_and_raises_on_a_failure",
    "tests/gateway/test_clients_to_anthropic.py::test_use_chat_runs_a_tool_turn",
    "tests/gateway/test_fetch_event_source.py",
    "tests/gateway/test_front_ends.py",
    "tests/gateway/test_connections.py",
    "tests/gateway/test_instances.py",
    "tests/gateway/test_npm_clients.py",
    "tests/gateway/test_ui_chat.py",
    "tests/gateway/test_use_chat_upstreams.py",
    "tests/gateway/test_vercel_ai_agent.py",
    "tests/hub/test_redis_failures.py",
    "tests/security/test_bad_input.py",
    "tests/server/test_shutdown.py::test_sigterm_ends_every_open_stream_with_server_shutdown",
    "tests/server/test_vercel_ai_resume.py",
    "tests/store/test_redis_multiplex.py",
    "tests/test_makefile.py",
    "tests/test_package.py",
    "tests/test_wheel.py",
    "tests/upstream/test_fake_upstream.py::test_module_app_runs_under_uvicorn_in_a_process",
)
"""Node id prefixes (directories, files, tests) of the suites that run Chromium, Node, nginx,
redis-server, a uvicorn or gateway process, or ``python -c``."""

MULTIPROCESS_FIXTURES = frozenset({"gallery", "own_redis", "redis_server"})
"""Fixtures that start a process (the check gallery's uvicorn, a redis-server)."""

SLOW = (
    "tests/gateway/test_langchain_openai.py",
    "tests/gateway/test_openapi.py::test_schemathesis",
    "tests/gateway/test_random_resume.py",
    "tests/security/test_security.py::test_fresh_stream_ids_carry",
    "tests/security/test_security.py::test_ids_the_gateway_hands_out_look_random",
    "tests/test_errors.py::test_every_public_exception_of_the_package_is_one_of_the_tree",
)
"""Node id prefixes of single-process tests that take seconds to tens of seconds
(schemathesis, the randomized resume campaign, the statistics of stream ids, importing every
module, the agent frameworks included, and langchain-openai: importing langchain costs each
pytest process seconds)."""


FAST_EXAMPLES = 20
"""Examples per property test in a fast run (hypothesis' default, 100, in ``make test``)."""

FULL_EXAMPLES = 100
"""Examples per property test in ``make test`` (hypothesis' default)."""


def examples(n: int) -> int:
    """The examples a property test that asks for ``n`` runs: ``n`` in ``make test``; in a fast
    run the same share of ``n`` as the fast profile takes of the default (a fifth), at least 1.

    Read when the test module is imported, after ``pytest_configure`` loaded the profile; an
    explicit ``settings(max_examples=n)`` would otherwise override the fast profile.
    """
    return max(1, n * settings.default.max_examples // FULL_EXAMPLES)


def is_multiprocess(item: pytest.Item) -> bool:
    """Whether ``item`` starts (or needs) another process."""
    if item.nodeid.startswith(MULTIPROCESS):
        return True
    if MULTIPROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "redis" in callspec.params.values()


def mark(items: list[pytest.Item]) -> None:
    """Add the ``multiprocess`` and ``slow`` markers to every item that needs them."""
    for item in items:
        if is_multiprocess(item):
            item.add_marker("multiprocess")
        if item.nodeid.startswith(SLOW):
            item.add_marker("slow")


def skip_in_fast_run(path: str) -> bool:
    """Whether a fast run need not even collect ``path``: a directory or a file that is
    multiprocess or slow as a whole (collecting it would import Playwright, the agent
    frameworks or an SDK for nothing)."""
    path = path.replace("\\", "/").rstrip("/")
    return any(path.endswith("/" + p.rstrip("/")) for p in (*MULTIPROCESS, *SLOW) if "::" not in p)


def fast_run(config: pytest.Config) -> bool:
    """True when this run leaves the multiprocess tests out (``make test-fast``)."""
    return "not multiprocess" in (config.option.markexpr or "")


@contextmanager
def refuse_processes() -> Iterator[None]:
    """Make starting a process fail, naming where to mark the test."""

    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
        raise RuntimeError(
            f"this test starts a process ({args!r}) in a fast run: add it to MULTIPROCESS "
            "or MULTIPROCESS_FIXTURES in tests/support/markers.py"
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse)
        yield
