"""One exception tree: every class in ``surestream.errors``, drawn in its docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import surestream
from surestream import errors


def _modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.walk_packages(surestream.__path__, "surestream."):
        if info.name.endswith("__main__"):
            continue
        try:
            found.append(importlib.import_module(info.name))
        except ImportError:  # an integration whose framework is not installed
            continue
    return found


def test_every_public_exception_of_the_package_is_one_of_the_tree() -> None:
    tree = {getattr(errors, name) for name in EXCEPTIONS}
    for module in _modules():
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__.startswith("surestream")
                and not name.startswith("_")
            ):
                assert obj in tree, f"{module.__name__}.{name} is not in surestream.errors"


EXCEPTIONS = [
    name
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), Exception)
]


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_each_class_is_under_surestream_error_and_drawn(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.SurestreamError)
    assert f" {name} " in errors.__doc__ or f"── {name}" in (errors.__doc__ or "")


def test_the_old_homes_re_export_the_same_classes() -> None:
    from surestream import hub, store
    from surestream.client import StreamError, StreamFailed, StreamInterrupted
    from surestream.gateway.errors import ApiError
    from surestream.gateway.settings import SettingsError
    from surestream.upstream import UpstreamHTTPError

    assert store.StreamNotFound is errors.StreamNotFound
    assert store.StoreUnavailable is errors.StoreUnavailable
    assert hub.HubClosed is errors.HubClosed
    assert (StreamError, StreamFailed, StreamInterrupted) == (
        errors.StreamError,
        errors.StreamFailed,
        errors.StreamInterrupted,
    )
    assert ApiError is errors.ApiError
    assert SettingsError is errors.SettingsError
    assert UpstreamHTTPError is errors.UpstreamHTTPError


def test_closed_and_broken_stay_apart() -> None:
    closed = (errors.JournalClosed, errors.HubClosed)
    broken = (errors.StoreUnavailable, errors.StreamInterrupted)
    assert not any(issubclass(a, b) or issubclass(b, a) for a in closed for b in broken)
    assert issubclass(errors.InvalidResumePoint, ValueError)
    assert issubclass(errors.StreamNotFound, LookupError)
