"""``surestream serve`` as a user runs it: a subprocess, its printed ``curl -N`` line run by the
real curl, SIGTERM, and settings from flags, ``SURESTREAM_*`` and a TOML file.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from surestream.cli.serve import CANNOT_LISTEN
from surestream.gateway.settings import (
    Settings,
    SettingsError,
    load_settings,
    setting_flag,
    value_shape,
)
from tests.support.servers import ServerProcess, command_process

SERVE = [sys.executable, "-m", "surestream.cli", "serve"]
READY = "curl -N "
"""The last line `surestream serve` prints once it listens."""
KEY = "sk-serve-test-000000000001"


def _curl_line(server: ServerProcess) -> str:
    lines = [line.strip() for line in server.output if line.strip().startswith("curl -N ")]
    assert len(lines) == 1, "".join(server.output)
    return lines[0]


def _listening_url(server: ServerProcess) -> str:
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", "".join(server.output))
    assert found, "".join(server.output)
    return found.group(1)


def _native_events(stdout: str) -> list[dict[str, object]]:
    return [orjson.loads(line[6:]) for line in stdout.splitlines() if line.startswith("data: ")]


@pytest.fixture
def served() -> Iterator[ServerProcess]:
    argv = [*SERVE, "--port", "0", "--demo-tokens-per-second", "200"]
    with command_process(argv, port=0, ready_text=READY) as server:
        yield server


def test_printed_curl_line_streams_an_answer_ending_in_done(served: ServerProcess) -> None:
    line = _curl_line(served)
    url = _listening_url(served)
    assert line.startswith(f"curl -N {url}/v1/chat/stream ")
    curl = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60)
    assert curl.returncode == 0, curl.stderr
    events = _native_events(curl.stdout)
    assert events[0]["type"] == "start"
    assert events[-1] == {
        "type": "done",
        "done": True,
        "finish_reason": "stop",
        "usage": events[-1]["usage"],
    }
    assert sum(e["type"] == "text" for e in events) > 3
    assert served.stop(signal.SIGTERM) == 0
    output = "".join(served.output)
    assert "Traceback" not in output
    assert "Application shutdown complete" in output


def test_sigterm_ends_open_streams_with_server_shutdown_and_exits_0() -> None:
    argv = [*SERVE, "--port", "0", "--demo-tokens-per-second", "2"]
    with command_process(argv, port=0, ready_text=READY) as server:
        url = _listening_url(server)
        body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.stream("POST", f"{url}/v1/chat/stream", json=body, timeout=30) as response:
            lines = response.iter_lines()
            for text in lines:
                if '"type":"text"' in text:
                    break
            server.proc.send_signal(signal.SIGTERM)
            rest = [orjson.loads(t[6:]) for t in lines if t.startswith("data: ")]
        assert server.stop() == 0
    assert rest[-1]["type"] == "error"
    error = rest[-1]["error"]
    assert isinstance(error, dict)
    assert error["code"] == "server_shutdown" and error["retryable"] is True


def test_with_an_api_key_the_curl_line_uses_it(tmp_path: Path) -> None:
    env = {"SURESTREAM_API_KEYS": KEY, "SURESTREAM_DEMO_TOKENS_PER_SECOND": "0"}
    with command_process([*SERVE, "--port", "0"], port=0, ready_text=READY, env=env) as server:
        line = _curl_line(server)
        assert '-H "Authorization: Bearer $KEY"' in line
        with_key = subprocess.run(
            ["bash", "-c", line],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "KEY": KEY},
        )
        without = subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, timeout=60, env={**os.environ}
        )
        assert server.stop() == 0
    assert _native_events(with_key.stdout)[-1]["type"] == "done"
    assert orjson.loads(without.stdout)["error"]["code"] == "unauthorized"
    assert KEY not in "".join(server.output)


def test_env_and_toml_configure_the_server(tmp_path: Path) -> None:
    config = tmp_path / "surestream.toml"
    config.write_text('max_messages = 1\ndemo_tokens_per_second = 0\napi_keys = ["sk-file"]\n')
    env = {"SURESTREAM_API_KEYS": KEY}
    argv = [*SERVE, "--port", "0", "--config", str(config)]
    with command_process(argv, port=0, ready_text=READY, env=env) as server:
        url = _listening_url(server)
        auth = {"Authorization": f"Bearer {KEY}"}
        message = {"role": "user", "content": "hi"}
        one = httpx.post(
            f"{url}/v1/streams", json={"model": "demo", "messages": [message]}, headers=auth
        )
        two = httpx.post(
            f"{url}/v1/streams", json={"model": "demo", "messages": [message] * 2}, headers=auth
        )
        file_key = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer sk-file"})
        assert server.stop() == 0
    assert one.status_code == 201
    assert two.status_code == 422 and "max_messages" in two.json()["error"]["message"]
    assert file_key.status_code == 401  # the environment's keys replace the file's


@pytest.mark.parametrize(
    ("args", "env", "setting"),
    [
        (["--port", "70000"], {}, "port"),
        (["--port", "abc"], {}, "--port"),
        (["--store", "postgres://x"], {}, "store"),
        (["--upstream", "oops"], {}, "--upstream"),
        (["--upstream", "x=ftp://host"], {}, "upstreams"),
        (["--model", "m=nowhere"], {}, "models"),
        (["--heartbeat", "-1"], {}, "heartbeat"),
        (["--idle-timeout", "0"], {}, "idle_timeout"),
        (["--retention", "0"], {}, "retention"),
        (["--max-body-bytes", "0"], {}, "max_body_bytes"),
        (["--max-streams", "-3"], {}, "max_streams"),
        (["--read-token-ttl", "0"], {}, "read_token_ttl"),
        (["--log-level", "loud"], {}, "log_level"),
        ([], {"SURESTREAM_PORT": "abc"}, "port"),
        ([], {"SURESTREAM_MAX_MESSAGES": "0"}, "max_messages"),
        ([], {"SURESTREAM_DEMO": "perhaps"}, "demo"),
        (["--config", "/nonexistent/surestream.toml"], {}, "config file"),
    ],
)
def test_a_wrong_setting_exits_2_naming_it(
    args: list[str], env: dict[str, str], setting: str
) -> None:
    done = subprocess.run(
        [*SERVE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert setting in done.stderr
    assert "Traceback" not in done.stderr
    if env:
        assert "(from environment)" in done.stderr


def test_a_wrong_toml_value_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('heartbeat = "often"\nnot_a_setting = 1\n')
    done = subprocess.run(
        [*SERVE, "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert f"setting 'heartbeat' (from {config})" in done.stderr
    assert "setting 'not_a_setting'" in done.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("heartbeat = \n")
    done = subprocess.run(
        [*SERVE, "--config", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and str(broken) in done.stderr


def test_precedence_is_flags_then_environment_then_file(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        "demo_tokens_per_second = 5\nheartbeat = 3\nretention = 7\n"
        '[upstreams]\nOpenAI = "http://127.0.0.1:9/v1"\n'
    )
    env = {
        "SURESTREAM_HEARTBEAT": "4",
        "SURESTREAM_RETENTION": "8",
        "SURESTREAM_IDLE_TIMEOUT": "none",
        "SURESTREAM_CORS_ORIGINS": "https://a.example, https://b.example",
        "SURESTREAM_UPSTREAM_KEY_OPENAI": "sk-up",
        "SURESTREAM_MODELS": "gpt=OpenAI:gpt-4o-mini,small=OpenAI",
        "OTHER_RETENTION": "1",
    }
    settings = load_settings(flags={"retention": 9.0, "port": None}, env=env, config_file=config)
    assert settings.demo_tokens_per_second == 5
    assert settings.heartbeat == 4
    assert settings.retention == 9
    assert settings.idle_timeout is None
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.upstream_api_keys["OpenAI"].get_secret_value() == "sk-up"
    assert settings.model_routes() == {
        "demo": ("demo", "demo"),
        "gpt": ("OpenAI", "gpt-4o-mini"),
        "small": ("OpenAI", "small"),
    }
    assert "sk-up" not in repr(settings)
    assert load_settings(env={}) == Settings()
    with pytest.raises(SettingsError, match="setting 'heartbeat' \\(from environment\\)"):
        load_settings(env={"SURESTREAM_HEARTBEAT": "soon"}, config_file=config)


def test_every_setting_has_an_environment_name_and_a_flag_derived_from_the_model() -> None:
    from surestream.cli.serve import _flags, build_parser

    parser = build_parser()
    for name, field in Settings.model_fields.items():
        value = {"api_keys": "k1", "cors_origins": "https://x", "upstreams": "u=http://h"}.get(name)
        if name not in {"upstream_api_keys", "models", "upstream_kinds"}:
            loaded = load_settings(env={f"SURESTREAM_{name.upper()}": value or _sample(name)})
            assert name in loaded.model_fields_set, name
        flag = setting_flag(name, field)
        if flag.name is None:
            assert name in {"upstream_api_keys", "token_secret"}, name
            continue
        if value_shape(field) == "bool":  # the flag that changes the default
            args = [flag.name.replace("--", "--no-", 1) if field.default else flag.name]
        elif name == "models":
            args = ["--upstream", "u=http://h", flag.name, "m=u:x"]
        elif name == "upstream_kinds":
            args = ["--upstream", "u=http://h", flag.name, "u=anthropic"]
        else:
            args = [flag.name, value or _sample(name)]
        loaded = load_settings(flags=_flags(parser.parse_args(args)), env={})
        assert name in loaded.model_fields_set, name
        assert loaded != Settings(), name


def test_the_readme_table_is_the_settings_model() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme[readme.index("| setting (TOML key") :].split("\n\n")[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.+?) \| (.+?) \| .+ \|$", table, re.M)
    assert sorted(name for name, _, _ in rows) == sorted(Settings.model_fields)
    for name, flag_cell, default_cell in rows:
        field = Settings.model_fields[name]
        flag = setting_flag(name, field).name
        assert (flag or "env") in flag_cell.replace("--no-", "--"), name
        shown = _shown(field.get_default(call_default_factory=True))
        if shown is not None:
            assert default_cell.split()[0].strip("`") == shown, name


def _shown(default: object) -> str | None:
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, int | str):
        return str(default)
    return None


def _sample(name: str) -> str:
    field = Settings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, bool):
        return str(not default).lower()
    if isinstance(default, int | float):
        return str(default + 1)
    if name == "store":
        return "redis://127.0.0.1:1/0"
    if name == "log_level":
        return "debug"
    return "x"


def test_a_busy_port_is_one_line_naming_it_and_the_flag_to_pick_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [*SERVE, "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert run.returncode == CANNOT_LISTEN
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in run.stderr
    assert f'make serve ARGS="--port {port + 1}"' in run.stderr
    assert "Traceback" not in run.stderr
