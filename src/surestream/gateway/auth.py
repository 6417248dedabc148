"""API keys, stream ownership and short-lived read tokens.

Strategy: an API key never leaves this module: callers get an *owner id* (a hash of the key)
that is stored with each stream and compared later. Keys are checked with
``hmac.compare_digest`` against every configured key, so timing tells nothing about which
key (if any) matched. A read token lets a browser ``EventSource`` (which cannot send
headers) read exactly one stream for a short time: ``<stream_id>.<expiry>.<owner>.<mac>``
(expiry in Unix milliseconds), an HMAC-SHA256 over the first three parts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence

__all__ = ["ANONYMOUS", "DEFAULT_READ_TOKEN_TTL", "Authenticator"]

ANONYMOUS = "anonymous"
"""The owner of every stream when no API key is configured."""

DEFAULT_READ_TOKEN_TTL = 300.0
"""Seconds a stream's read token stays valid."""


def _owner_of(key: str) -> str:
    return "k_" + hashlib.sha256(key.encode()).hexdigest()[:32]


class Authenticator:
    """Checks bearer keys and issues and verifies per-stream read tokens."""

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        token_secret: str | None = None,
        read_token_ttl: float = DEFAULT_READ_TOKEN_TTL,
    ) -> None:
        self._keys = [key.encode() for key in api_keys]
        self._owners = [_owner_of(key) for key in api_keys]
        if token_secret is None:
            seed = "\n".join(sorted(api_keys)) if api_keys else secrets.token_hex(32)
            token_secret = hashlib.sha256(b"surestream-read-token\n" + seed.encode()).hexdigest()
        self._secret = token_secret.encode()
        self.read_token_ttl = read_token_ttl

    @property
    def enabled(self) -> bool:
        """True when API keys are configured (every /v1 call then needs one)."""
        return bool(self._keys)

    def owner_for_header(self, authorization: str | None) -> str | None:
        """The owner id for an ``Authorization: Bearer <key>`` header, None if it is wrong."""
        if not self._keys:
            return ANONYMOUS
        if not authorization:
            return None
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        given = presented.strip().encode()
        found: str | None = None
        for key, owner in zip(self._keys, self._owners, strict=True):
            if hmac.compare_digest(key, given):
                found = owner
        return found

    def _mac(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:43]

    def issue_read_token(self, stream_id: str, owner: str, *, now: float | None = None) -> str:
        """A token that reads ``stream_id`` (and nothing else) until it expires."""
        expiry = int(((time.time() if now is None else now) + self.read_token_ttl) * 1000)
        payload = f"{stream_id}.{expiry}.{owner}"
        return f"{payload}.{self._mac(payload)}"

    def owner_for_token(
        self, token: str, stream_id: str, *, now: float | None = None
    ) -> str | None:
        """The owner a valid, unexpired token for ``stream_id`` stands for; None otherwise."""
        parts = token.split(".")
        if len(parts) != 4:
            return None
        token_stream, expiry, owner, mac = parts
        expected = self._mac(f"{token_stream}.{expiry}.{owner}")
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        if token_stream != stream_id or not expiry.isdigit():
            return None
        if int(expiry) <= (time.time() if now is None else now) * 1000:
            return None
        return owner
