"""``python -m surestream.cli``: the same as the ``surestream`` command."""

from surestream.cli import main

raise SystemExit(main())
