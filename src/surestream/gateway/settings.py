"""Gateway settings: defaults, a TOML file, ``SURESTREAM_*`` environment, command-line flags.

Strategy: one validated pydantic model, ``Settings``, is the only place a setting is defined,
with its default (the library's own constant where the setting configures a library part)
and documentation (the attribute's docstring). ``surestream serve``'s flags are derived from
it (``Flag`` marks the few that are spelled otherwise or kept off the command line), and so
are the environment names. ``load_settings`` merges the sources (flags over environment over
file over defaults) and turns every invalid value into a ``SettingsError`` whose message
names the setting, its source and what is wrong, so ``surestream serve`` fails at start with
a clear line instead of later with a traceback.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo

from surestream.errors import SettingsError
from surestream.gateway.auth import DEFAULT_READ_TOKEN_TTL
from surestream.gateway.connections import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CLIENT_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    ConnectionLimits,
)
from surestream.hub import DEFAULT_LEASE_TTL, DEFAULT_ORPHAN_GRACE
from surestream.lifecycle import DEFAULT_HEARTBEAT, DEFAULT_IDLE_TIMEOUT
from surestream.server import DEFAULT_SEND_TIMEOUT
from surestream.store import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_TOMBSTONES,
    DEFAULT_RETENTION,
    DEFAULT_TOMBSTONE_TTL,
)
from surestream.store.redis import DEFAULT_PREFIX
from surestream.upstream.demo import DEFAULT_TOKENS_PER_SECOND
from surestream.upstream.openai_compat import (
    DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
    DEFAULT_UPSTREAM_FIRST_TOKEN_TIMEOUT,
    DEFAULT_UPSTREAM_IDLE_TIMEOUT,
)

__all__ = [
    "ENV_ONLY",
    "ENV_PREFIX",
    "UPSTREAM_KINDS",
    "Flag",
    "Settings",
    "SettingsError",
    "ValueShape",
    "load_settings",
    "parse_pairs",
    "route_problems",
    "setting_flag",
    "value_shape",
]

UPSTREAM_KINDS = ("openai", "anthropic")
"""The wires a named upstream may speak (``upstream_kinds``)."""

ENV_PREFIX = "SURESTREAM_"
"""Prefix of the environment names: ``SURESTREAM_`` + the setting's name in upper case."""


@dataclass(frozen=True, slots=True)
class Flag:
    """How a setting is spelled on ``surestream serve``'s command line, where the rule
    (``--`` and the name with dashes) does not fit; put it in the field's ``Annotated``.

    ``name``: the flag (``--api-key`` for ``api_keys``); None keeps the setting off the
    command line (secrets: environment or file only). ``metavar``: the value's placeholder.
    """

    name: str | None
    metavar: str | None = None


ENV_ONLY = Flag(None)
"""A setting with no flag: from the environment or the file only."""


class Settings(BaseModel):
    """Everything the gateway can be told. Each field documents its default and unit."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = Field(default=8000, ge=0, le=65535)
    """TCP port to listen on (0: any free port)."""
    store: str = "memory"
    """``memory`` (one process) or a ``redis://`` / ``rediss://`` URL (several instances)."""
    redis_prefix: str = DEFAULT_PREFIX
    """Key prefix of every Redis key the gateway writes."""
    upstreams: Annotated[dict[str, str], Flag("--upstream", "NAME=URL")] = Field(
        default_factory=dict
    )
    """Named upstreams: NAME -> base URL (e.g. ``http://localhost:11434/v1``, or
    ``https://api.anthropic.com`` for one whose kind is ``anthropic``)."""
    upstream_kinds: Annotated[dict[str, str], Flag("--upstream-kind", "NAME=KIND")] = Field(
        default_factory=dict
    )
    """The wire each named upstream speaks: ``openai`` (OpenAI-compatible, the default) or
    ``anthropic`` (Anthropic's Messages API: the key goes as ``x-api-key``)."""
    upstream_api_keys: Annotated[dict[str, SecretStr], ENV_ONLY] = Field(default_factory=dict)
    """NAME -> API key sent to that upstream (also from ``SURESTREAM_UPSTREAM_KEY_<NAME>``)."""
    models: Annotated[dict[str, str], Flag("--model", "NAME=UPSTREAM[:MODEL]")] = Field(
        default_factory=dict
    )
    """Model routing: our model name -> ``UPSTREAM`` or ``UPSTREAM:upstream_model``."""
    upstream_connect_timeout: float = Field(default=DEFAULT_UPSTREAM_CONNECT_TIMEOUT, gt=0)
    """Seconds to connect to an upstream and send the request (504 beyond)."""
    upstream_first_token_timeout: float | None = Field(
        default=DEFAULT_UPSTREAM_FIRST_TOKEN_TIMEOUT, gt=0
    )
    """Seconds an upstream may take to its first token (504 on the create call, or
    ``error upstream_timeout`` once the response has begun; None: never)."""
    upstream_idle_timeout: float | None = Field(default=DEFAULT_UPSTREAM_IDLE_TIMEOUT, gt=0)
    """Seconds an upstream may stay silent between chunks (``error upstream_timeout``;
    None: never)."""
    demo: bool = True
    """Offer the built-in ``demo`` model."""
    demo_tokens_per_second: float = Field(default=DEFAULT_TOKENS_PER_SECOND, ge=0)
    """Pace of the demo model (0: as fast as possible)."""
    demo_reasoning: bool = False
    """The demo model reasons briefly before every text answer (it always does before a tool
    call; a request's reasoning_effort decides over both)."""
    api_keys: Annotated[list[SecretStr], Flag("--api-key", "KEY")] = Field(default_factory=list)
    """Bearer keys; when any is set every ``/v1`` call needs one and streams are per key."""
    token_secret: Annotated[SecretStr | None, ENV_ONLY] = None
    """Secret that owner ids and read tokens are HMACs under. Default: a random one kept in
    the store (every instance sharing a Redis uses the same; with the memory store, one per
    process)."""
    read_token_ttl: float = Field(default=DEFAULT_READ_TOKEN_TTL, gt=0)
    """Seconds a stream's read token (``?token=``) stays valid."""
    read_token_cookie: bool = False
    """Also set the read token as an HttpOnly, SameSite=Strict cookie scoped to the stream's
    own path, so a same-origin ``EventSource`` reads without ``?token=`` in its URL (and in
    proxies' logs)."""
    cors_origins: Annotated[list[str], Flag("--cors-origin", "ORIGIN")] = Field(
        default_factory=list
    )
    """Origins allowed by CORS; none by default."""
    cors_allow_headers: Annotated[list[str], Flag("--cors-allow-header", "HEADER")] = Field(
        default_factory=lambda: ["*"]
    )
    """Request headers an allowed origin may send; ``*`` (the default) allows the ones the
    browser asks for in its preflight, such as the openai and anthropic SDKs'
    ``x-stainless-*``. A list (``Authorization,Content-Type,...``) allows only those."""
    heartbeat: float = Field(default=DEFAULT_HEARTBEAT, gt=0)
    """Seconds without a write before a ``: ping`` comment."""
    idle_timeout: float | None = Field(default=DEFAULT_IDLE_TIMEOUT, gt=0)
    """Seconds of source silence before ``error idle_timeout`` (None: never)."""
    orphan_grace: float = Field(default=DEFAULT_ORPHAN_GRACE, ge=0)
    """Seconds a stream keeps generating with no subscriber before it is cancelled."""
    lease_ttl: float = Field(default=DEFAULT_LEASE_TTL, gt=0)
    """Seconds a producer's lease lives unrenewed: how soon the readers of a stream whose
    instance died get ``error producer_lost``, and how long a producer rides out a store
    that fails before it gives up."""
    retention: float = Field(default=DEFAULT_RETENTION, gt=0)
    """Seconds a journal is kept after its terminal event (resume window)."""
    tombstone_ttl: float = Field(default=DEFAULT_TOMBSTONE_TTL, gt=0)
    """Seconds an expired stream answers 410 rather than 404 (a small tombstone per stream
    is kept this long after its journal)."""
    max_tombstones: int = Field(default=DEFAULT_MAX_TOMBSTONES, gt=0)
    """Tombstones the memory store keeps at most (the oldest go first); Redis holds them
    ``tombstone_ttl`` seconds."""
    send_timeout: float | None = Field(default=DEFAULT_SEND_TIMEOUT, gt=0)
    """Seconds a client may take no bytes (its connection's buffers full) before its stream
    is dropped and its connection closed (None: never)."""
    max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, gt=0)
    """Bytes of a request's header section, request line included (431 beyond)."""
    header_timeout: float | None = Field(default=DEFAULT_HEADER_TIMEOUT, gt=0)
    """Seconds a connection has to send a complete request head, from connecting or from
    the first byte of its next request (408 and closed beyond; None: no limit)."""
    body_timeout: float | None = Field(default=DEFAULT_BODY_TIMEOUT, gt=0)
    """Seconds a request has to send its whole body after its head (408 beyond)."""
    max_connections: int = Field(default=DEFAULT_MAX_CLIENT_CONNECTIONS, gt=0)
    """Open connections; beyond, the connection waiting longest for a request head is closed,
    or the new one gets 503. Held under the file descriptor limit (``ulimit -n``) less 64."""
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    """Largest request body accepted (413 beyond)."""
    max_messages: int = Field(default=256, gt=0)
    """Most messages in one chat request (422 beyond)."""
    max_tokens_limit: int = Field(default=16_384, gt=0)
    """Largest ``max_tokens`` a request may ask for (422 beyond)."""
    max_metadata_items: int = Field(default=16, ge=0)
    """Most entries in a stream request's ``metadata`` (422 beyond)."""
    max_metadata_chars: int = Field(default=512, ge=0)
    """Longest ``metadata`` value, in characters (keys: at most 64; 422 beyond)."""
    max_streams: int = Field(default=10_000, gt=0)
    """Concurrent generating streams in this process (429 beyond)."""
    max_streams_per_key: int = Field(default=64, gt=0)
    """Concurrent generating streams per API key (429 beyond); without API keys it does not
    apply (the callers of an open gateway are not one key) and ``max_streams`` holds."""
    max_subscribers: int = Field(default=64, gt=0)
    """Concurrent readers of one stream, across every instance sharing the store (429
    beyond)."""
    max_events_per_stream: int = Field(default=DEFAULT_MAX_EVENTS, gt=0)
    """Events one journal may hold; a longer answer ends with ``finish_reason: length``."""
    max_journal_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    """Bytes one journal may hold (its events' text or JSON); an answer beyond ends with
    ``finish_reason: length``."""
    max_answer_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    """Bytes of one non-streaming answer (``stream: false``); beyond, 502 ``answer_too_large``
    instead of holding more."""
    log_level: str = "info"
    """uvicorn and surestream log level."""
    tune_gc: bool = True
    """Once the app has started, ``gc.freeze()`` what the imports and the app made and
    collect the youngest generation every 20,000 new objects instead of 700 (undone when
    the app stops). At 500 streams the defaults spent a fifth of the CPU in the collector
    and paused every stream ~150 ms at each full collection. Turn off when the gateway's
    app is mounted in a process whose collector you tune yourself."""

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if value != "memory" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be 'memory' or a redis:// URL")
        return value

    @field_validator("upstreams")
    @classmethod
    def _check_upstreams(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"upstream {name!r}: {url!r} is not an http(s) URL")
        return value

    @field_validator("upstream_kinds")
    @classmethod
    def _check_upstream_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for name, kind in value.items():
            if kind not in UPSTREAM_KINDS:
                known = ", ".join(UPSTREAM_KINDS)
                raise ValueError(f"upstream {name!r}: kind {kind!r} is not one of {known}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.lower() not in {"critical", "error", "warning", "info", "debug", "trace"}:
            raise ValueError("must be one of critical, error, warning, info, debug, trace")
        return value.lower()

    def connection_limits(self) -> ConnectionLimits:
        """The limits ``surestream serve`` enforces on each connection."""
        return ConnectionLimits(
            max_header_bytes=self.max_header_bytes,
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
            max_connections=self.max_connections,
            send_timeout=self.send_timeout,
        )

    def model_routes(self) -> dict[str, tuple[str, str]]:
        """Our model name -> (upstream name, upstream model); ``demo`` -> ("demo", "demo")."""
        routes: dict[str, tuple[str, str]] = {"demo": ("demo", "demo")} if self.demo else {}
        for name, target in self.models.items():
            upstream, _, upstream_model = target.partition(":")
            routes[name] = (upstream, upstream_model or name)
        return routes


ValueShape = Literal["bool", "int", "float", "optional float", "str", "list", "map", "secret"]
"""What a setting's value looks like, for the command line and the environment."""


def value_shape(field: FieldInfo) -> ValueShape:
    """The shape of a ``Settings`` field's value (from its annotation)."""
    annotation = field.annotation
    origin = get_origin(annotation)
    if origin is list:
        return "list"
    if origin is dict:
        return "map"
    args = set(get_args(annotation))
    if annotation is SecretStr or args == {SecretStr, type(None)}:
        return "secret"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if args == {float, type(None)}:
        return "optional float"
    if annotation is str:
        return "str"
    raise TypeError(f"no value shape for {annotation!r}")


_METAVARS: dict[ValueShape, str] = {"int": "N", "float": "N", "optional float": "N|none"}


def setting_flag(name: str, field: FieldInfo) -> Flag:
    """The command-line flag of the setting ``name`` (its ``Flag`` or the derived one)."""
    declared = next((m for m in field.metadata if isinstance(m, Flag)), None)
    derived = Flag("--" + name.replace("_", "-"), _METAVARS.get(value_shape(field)))
    if declared is None:
        return derived
    return Flag(declared.name, declared.metavar or derived.metavar)


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    fields = Settings.model_fields
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name.startswith("upstream_key_"):
            out.setdefault("upstream_api_keys", {})[name[len("upstream_key_") :]] = value
        elif name not in fields:
            continue
        elif value_shape(fields[name]) == "list":
            out[name] = [part.strip() for part in value.split(",") if part.strip()]
        elif value_shape(fields[name]) == "map":
            out[name] = parse_pairs(value.split(","), name)
        else:
            out[name] = None if value.lower() in {"none", "null"} else value
    return out


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """``["a=b", "c=d"]`` -> ``{"a": "b", "c": "d"}``; a malformed item is a SettingsError."""
    out: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SettingsError(f"{what}: expected NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def load_settings(
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> Settings:
    """Merge defaults < TOML file < environment < flags and validate the result."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        path = Path(config_file)
        try:
            layers.append((str(path), tomllib.loads(path.read_text())))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"config file {path}: {exc}") from None
    layers.append(("environment", _from_env(os.environ if env is None else env)))
    layers.append(("flags", {k: v for k, v in (flags or {}).items() if v is not None}))
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, values in layers:
        for name, value in values.items():
            merged[name] = value
            origin[name] = source
    upstreams = merged.get("upstreams")
    for setting in ("upstream_api_keys", "upstream_kinds"):
        named = merged.get(setting)
        if isinstance(named, dict) and isinstance(upstreams, dict):
            by_folded = {str(name).lower(): name for name in upstreams}
            merged[setting] = {
                by_folded.get(str(name).lower(), name): value for name, value in named.items()
            }
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            if not err["loc"]:
                lines.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            name = str(err["loc"][0])
            where = origin.get(name, "defaults")
            lines.append(f"setting {name!r} (from {where}): {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
    problems = route_problems(settings)
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    return settings


def route_problems(settings: Settings) -> list[str]:
    """What is wrong with the model routing and upstream keys of ``settings`` (for ``serve``,
    where the upstreams come from the settings alone)."""
    problems = []
    known = set(settings.upstreams) | ({"demo"} if settings.demo else set())
    for model, (upstream, _) in settings.model_routes().items():
        if upstream not in known:
            problems.append(
                f"setting 'models': {model!r} routes to {upstream!r}, which is not an upstream "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
    for setting in ("upstream_api_keys", "upstream_kinds"):
        for name in getattr(settings, setting):
            if name not in settings.upstreams:
                problems.append(f"setting {setting!r}: {name!r} is not an upstream")
    return problems
