"""The chunked transfer decoder of the client's transport, at home in ``surestream._chunked``."""

from surestream._chunked import DEFAULT_MAX_LINE, ChunkedDecoder, ChunkedError

__all__ = ["DEFAULT_MAX_LINE", "ChunkedDecoder", "ChunkedError"]
