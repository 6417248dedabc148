"""API keys, stream ownership and short-lived read tokens.

Strategy: an API key never leaves this module: callers get an *owner id*,
``k_`` + an HMAC-SHA256 of the key under a server secret, which is stored with each stream
and compared later; without the secret nothing about a key can be learnt from an owner id
or a token (a weak key cannot be recovered by hashing guesses). Keys are checked with
``hmac.compare_digest`` against every configured key, so timing tells nothing about which
key (if any) matched. A read token lets a browser ``EventSource`` (which cannot send
headers) read exactly one stream for a short time: ``<stream_id>.<expiry>.<owner>.<mac>``
(expiry in Unix milliseconds), an HMAC-SHA256 over the first three parts under the same
secret. The secret is ``token_secret`` when given; otherwise the gateway takes one from
its store (``Store.shared_secret``: random, one per Redis, so every instance sharing the
store agrees) before the first key is checked (``use_secret``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

__all__ = [
    "ANONYMOUS",
    "DEFAULT_READ_TOKEN_TTL",
    "READ_TOKEN_COOKIE",
    "READ_TOKEN_HEADER",
    "Authenticator",
]

ANONYMOUS = "anonymous"
"""The owner of every stream when no API key is configured."""

DEFAULT_READ_TOKEN_TTL = 300.0
"""Seconds a stream's read token stays valid."""

READ_TOKEN_HEADER = "Surestream-Read-Token"
"""The header a create call returns the read token in, and a reader may send it in."""

READ_TOKEN_COOKIE = "surestream_read_token"
"""The cookie a create call sets with the read token, for the stream's own path only, so a
same-origin ``EventSource`` reads without the token in its URL."""


class Authenticator:
    """Checks bearer keys and issues and verifies per-stream read tokens.

    ``token_secret``: the server secret; None until ``use_secret`` gives one (``ready``).
    """

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        token_secret: str | bytes | None = None,
        read_token_ttl: float = DEFAULT_READ_TOKEN_TTL,
    ) -> None:
        self._keys = [key.encode() for key in api_keys]
        self._owners: list[str] = []
        self._secret = b""
        self.read_token_ttl = read_token_ttl
        if token_secret is not None:
            self.use_secret(token_secret)

    @property
    def enabled(self) -> bool:
        """True when API keys are configured (every /v1 call then needs one)."""
        return bool(self._keys)

    @property
    def ready(self) -> bool:
        """True once the server secret is known (or no key needs one)."""
        return bool(self._secret) or not self._keys

    def use_secret(self, secret: str | bytes) -> None:
        """Take the server secret that owner ids and read tokens are made with."""
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._owners = [
            "k_" + hmac.new(self._secret, key, hashlib.sha256).hexdigest()[:32]
            for key in self._keys
        ]

    def owner_for_header(self, authorization: str | None) -> str | None:
        """The owner id for an ``Authorization: Bearer <key>`` header, None if it is wrong."""
        scheme, _, presented = (authorization or "").partition(" ")
        if self._keys and scheme.lower() != "bearer":
            return None
        return self.owner_for_key(presented)

    def owner_for_key(self, presented: str | None) -> str | None:
        """The owner id for a key presented as it is (the ``x-api-key`` header the Anthropic
        SDKs send), None if it is wrong."""
        if not self._keys:
            return ANONYMOUS
        if not self._secret:
            raise RuntimeError("Authenticator.use_secret must come before the first key")
        if not presented:
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
        if not self._secret:
            return None
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
