"""An HTTP payload as stored -> the body: Transfer-Encoding chunked and Content-Encoding gzip / deflate / br
removed, at most ``cap`` bytes before and after decoding (`decode_payload`).

A payload that does not look encoded although the headers say so (Common Crawl's 2008 ARC keeps
``Content-Encoding: gzip`` / ``Transfer-Encoding: chunked`` over decoded payloads) is taken as it is; a gzip
payload without a Content-Encoding is unpacked if it holds markup. Gzip / brotli / chunked payloads that
merely stop early (as with ``WARC-Truncated``) are kept. What cannot be decoded raises `PayloadError`:
``bad_chunked_encoding``, ``bad_content_encoding``, ``payload_too_large``.

Written by hand, not warcio's ChunkedDataReader / DecompressingBufferedReader: swapped in, they fail 2 and
14 of the 364 reader tests (a malformed chunk passes as data; 1 GiB decompression bombs are not capped;
brotli and lying encodings), same records on the shared samples (`bench/read_libraries.py`).
"""

from __future__ import annotations

import re
import zlib

import brotli

from transforms.read.http_message import codings
from transforms.read.media import looks_like_markup
from transforms.read.starts import GZIP_HEADER


class PayloadError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def decode_payload(
    data: bytes, content_encoding: str | None, transfer_encoding: str | None, cap: int
) -> bytes:
    """Undo Transfer-Encoding chunked and the content codings, raising PayloadError."""
    transfer = codings(transfer_encoding)
    if "chunked" in transfer:
        transfer.remove("chunked")
        data = dechunk(data)
    applied = transfer + codings(content_encoding)
    for coding in reversed(applied):
        data = _decode_coding(data, coding, cap)
    if not applied and data.startswith(GZIP_HEADER):  # gzip sent without a Content-Encoding
        try:
            unpacked = _inflate(data, 31, cap)
        except zlib.error:
            unpacked = b""
        if looks_like_markup(unpacked):
            data = unpacked
    if len(data) > cap:
        raise PayloadError("payload_too_large", f"decoded HTTP payload over {cap} bytes")
    return data


_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")


def dechunk(data: bytes) -> bytes:
    """Undo chunked transfer coding; data that does not start with a chunk-size line is returned as is.

    A payload that ends early is kept; a malformed chunk after a good start raises PayloadError.
    """
    parts = []
    pos = 0
    while pos < len(data):
        eol = data.find(b"\n", pos, pos + 1024)
        size_field = data[pos : eol if eol >= 0 else pos + 1024].split(b";", 1)[0].strip()
        if eol < 0 or not _CHUNK_SIZE.fullmatch(size_field):
            if pos == 0:
                return data  # not chunked after all
            raise PayloadError("bad_chunked_encoding", f"no chunk size at payload byte {pos}")
        size = int(size_field, 16)
        if size == 0:
            break
        start = eol + 1
        parts.append(data[start : start + size])
        pos = start + size
        if pos < len(data):
            if data.startswith(b"\r\n", pos):
                pos += 2
            elif data.startswith(b"\n", pos):
                pos += 1
            else:
                raise PayloadError("bad_chunked_encoding", f"chunk not followed by CRLF at byte {pos}")
    return b"".join(parts)


def _decode_coding(data: bytes, coding: str, cap: int) -> bytes:
    try:
        if coding in ("gzip", "x-gzip"):
            return _inflate(data, 47, cap)  # 47: gzip or zlib header
        if coding == "deflate":
            try:
                return _inflate(data, 15, cap)
            except zlib.error:
                return _inflate(data, -15, cap, complete=True)  # raw deflate, as some servers send
        if coding == "br":
            return _unbrotli(data, cap)
        error = f"unsupported content coding {coding!r}"
    except (zlib.error, brotli.error) as e:
        error = f"{coding}: {e}"
    if looks_like_markup(data):
        return data  # the headers say encoded, the payload is stored decoded
    raise PayloadError("bad_content_encoding", error)


def _inflate(data: bytes, wbits: int, cap: int, complete: bool = False) -> bytes:
    """Inflate `data`; a stream that stops early is kept unless `complete` is asked for."""
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, cap + 1)
    if len(out) > cap:
        raise PayloadError("payload_too_large", f"decoded HTTP payload over {cap} bytes")
    if complete and not inflater.eof:
        raise zlib.error("incomplete deflate stream")
    return out


def _unbrotli(data: bytes, cap: int) -> bytes:
    decompressor = brotli.Decompressor()
    parts = [decompressor.process(data, output_buffer_limit=cap + 1)]
    size = len(parts[0])
    while size <= cap and not decompressor.is_finished() and not decompressor.can_accept_more_data():
        parts.append(decompressor.process(b"", output_buffer_limit=cap + 1 - size))
        size += len(parts[-1])
    if size > cap:
        raise PayloadError("payload_too_large", f"decoded HTTP payload over {cap} bytes")
    return b"".join(parts)
