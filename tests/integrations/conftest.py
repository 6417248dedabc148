"""Fixtures of the framework adapter tests: the marker directory the fake models write to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integrations.fakes import MARKERS_ENV


@pytest.fixture
def markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory where fake models mark cancelled calls (``$SURESTREAM_TEST_MARKERS``)."""
    directory = tmp_path / "markers"
    directory.mkdir()
    monkeypatch.setenv(MARKERS_ENV, str(directory))
    return directory
