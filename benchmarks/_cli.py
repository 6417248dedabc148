"""The command line the benchmark scripts share: ``--help`` and where the results go."""

from __future__ import annotations

import argparse
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
