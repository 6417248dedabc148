"""The OpenAPI document of one gateway: the pydantic schemas plus this instance's limits.

Strategy: the request models are static, but some limits are settings (``max_messages``,
``max_tokens_limit``, ``max_metadata_items``, ``max_metadata_chars``). ``install_openapi``
replaces ``app.openapi`` with a function that builds FastAPI's document once and writes
those limits into it (``maxItems``, ``maximum``, ``maxProperties``, ``maxLength``), and
drops the bearer security scheme when no API key is configured, so a request the document
allows is one the server accepts, and the other way round.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from surestream.gateway.settings import Settings

__all__ = ["install_openapi"]


def _limit(schemas: dict[str, Any], settings: Settings) -> None:
    for name in ("StreamRequest", "ChatCompletionRequest", "UIChatRequest", "MessagesRequest"):
        props = schemas.get(name, {}).get("properties", {})
        if "messages" in props:
            props["messages"]["maxItems"] = settings.max_messages
        for field in ("max_tokens", "max_completion_tokens"):
            for item in props.get(field, {}).get("anyOf", [props.get(field, {})]):
                if item.get("type") == "integer":
                    item["maximum"] = settings.max_tokens_limit
        metadata = props.get("metadata")
        if metadata is not None:
            for item in metadata.get("anyOf", [metadata]):
                if item.get("type") == "object":
                    item["maxProperties"] = settings.max_metadata_items
                    values = item.setdefault("additionalProperties", {"type": "string"})
                    values["maxLength"] = settings.max_metadata_chars


def _drop_security(document: dict[str, Any]) -> None:
    """Without API keys no call needs one: say so."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            operation.pop("security", None)
    document.get("components", {}).pop("securitySchemes", None)


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) carry ``settings``' request limits."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            _limit(document.get("components", {}).get("schemas", {}), settings)
            if not settings.api_keys:
                _drop_security(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
