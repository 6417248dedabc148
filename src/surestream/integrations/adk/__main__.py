"""``python -m surestream.integrations.adk AGENTS_DIR``: the same as ``surestream adk``."""

from __future__ import annotations

import sys

from surestream.integrations.adk._serve import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
