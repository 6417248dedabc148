"""The gateway's state and its operations, independent of HTTP routing.

Strategy: ``Gateway`` owns the store, the hub, the upstreams, the authenticator, the
metrics and the stream slots (``limits``); requests are checked by ``validation``.
``open_stream`` takes a slot, asks the upstream to start (so a refusal before
the first token becomes an HTTP error on the create call, never a stream), and hands the
opened upstream to the hub, wrapped so that the producer enforces ``idle_timeout`` (a
``Watchdog``: one timer per stream, not one per token), closes the upstream in every case
and keeps the counters and metrics right. Subscribers read the
journal through ``EventStreamResponse``; the producer's verdict is the only verdict.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Mapping

from surestream._closing import aclose_if_any
from surestream._watchdog import Watchdog, idle_timeout
from surestream.errors import SourceFailed
from surestream.events import (
    Done,
    Error,
    ErrorCode,
    Event,
    Reasoning,
    Step,
    Text,
    ToolCall,
    ToolCallStart,
)
from surestream.gateway.auth import Authenticator
from surestream.gateway.errors import ApiError
from surestream.gateway.limits import StreamSlots
from surestream.gateway.metrics import GatewayMetrics
from surestream.gateway.models import ChatParameters
from surestream.gateway.settings import Settings
from surestream.gateway.upstream_checks import checked_done, outcome_label
from surestream.gateway.validation import check_chat, check_metadata
from surestream.hub import Hub, HubClosed
from surestream.store import (
    MemoryStore,
    Store,
    StoreUnavailable,
    StreamInfo,
    StreamNotFound,
)
from surestream.store.base import event_size
from surestream.upstream import (
    AnthropicUpstream,
    ChatMessage,
    ChatRequest,
    DemoModel,
    OpenAICompatibleUpstream,
    OpenedStream,
    Upstream,
)

__all__ = ["Gateway", "build_store", "build_upstreams"]

log = logging.getLogger("surestream.gateway")


def build_store(settings: Settings) -> Store:
    """The journal store the settings name."""
    if settings.store == "memory":
        return MemoryStore(
            retention=settings.retention,
            tombstone_ttl=settings.tombstone_ttl,
            max_tombstones=settings.max_tombstones,
            max_events=settings.max_events_per_stream,
            max_bytes=settings.max_journal_bytes,
        )
    from surestream.store.redis import RedisStore

    return RedisStore(
        settings.store,
        prefix=settings.redis_prefix,
        retention=settings.retention,
        tombstone_ttl=settings.tombstone_ttl,
        max_events=settings.max_events_per_stream,
        max_bytes=settings.max_journal_bytes,
    )


def build_upstreams(settings: Settings) -> dict[str, Upstream]:
    """Upstream name -> adapter, for every upstream some model routes to."""
    upstreams: dict[str, Upstream] = {}
    if settings.demo:
        upstreams["demo"] = DemoModel(
            tokens_per_second=settings.demo_tokens_per_second, reasoning=settings.demo_reasoning
        )
    model_maps: dict[str, dict[str, str]] = {}
    for model, (upstream, upstream_model) in settings.model_routes().items():
        if upstream != "demo":
            model_maps.setdefault(upstream, {})[model] = upstream_model
    for name, url in settings.upstreams.items():
        key = settings.upstream_api_keys.get(name)
        kind = settings.upstream_kinds.get(name, "openai")
        adapter = AnthropicUpstream if kind == "anthropic" else OpenAICompatibleUpstream
        upstreams[name] = adapter(
            url,
            api_key=key.get_secret_value() if key is not None else None,
            model_map=model_maps.get(name, {}),
            connect_timeout=settings.upstream_connect_timeout,
            first_token_timeout=settings.upstream_first_token_timeout,
            idle_timeout=settings.upstream_idle_timeout,
        )
    return upstreams


_TOKENS = (Text, Reasoning, ToolCallStart, ToolCall)
"""Events that carry the model's first token (for ``time_to_first_token``)."""


class Gateway:
    """Everything a request handler needs: settings, auth, hub, upstreams, metrics, limits."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        upstreams: Mapping[str, Upstream] | None = None,
    ) -> None:
        self.settings = settings
        self.auth = Authenticator(
            [key.get_secret_value() for key in settings.api_keys],
            token_secret=(
                settings.token_secret.get_secret_value() if settings.token_secret else None
            ),
            read_token_ttl=settings.read_token_ttl,
        )
        self.store = store if store is not None else build_store(settings)
        self.hub = Hub(
            self.store,
            orphan_grace=settings.orphan_grace,
            lease_ttl=settings.lease_ttl,
            max_subscribers=settings.max_subscribers,
        )
        self.upstreams = dict(upstreams) if upstreams is not None else build_upstreams(settings)
        self.routes = settings.model_routes()
        for model, (upstream, _) in self.routes.items():
            if upstream not in self.upstreams:
                raise ValueError(f"model {model!r} routes to unknown upstream {upstream!r}")
        self.metrics = GatewayMetrics()
        self.slots = StreamSlots(
            settings.max_streams, settings.max_streams_per_key, self.metrics.active_streams
        )

    async def aclose(self) -> None:
        """Stop every producer (their journals end with ``server_shutdown``), close the rest."""
        await self.hub.aclose()
        for upstream in self.upstreams.values():
            await upstream.aclose()
        await self.store.aclose()

    def model_names(self) -> list[str]:
        """The model names clients may ask for."""
        return sorted(self.routes)

    def chat_request(self, body: ChatParameters) -> tuple[Upstream, ChatRequest]:
        """Check the request against the limits (``validation``) and route it to its upstream.

        The messages and the OpenAI parameters go into the ``ChatRequest`` exactly as the
        client set them (see ``ChatParameters``).
        """
        messages = [m.wire() for m in body.messages]
        params = body.params()
        check_chat(self.settings, {"messages": messages, "max_tokens": body.max_tokens, **params})
        route = self.routes.get(body.model)
        if route is None:
            raise ApiError(
                404,
                "model_not_found",
                f"unknown model {body.model!r}; GET /v1/models lists the models",
                field="model",
            )
        upstream_name, _ = route
        request = ChatRequest(
            model=body.model,
            messages=[ChatMessage.from_json(m) for m in messages],
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            seed=body.seed,
            params=params,
        )
        return self.upstreams[upstream_name], request

    def check_metadata(self, metadata: Mapping[str, str] | None) -> None:
        """422 when ``metadata`` is over ``max_metadata_items`` or ``max_metadata_chars``."""
        check_metadata(self.settings, metadata)

    async def open_upstream(
        self, owner: str, upstream: Upstream, request: ChatRequest
    ) -> OpenedStream:
        """Reserve a stream slot and open the upstream; ``ApiError`` (a limit) or
        ``UpstreamHTTPError`` (the upstream said no) for every refusal."""
        self.slots.reserve(owner)
        try:
            return await upstream.open(request)
        except BaseException:
            self.slots.release(owner)
            raise

    async def start_stream(
        self, owner: str, upstream: Upstream, request: ChatRequest, *, step: bool = False
    ) -> str:
        """Open the upstream and start a journaled stream of its answer; the stream id.

        The store is asked first (from what its last calls said, or a probe write after a
        failure), so a store that is down costs no upstream call. ``step`` begins the answer
        with a ``Step``: it is one model call of a message that may have several (a UI
        chat's answer continued after its tool outputs)."""
        await self.store.ready()
        opened = await self.open_upstream(owner, upstream, request)
        source = self._produce(owner, opened, step=step)
        try:
            return await self.hub.start(source, owner=owner, model=request.model)
        except (StoreUnavailable, HubClosed):
            await source.aclose()
            raise

    async def run_to_end(
        self, owner: str, upstream: Upstream, request: ChatRequest
    ) -> tuple[list[Event], Done]:
        """Generate a whole answer without a stream (same limits, timeouts and metrics): its
        events before ``Done``, and the ``Done``.

        Refusals raise as in ``open_upstream``; a failure after the first token
        raises ``SourceFailed``.
        """
        opened = await self.open_upstream(owner, upstream, request)
        events: list[Event] = []
        done = Done()
        room = self.settings.max_answer_bytes
        produced = self._produce(owner, opened)
        try:
            async for event in produced:
                if isinstance(event, Done):
                    done = event
                    continue
                room -= event_size(event)
                if room < 0:
                    raise ApiError(
                        502,
                        "answer_too_large",
                        f"the answer exceeds max_answer_bytes ({self.settings.max_answer_bytes}"
                        " bytes); ask for it with stream: true",
                    )
                events.append(event)
        finally:
            await produced.aclose()
        return events, done

    async def _produce(
        self, owner: str, opened: OpenedStream, *, step: bool = False
    ) -> AsyncGenerator[Event, None]:
        """The upstream's events under ``idle_timeout`` (after a ``Step`` with ``step``),
        closing it and counting in any case. ``idle_limited``, inlined: one generator per
        token fewer, and the producer's task and the loop looked up once, not per token."""
        metrics = self.metrics
        started = time.monotonic()
        first_text = True
        outcome: tuple[str, str] = ("done", "cancelled")
        ended = False
        limit = self.settings.idle_timeout
        watchdog = Watchdog(limit)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        iterator = aiter(opened)
        following = iterator.__anext__
        try:
            if step:
                yield Step()
            while True:
                watchdog.begin(loop.time(), task)
                try:
                    event = await following()
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    if not watchdog.expired():
                        raise
                    raise idle_timeout(limit, "the model") from None
                finally:
                    watchdog.end()
                if type(event) is Text and not first_text:
                    yield event
                    continue
                if first_text and isinstance(event, _TOKENS):
                    first_text = False
                    metrics.time_to_first_token.observe(time.monotonic() - started)
                if isinstance(event, Done):
                    event = checked_done(event)
                    outcome, ended = ("done", str(event.finish_reason)), True
                elif isinstance(event, Error):
                    outcome, ended = ("error", str(event.code)), True
                yield event
            if not ended:
                outcome = ("done", "stop")
        except SourceFailed as exc:
            outcome = ("error", str(exc.code))
            raise
        except Exception:
            outcome = ("error", ErrorCode.INTERNAL_ERROR)
            raise
        finally:
            watchdog.close()
            try:
                await aclose_if_any(iterator)
                await opened.aclose()
            finally:
                self.slots.release(owner)
                metrics.outcomes.labels(outcome[0], outcome_label(*outcome)).inc()
                metrics.stream_duration.observe(time.monotonic() - started)

    async def owned_info(self, stream_id: str, owner: str) -> StreamInfo:
        """The stream's info when ``owner`` may see it; else ``StreamNotFound`` (also for
        another owner's stream: 404 either way), ``StreamExpired`` or ``StoreUnavailable``."""
        info = await self.hub.info(stream_id)
        if info.owner != owner:
            raise StreamNotFound(stream_id)
        return info
