"""The HTTP message at the start of a response record's block: status, Content-Type, codings."""

from __future__ import annotations

import re

from warcio.limitreader import LimitReader
from warcio.statusandheaders import StatusAndHeadersParser

MAX_HTTP_HEADER = 1 << 16  # most bytes of HTTP status line + headers


def parse_http_headers(block) -> tuple[tuple[int, str | None, str | None, str | None] | None, bool]:
    """((status, Content-Type, Content-Encoding, Transfer-Encoding) of an HTTP response or None,
    whether the headers ended within `MAX_HTTP_HEADER` bytes)."""
    head = LimitReader(block, MAX_HTTP_HEADER)
    try:
        parsed = StatusAndHeadersParser([], verify=False).parse(head)
    except EOFError:
        return None, True
    complete = head.limit > 0
    if not parsed.protocol.upper().startswith("HTTP/"):
        return None, complete
    # "HTTP/1.1 HTTP/1.1 200 OK" occurs (Wayback replays written by archive-query-log)
    tokens = [t for t in parsed.statusline.split() if not t.upper().startswith("HTTP/")]
    code = tokens[0] if tokens else ""
    if not (len(code) == 3 and code.isdigit()):
        return None, complete
    return (
        int(code),
        parsed.get_header("Content-Type"),
        parsed.get_header("Content-Encoding"),
        parsed.get_header("Transfer-Encoding"),
    ), complete


def skip_http_headers(block) -> bool:
    """Read an HTTP message's start line and headers; whether they ended within `MAX_HTTP_HEADER`."""
    head = LimitReader(block, MAX_HTTP_HEADER)
    while True:
        line = head.readline()
        if not line:
            return head.limit > 0
        if not line.strip():
            return True


def media_type(value: str | None) -> str | None:
    value = (value or "").split(";", 1)[0].split(",", 1)[0].strip().lower()
    return value or None


def charset_param(value: str | None) -> str | None:
    match = re.search(r"""charset\s*=\s*["']?([^"';,\s]+)""", value or "", re.IGNORECASE)
    return match[1] if match else None


def codings(value: str | None) -> list[str]:
    return [
        c
        for c in (v.strip().lower() for v in (value or "").split(","))
        if c and c not in ("identity", "none")
    ]
