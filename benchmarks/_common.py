"""What the benchmark scripts share: the command line, a free port, the machine's CPU."""

from __future__ import annotations

import argparse
import contextlib
import platform
import socket
from pathlib import Path


def results_path(doc: str | None, default: Path) -> Path:
    """Parse ``sys.argv`` (``--help``, ``--out FILE``); the JSON results file to write."""
    parser = argparse.ArgumentParser(
        description=(doc or "").strip(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=default, help=f"the JSON results file (default: {default})"
    )
    out: Path = parser.parse_args().out
    return out


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), for the results' machine line."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"
