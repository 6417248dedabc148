"""What the commands that start a server share: binding the port first, and optional numbers."""

from __future__ import annotations

import socket

__all__ = ["listen", "optional_float"]


def optional_float(text: str) -> float | None:
    """A flag's number of seconds, or None for ``none`` / ``never`` / ``off``."""
    return None if text.lower() in {"none", "never", "off"} else float(text)


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to ``port`` on every address ``host`` names (what uvicorn binds itself
    when given no sockets); ``OSError`` when one cannot be bound, with none left open."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in bound:
            sock.close()
        raise
    return bound
