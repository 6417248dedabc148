"""The public facade, the sans-IO promise of the bottom layers, one value per public constant."""

import importlib
import pkgutil
import subprocess
import sys
from types import ModuleType

import surestream


def test_all_is_sorted_and_importable() -> None:
    assert list(surestream.__all__) == sorted(surestream.__all__)
    for name in surestream.__all__:
        assert hasattr(surestream, name)


def test_sans_io_layers_import_no_io_library() -> None:
    code = (
        "import sys\n"
        "import surestream.sse, surestream.events, surestream.dialects, surestream.lifecycle\n"
        "bad = {'asyncio', 'anyio', 'httpx', 'starlette', 'socket', 'uvicorn', 'redis'}\n"
        "print(sorted(bad & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _public_modules() -> list[str]:
    names = ["surestream"]
    for info in pkgutil.walk_packages(surestream.__path__, "surestream."):
        parts = info.name.split(".")
        if not any(part.startswith("_") for part in parts):
            names.append(info.name)
    return names


def test_no_two_public_constants_share_a_name_with_different_values() -> None:
    values: dict[str, dict[str, object]] = {}
    for name in _public_modules():
        module = importlib.import_module(name)
        for constant in getattr(module, "__all__", []):
            value = getattr(module, constant)
            if constant.isupper() and not callable(value) and not isinstance(value, ModuleType):
                values.setdefault(constant, {})[name] = value
    clashes = {
        constant: where
        for constant, where in values.items()
        if any(value != next(iter(where.values())) for value in where.values())
    }
    assert clashes == {}
