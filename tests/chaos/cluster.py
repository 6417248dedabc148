"""The campaign's deployment on loopback: redis-server, the fake upstream, two gateway
processes and nginx in front of them, each a real process that the campaign can kill,
terminate and restart on the same port.

nginx runs in the foreground with ``deploy/nginx/surestream.conf`` as shipped, rewritten
only where it must be (``nginx_config``): the two gateway ports, the listen port and the
access log path; the main context (error log, pid, temp paths) is written around it. Every
process's output is kept (``outputs``), including that of processes already stopped, so the
campaign can scan all of it for secrets afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.servers import (
    UVICORN_READY,
    ServerProcess,
    command_process,
    free_port,
    redis_server_binary,
    serve_argv,
)

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "surestream.conf"

SEND_TIMEOUT = 3.0
"""The gateways' ``send_timeout``: a reader that takes no bytes this long is dropped."""

HEADER_TIMEOUT = 3.0
"""The gateways' ``header_timeout``: slowloris connections are answered 408 this soon."""


def nginx_binary() -> str:
    """The nginx path; ``make test`` installs Debian's package when it is missing."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "")
    if not path:
        raise RuntimeError("nginx not found: run `make test` (it installs nginx)")
    return path


def nginx_config(shipped: str, *, listen: int, gateways: Sequence[int], tmp: Path) -> str:
    """A complete nginx.conf serving the shipped site config on loopback ports in ``tmp``."""
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;\n" for port in gateways
    )
    site, count = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+[^\n]*\n", "", shipped)
    if count != 2:
        raise ValueError("the shipped config should name two gateway servers")
    site = site.replace(
        "upstream surestream_gateways {\n", "upstream surestream_gateways {\n" + servers
    )
    site, listens = re.subn(r"(?m)^    listen \d+;", f"    listen 127.0.0.1:{listen};", site)
    site, logs = re.subn(
        r"access_log /var/log/nginx/surestream\.access\.log",
        f"access_log {tmp}/access.log",
        site,
    )
    if listens != 1 or logs != 1:
        raise ValueError("the shipped config should have one listen and one access_log line")
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(
        f"    {name}_temp_path {tmp}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        f"error_log {tmp}/error.log info;\n"
        "error_log stderr notice;\n"
        "events { worker_connections 8192; }\n"
        "http {\n"
        f"{temps}"
        f"{site}"
        "}\n"
    )


@dataclass
class Cluster:
    """Handles to every process of the deployment; ``stop_all`` ends whatever still runs."""

    tmp: Path
    api_key: str
    upstream_key: str
    models: dict[str, str]
    redis_port: int = field(default_factory=free_port)
    gateway_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    nginx_port: int = field(default_factory=free_port)
    prefix: str = "chaos:"
    redis: ServerProcess | None = None
    fake: ServerProcess | None = None
    gateways: list[ServerProcess | None] = field(default_factory=lambda: [None, None])
    nginx: ServerProcess | None = None
    outputs: list[tuple[str, ServerProcess]] = field(default_factory=list)
    """(redis, fake, gateway or nginx; handle) of every process started, in order (the
    handle's ``output`` is what the process printed)."""
    deliberate: list[tuple[str, int, int]] = field(default_factory=list)
    """(what, signal, exit code) of every process stopped on purpose during the campaign."""
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def _run(
        self,
        kind: str,
        argv: list[str],
        port: int,
        ready_text: str,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        handle = self.stack.enter_context(
            command_process(argv, port=port, ready_text=ready_text, env=env)
        )
        self.outputs.append((kind, handle))
        return handle

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def nginx_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def gateway_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.gateway_ports[index]}"

    def start_redis(self) -> None:
        data = self.tmp / "redis"
        data.mkdir(exist_ok=True)
        argv = [
            redis_server_binary(),
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            str(data),
        ]
        self.redis = self._run("redis", argv, self.redis_port, "Ready to accept connections")

    def start_fake(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "surestream.testing.fake_upstream:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port := free_port()),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "1",
        ]
        self.fake = self._run("fake", argv, port, UVICORN_READY)

    def start_gateway(self, index: int) -> None:
        assert self.fake is not None
        port = self.gateway_ports[index]
        argv = serve_argv(
            port,
            "--store",
            self.redis_url,
            "--redis-prefix",
            self.prefix,
            "--upstream",
            f"fk={self.fake.url}/v1",
            "--heartbeat",
            "0.5",
            "--upstream-idle-timeout",
            "1.5",
            "--upstream-first-token-timeout",
            "5",
            "--orphan-grace",
            "10",
            "--retention",
            "7200",  # the journals are read back after the campaign, however long it ran
            "--max-streams-per-key",
            "100000",
            "--max-streams",
            "100000",
            "--demo-tokens-per-second",
            "0",
            "--send-timeout",
            str(SEND_TIMEOUT),
            "--header-timeout",
            str(HEADER_TIMEOUT),
        )
        for name, target in self.models.items():
            argv += ["--model", f"{name}={target}"]
        env = {
            "SURESTREAM_API_KEYS": self.api_key,
            "SURESTREAM_UPSTREAM_KEY_FK": self.upstream_key,
        }
        self.gateways[index] = self._run("gateway", argv, port, "listening on", env)

    def start_nginx(self) -> None:
        conf = self.tmp / "nginx.conf"
        conf.write_text(
            nginx_config(
                SHIPPED_CONFIG.read_text(),
                listen=self.nginx_port,
                gateways=self.gateway_ports,
                tmp=self.tmp,
            )
        )
        argv = [
            nginx_binary(),
            "-p",
            str(self.tmp),
            "-e",
            str(self.tmp / "error.log"),
            "-c",
            str(conf),
            "-g",
            f"daemon off; pid {self.tmp}/nginx.pid;",
        ]
        self.nginx = self._run("nginx", argv, self.nginx_port, "start worker process")

    def start_all(self) -> None:
        self.start_redis()
        self.start_fake()
        self.start_gateway(0)
        self.start_gateway(1)
        self.start_nginx()

    def stop_gateway(self, index: int, sig: int) -> int:
        """Stop gateway ``index`` with ``sig`` on purpose; its exit code."""
        handle = self.gateways[index]
        assert handle is not None
        code = handle.stop(sig)
        self.gateways[index] = None
        self.deliberate.append((f"gateway {index}", sig, code))
        return code

    def restart_redis(self) -> int:
        """SIGTERM redis-server (it writes its append-only file) and start it again."""
        assert self.redis is not None
        code = self.redis.stop(signal.SIGTERM)
        self.deliberate.append(("redis-server", signal.SIGTERM, code))
        self.start_redis()
        return code

    def refuse_redis_writes(self, how: str, seconds: float) -> None:
        """Make redis-server refuse writes for ``seconds``: full (``oom``: ``maxmemory`` 1
        under ``noeviction``) or demoted (``readonly``: a replica of a master that is not
        there, as after a failover), then take writes again."""
        admin = redis.Redis.from_url(self.redis_url)
        try:
            if how == "oom":
                admin.config_set("maxmemory-policy", "noeviction")
                admin.config_set("maxmemory", 1)
            else:
                admin.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
            time.sleep(seconds)
            if how == "oom":
                admin.config_set("maxmemory", 0)
            else:
                admin.execute_command("REPLICAOF", "NO", "ONE")
        finally:
            admin.close()

    def redis_outage(self, seconds: float) -> int:
        """Stop redis-server (SIGTERM: it writes its append-only file), wait, start it."""
        assert self.redis is not None
        code = self.redis.stop(signal.SIGTERM)
        self.deliberate.append(("redis-server", signal.SIGTERM, code))
        time.sleep(seconds)
        self.start_redis()
        return code

    def gateway_rss(self) -> dict[int, int]:
        """Resident memory (KiB) of each running gateway process, by pid."""
        out = {}
        for handle in self.gateways:
            if handle is not None and handle.proc.poll() is None:
                status = Path(f"/proc/{handle.proc.pid}/status").read_text()
                rss = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
                out[handle.proc.pid] = int(rss.split()[1])
        return out

    def not_running(self) -> list[str]:
        """The parts of the deployment that are not running now (all should be, at the end:
        a part stopped on purpose is started again at once)."""
        parts = {
            "redis-server": self.redis,
            "fake upstream": self.fake,
            "gateway 0": self.gateways[0],
            "gateway 1": self.gateways[1],
            "nginx": self.nginx,
        }
        return [name for name, h in parts.items() if h is None or h.proc.poll() is not None]

    def save_outputs(self) -> None:
        """Write what every process printed to ``tmp/output-<n>-<kind>.log``."""
        for number, (kind, handle) in enumerate(self.outputs):
            argv = handle.proc.args if isinstance(handle.proc.args, list) else []
            header = " ".join(str(a) for a in argv) + "\n"
            path = self.tmp / f"output-{number}-{kind}.log"
            path.write_text(header + "".join(handle.output))

    def output(self, *kinds: str) -> str:
        """What the processes of these kinds printed (all of them, restarted ones too)."""
        return "".join("".join(h.output) for kind, h in self.outputs if kind in kinds)

    def nginx_logs(self) -> str:
        """nginx's error log (and what it printed: the same, on stderr) and access log."""
        parts = [self.output("nginx")]
        for name in ("error.log", "access.log"):
            path = self.tmp / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


@contextlib.contextmanager
def running_cluster(
    tmp: Path, *, api_key: str, upstream_key: str, models: dict[str, str]
) -> Iterator[Cluster]:
    """Start the whole deployment; stop every process of it on exit."""
    cluster = Cluster(tmp, api_key, upstream_key, models)
    with cluster.stack:
        cluster.start_all()
        yield cluster
