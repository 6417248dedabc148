"""The public facade and the sans-IO promise of the bottom layers."""

import subprocess
import sys

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
