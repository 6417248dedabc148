"""The shape of ``surestream.check``: its facade, and the sans-IO promise of its rules."""

from __future__ import annotations

import subprocess
import sys

import surestream.check
from surestream.check import findings

PUBLIC = {
    "EXIT_OK",
    "EXIT_PROBLEM",
    "EXIT_UNREACHABLE",
    "OK",
    "PROBLEM",
    "WARNING",
    "EndSignal",
    "Finding",
    "NameSummary",
    "Recorder",
    "Recording",
    "Report",
    "Request",
    "ResumeRecording",
    "Thresholds",
    "Timing",
    "ainspect",
    "analyse",
    "build_request",
    "inspect",
    "render",
    "render_text",
    "replay",
}


def test_the_public_names_are_pinned_and_importable() -> None:
    # The order of __all__ is ruff's (RUF022, isort-style); the set is pinned here.
    assert len(surestream.check.__all__) == len(PUBLIC)
    assert set(surestream.check.__all__) == PUBLIC
    for name in surestream.check.__all__:
        assert hasattr(surestream.check, name)


def test_the_rules_import_no_io_library() -> None:
    code = (
        "import sys\n"
        "import surestream.check.findings, surestream.check.recording\n"
        "import surestream.check.report, surestream.check.resume, surestream.check.signals\n"
        "bad = {'asyncio', 'anyio', 'httpx', 'starlette', 'socket', 'uvicorn', 'rich'}\n"
        "print(sorted(bad & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_code_is_documented_in_the_findings_docstring() -> None:
    import re
    from pathlib import Path

    here = Path(findings.__file__).parent
    source = "".join(path.read_text() for path in sorted(here.glob("*.py")))
    used = set(re.findall(r'Finding\(\s*"([a-z_]+)"', source))
    doc = findings.__doc__ or ""
    assert used, "no finding codes found"
    assert {c for c in used if f"``{c}``" not in doc} == set()
