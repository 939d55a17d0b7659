"""Read WARC / ARC files into `Record`s: one per archive record, never an exception.

The reader is warcio 1.8.1's record parser (`ArchiveIterator`) fed by our own decompressing stream,
so that every layout reads the same way:

- WARC or ARC, **gzip per record** (Common Crawl, Heritrix, IA ARC.gz): ``warc_offset`` is the byte
  offset of the record's gzip member in the file, as in the CC index; seek there and read one member.
- **uncompressed** WARC / ARC: ``warc_offset`` is the raw byte offset of the record's first line.
- **whole-file gzip** (one gzip member holding many records, e.g. ClueWeb12): ``warc_offset`` is the
  offset in the *decompressed* stream; a reader has to decompress from the start to get there.
  The first record (offset 0) is the same either way. In general: a record that starts exactly where
  a gzip member starts gets that member's file offset, any other record its decompressed offset.
  `read_record_at` tells the two apart by looking for a gzip member header at the offset.

Every record yields exactly one `Record` (warcinfo, request, metadata, revisit, ... with
``body=None``), so a caller can count records by type. ARC records are reported as ``response``
(the ARC file header as ``warcinfo``). When the file stops being readable (truncated or corrupt gzip,
garbage instead of a record header) the iterator yields one ``Record(record_type="unreadable")``
with ``failure_reason`` / ``failure_detail`` / ``warc_offset`` of the spot and stops; a record cut
short by the end of the data is yielded with ``failure_reason="truncated_record"`` instead (that is
then the one marker). Junk between records (a Content-Length too short) is skipped up to the
next ``WARC/`` line (at most 1 MiB), and the record before it gets
``failure_reason="bad_content_length"``. A ``failure_reason`` on a record that is not HTML always
means the file is damaged at that record (``truncated_record``, ``bad_content_length``).

HTML responses: ``response`` records (and ARC records) with an HTTP status line, any status code
(the status goes into the row). A candidate is HTML when, in this order, the non-empty
``WARC-Identified-Payload-Type``, else the HTTP ``Content-Type``, else the first bytes of the decoded
body say text/html or application/xhtml+xml. For those, ``body`` is the HTTP payload with
Transfer-Encoding chunked and Content-Encoding gzip / deflate / br removed, at most
``max_body_bytes`` (10 MiB by default) before and after decoding. A payload that does not look
encoded although the headers say so (Common Crawl's 2008 ARC keeps ``Content-Encoding: gzip`` /
``Transfer-Encoding: chunked`` over decoded payloads) is taken as it is. An HTML response whose body
cannot be had gets ``is_html=True``, ``body=None`` and a ``failure_reason``: ``truncated_record``,
``payload_too_large``, ``bad_chunked_encoding``, ``bad_content_encoding`` or ``bad_content_length``.
Gzip / brotli / chunked payloads that merely stop early (as with ``WARC-Truncated``) are kept.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

import brotli
from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.statusandheaders import StatusAndHeadersParser

MAX_BODY_BYTES = 10 * 1024 * 1024  # per HTML payload, before and after decoding
HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_GZIP_MAGIC = b"\x1f\x8b"
_READ_SIZE = 1 << 16  # bytes read from the file at a time
_INFLATE_SIZE = 1 << 20  # most decompressed bytes produced at a time
_MAX_LINE = 1 << 16  # longest line looked at between records
_MAX_JUNK = 1 << 20  # most junk skipped between records before giving up
_MAX_HTTP_HEADER = 1 << 16  # most bytes of HTTP status line + headers
_MAX_INFO = 1 << 16  # most bytes of a warcinfo record read for isPartOf
_SNIFF_BYTES = 1024
_META_BYTES = 4096

# Media types that say nothing (browsers sniff these as if there were no Content-Type).
_UNKNOWN_MEDIA_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "unknown/unknown", "application/unknown", "*/*"}
)


@dataclass
class Record:
    """One WARC/ARC record (or one ``unreadable`` marker); only HTML responses carry a body."""

    warc_filename: str
    warc_offset: int
    record_type: str
    warc_record_id: str | None = None
    url: str | None = None
    fetch_date: datetime | None = None
    payload_digest: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    identified_payload_type: str | None = None
    charset_header: str | None = None
    body: bytes | None = None
    is_html: bool = False
    crawl: str | None = None
    failure_reason: str | None = None
    failure_detail: str | None = None


# ---------------------------------------------------------------------------------------- public API


def iter_records(path: str, max_body_bytes: int = MAX_BODY_BYTES) -> Iterator[Record]:
    """Records of the WARC/ARC file at `path` (local, gs://, s3://, ...); see the module docstring."""
    try:
        fileobj = _open(path)
    except Exception as e:  # noqa: BLE001 - a file that cannot be opened is reported, not raised
        yield _unreadable(path, 0, crawl_from_filename(path), "open_failed", e)
        return
    with fileobj:
        yield from iter_records_from_stream(fileobj, path, max_body_bytes)


def iter_records_from_stream(
    fileobj: BinaryIO, warc_filename: str, max_body_bytes: int = MAX_BODY_BYTES
) -> Iterator[Record]:
    """Records of an open WARC/ARC file (read from its current position, offsets counted from there)."""
    stream = _ArchiveStream(fileobj)
    yield from _iter_stream(stream, warc_filename, max_body_bytes, crawl_from_filename(warc_filename))


def read_record_at(path: str, offset: int, max_body_bytes: int = MAX_BODY_BYTES) -> Record:
    """The record at `warc_offset` `offset` of `path`, read on its own (to verify provenance).

    Per-record gzip and uncompressed files are read from `offset` on; for a whole-file gzip the
    stream is decompressed from the start up to `offset`. ``crawl`` comes from the file name only
    (the warcinfo record is not read).
    """
    crawl = crawl_from_filename(path)
    try:
        with _open(path) as fileobj:
            gzipped = fileobj.read(2) == _GZIP_MAGIC
            fileobj.seek(offset)
            if gzipped and fileobj.read(3) != _GZIP_MAGIC + b"\x08":
                fileobj.seek(0)
                stream = _ArchiveStream(fileobj, skip=offset)
            else:
                fileobj.seek(offset)
                stream = _ArchiveStream(fileobj, start=offset)
            for record in _iter_stream(stream, path, max_body_bytes, crawl):
                return record
    except Exception as e:  # noqa: BLE001
        return _unreadable(path, offset, crawl, "read_failed", e)
    return _unreadable(path, offset, crawl, "no_record", "no record at this offset")


def crawl_from_filename(name: str) -> str | None:
    """``CC-MAIN-YYYY-WW`` found anywhere in a path or file name, else None."""
    match = re.search(r"CC-MAIN-(\d{4})-(\d{2})(?!\d)", name or "")
    return f"CC-MAIN-{match[1]}-{match[2]}" if match else None


def decode_html(body: bytes, charset_header: str | None = None) -> tuple[str, str]:
    """(text, charset used) of an HTML payload; never raises.

    Order: byte-order mark, the HTTP header charset, ``<meta charset>`` / ``http-equiv`` in the first
    4 KB, strict UTF-8, detection (uchardet via Resiliparse), cp1252 with replacement characters.
    Charset names are mapped as browsers do (WHATWG: iso-8859-1 -> cp1252, gb2312 -> gb18030, ...);
    unknown names are skipped. A declared charset is used only if the bytes decode with it, and loses
    to UTF-8 when the bytes are valid non-ASCII UTF-8 (servers that default to iso-8859-1 for UTF-8
    pages are common; text in another charset is practically never valid UTF-8).
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec
    utf8 = _is_utf8(body)
    for declared in (charset_header, _meta_charset(body)):
        codec = _codec(declared)
        if codec is None:
            continue
        if utf8 and not body.isascii():
            return body.decode("utf-8"), "utf-8"
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            continue
    if utf8:
        return body.decode("utf-8"), "utf-8"
    codec = _codec(detect_encoding(body, html5_compatible=False)) or "cp1252"
    return body.decode(codec, errors="replace"), codec


# ------------------------------------------------------------------------------------ record reading


def _open(path: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes  # Beam is slow to import: only here
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class _ArchiveStream:
    """The decompressed bytes of an archive file, for warcio to parse as if uncompressed.

    Gzip members are decompressed one after the other (a whole-file gzip is a single member);
    a file that does not start with a gzip header passes through. `tell()` counts decompressed bytes.
    `file_offset(pos)` turns the stream position of a record into its offset in the file. Data errors
    (corrupt or truncated gzip, trailing garbage, read errors) end the stream and are kept in `error`
    as (kind, detail, file offset).
    """

    def __init__(self, fileobj: BinaryIO, start: int = 0, skip: int = 0):
        self._file = fileobj
        self._raw = b""  # compressed bytes read but not yet decompressed
        self._raw_offset = start  # file offset of self._raw[0]
        self._out = b""  # decompressed bytes, returned up to self._out_pos
        self._out_pos = 0
        self._produced = 0  # decompressed bytes produced so far
        self._inflater = None  # decompressor of the current gzip member
        self._members: deque[tuple[int, int]] = deque()  # (stream position, file offset) of members
        self._eof = False
        self.error: tuple[str, str, int] | None = None
        self._fill_raw(2)
        self.gzipped = bool(self._raw) and _GZIP_MAGIC.startswith(self._raw[:2])  # b"\x1f": cut short
        self.pos = 0 if self.gzipped else start
        self._produced = self.pos
        while skip > 0:
            skipped = len(self.read(min(skip, _INFLATE_SIZE)))
            if not skipped:
                break
            skip -= skipped

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:  # the caller owns the file
        pass

    def file_offset(self, pos: int) -> int:
        if not self.gzipped:
            return pos
        while self._members and self._members[0][0] < pos:
            self._members.popleft()
        if self._members and self._members[0][0] == pos:
            return self._members[0][1]
        return pos

    def read(self, size: int = -1) -> bytes:
        while self._out_pos == len(self._out) and not self._eof:
            self._out, self._out_pos = self._next_chunk(), 0
        if size is None or size < 0:
            size = len(self._out)
        data = self._out[self._out_pos : self._out_pos + size]
        self._out_pos += len(data)
        self.pos += len(data)
        return data

    def _fill_raw(self, need: int) -> None:
        while len(self._raw) < need:
            try:
                data = self._file.read(_READ_SIZE)
            except Exception as e:  # noqa: BLE001 - e.g. a network error: reported as io_error
                self._stop("io_error", f"{type(e).__name__}: {e}", self._raw_offset + len(self._raw))
                return
            if not data:
                return
            self._raw += data

    def _stop(self, kind: str, detail: str, offset: int) -> None:
        self._eof = True
        if self.error is None:
            self.error = (kind, detail, offset)

    def _next_chunk(self) -> bytes:
        if not self.gzipped:
            self._fill_raw(1)
            data, self._raw = self._raw, b""
            self._eof = not data
            return data
        if self._inflater is None:  # at a member boundary
            self._fill_raw(2)
            if not self._raw:
                self._eof = True
                return b""
            if _GZIP_MAGIC.startswith(self._raw):  # a single 0x1f byte
                self._stop("truncated_gzip", "file ends inside a gzip header", self._raw_offset)
                return b""
            if not self._raw.startswith(_GZIP_MAGIC):
                self._stop("trailing_garbage", "data after the last gzip member", self._raw_offset)
                return b""
            self._inflater = zlib.decompressobj(31)
            self._member_offset = self._raw_offset
            self._members.append((self._produced, self._raw_offset))
        self._fill_raw(1)
        if not self._raw:
            self._stop("truncated_gzip", "file ends inside a gzip member", self._member_offset)
            return b""
        try:
            data = self._inflater.decompress(self._raw, _INFLATE_SIZE)
        except zlib.error as e:
            self._stop("bad_gzip", str(e), self._member_offset)
            return b""
        rest = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
        self._raw_offset += len(self._raw) - len(rest)
        self._raw = rest
        if self._inflater.eof:
            self._inflater = None
        self._produced += len(data)
        return data


class _RecordIterator(ArchiveIterator):
    """warcio's iterator over an already decompressed stream, with blank lines handled our way.

    warcio drops the first line after a record when it is not blank. That loses the first record of
    Common Crawl's 2008 ARC (its file header's length includes the separating newline). Here a
    non-blank line that can start the next record (any line in an ARC file, a ``WARC/`` line in a
    WARC file) is kept; other lines are junk, skipped up to `_MAX_JUNK` bytes and counted in `junk`.
    """

    def __init__(self, stream: _ArchiveStream):
        super().__init__(stream, no_record_parse=True)
        self.reader.set_decomp(None)  # _ArchiveStream already decompressed it
        self.junk = 0

    def _consume_blanklines(self):
        empty_size = 0
        self.junk = 0
        while True:
            line = self.reader.readline(_MAX_LINE)
            if not line:
                return None, empty_size
            if not line.strip():
                empty_size += len(line)
            elif self.known_format == "arc" or line.startswith(b"WARC/") or self.junk > _MAX_JUNK:
                return line, empty_size
            else:
                self.junk += len(line)


class _Unreadable(Exception):
    """The file cannot be read on from here."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _iter_stream(
    stream: _ArchiveStream, name: str, max_body_bytes: int, crawl: str | None
) -> Iterator[Record]:
    it = _RecordIterator(stream)
    last = None
    crawl_known = False  # the first isPartOf of a warcinfo record is the file's crawl
    while True:
        pos = it.offset
        try:
            raw = next(it, None)
            if raw is None:
                break
            record, is_part_of = _make_record(raw, it, stream, name, crawl, max_body_bytes)
        except Exception as e:  # noqa: BLE001 - warcio's parse errors and anything unexpected
            if stream.error:  # the data ended early: that is the cause
                yield _unreadable(name, stream.error[2], crawl, stream.error[0], stream.error[1])
            elif isinstance(e, _Unreadable):
                yield _unreadable(name, stream.file_offset(pos), crawl, e.reason, e.detail)
            else:
                yield _unreadable(name, stream.file_offset(pos), crawl, "bad_record", e)
            return
        if is_part_of and not crawl_known:
            crawl = record.crawl = is_part_of
            crawl_known = True
        last = record
        yield record
    if stream.error and not (last and last.failure_reason == "truncated_record"):
        kind, detail, offset = stream.error
        yield _unreadable(name, offset, crawl, kind, detail)
    elif last is None:
        yield _unreadable(name, stream.file_offset(it.offset), crawl, "no_records", "no record in the file")


def _unreadable(name: str, offset: int, crawl: str | None, kind: str, detail) -> Record:
    if isinstance(detail, BaseException):
        detail = f"{type(detail).__name__}: {detail}"
    detail = " ".join(str(detail).split())[:500]
    return Record(name, offset, "unreadable", crawl=crawl, failure_reason=kind, failure_detail=detail)


def _make_record(raw, it: _RecordIterator, stream: _ArchiveStream, name, crawl, max_body_bytes):
    """Read one parsed warcio record to its end: (its Record, the isPartOf of a warcinfo record)."""
    headers = raw.rec_headers
    block = raw.raw_stream
    if raw.format == "arc":
        record_type = "warcinfo" if raw.rec_type == "arc_header" else "response"
        url = _clean_url(headers.get_header("uri"))
        date_value = headers.get_header("archive-date")
        length_value = headers.get_header("length")
    else:
        record_type = (headers.get_header("WARC-Type") or "unknown").strip().lower()
        url = _clean_url(headers.get_header("WARC-Target-URI"))
        date_value = headers.get_header("WARC-Date")
        length_value = headers.get_header("Content-Length")
    if length_value is None or not isinstance(block, LimitReader):
        # warcio would read the rest of the file as this record's block: stop here instead.
        raise _Unreadable("missing_content_length", f"record header without a length: {headers.headers!r}")
    record = Record(
        warc_filename=name,
        warc_offset=-1,  # known once the record is read
        record_type=record_type,
        warc_record_id=None if raw.format == "arc" else _strip(headers.get_header("WARC-Record-ID")),
        url=url,
        fetch_date=_parse_date(date_value),
        payload_digest=None if raw.format == "arc" else _strip(headers.get_header("WARC-Payload-Digest")),
        identified_payload_type=_media_type(headers.get_header("WARC-Identified-Payload-Type")),
        crawl=crawl,
    )

    html = None  # True / False once known; None: to be sniffed from the body
    http = None
    if record_type == "response" and url and url.lower().startswith(("http:", "https:")):
        http = _parse_http_headers(block)
    if http is not None:
        record.http_status, content_type_value = http[0], http[1]
        record.content_type = _media_type(content_type_value)
        record.charset_header = _charset_param(content_type_value)
        html = _declared_html(record.identified_payload_type, record.content_type)
    is_part_of = None
    if record_type == "warcinfo":
        payload, too_large = _read_block(block, _MAX_INFO)
        is_part_of = _is_part_of(payload)
    elif http is not None and html is not False:
        payload, too_large = _read_block(block, max_body_bytes)
    else:
        payload, too_large = _read_block(block, 0)

    truncated = block.limit > 0
    it.read_to_end()  # consumes the blank lines (and junk) after the record, sets the offset
    record.warc_offset = stream.file_offset(it.get_record_offset())
    if raw.format == "arc" or not record.warc_record_id:
        key = f"{url} {date_value} {record.warc_offset}"
        record.warc_record_id = f"<urn:sha1:{hashlib.sha1(key.encode('utf-8', 'surrogatepass')).hexdigest()}>"

    # A failure of the record itself (the file is damaged here) is kept on any record; a failure to
    # decode the payload only on HTML responses.
    failure = None
    if truncated:
        cause = f" ({stream.error[0]}: {stream.error[1]})" if stream.error else ""
        failure = ("truncated_record", f"data ends {block.limit} bytes before the end of the record{cause}")
    elif it.junk:
        failure = ("bad_content_length", f"{it.junk} bytes of junk after the record")
    elif not _valid_length(length_value):
        failure = ("bad_content_length", f"invalid record length {length_value!r}")

    if http is not None and html is not False:
        body = payload_failure = None
        if too_large:
            payload_failure = ("payload_too_large", f"HTTP payload over {max_body_bytes} bytes")
        elif failure is None:
            try:
                body = _decode_payload(payload, http[2], http[3], max_body_bytes)
            except _PayloadError as e:
                payload_failure = (e.reason, str(e))
        if html is None:
            html = _sniff_html(body if body is not None else payload)
        record.is_html = html
        if html:
            failure = failure or payload_failure
            record.body = None if failure else body
    if failure:
        record.failure_reason, record.failure_detail = failure
    return record, is_part_of


def _read_block(block: LimitReader, keep: int) -> tuple[bytes, bool]:
    """Read `block` to its end; (its first `keep` bytes, whether it had more than that)."""
    parts = []
    kept = 0
    more = False
    while True:
        data = block.read(_READ_SIZE)
        if not data:
            return b"".join(parts), more
        if kept < keep:
            parts.append(data[: keep - kept])
            kept += len(parts[-1])
            more = more or len(data) > len(parts[-1])
        else:
            more = True


def _parse_http_headers(block: LimitReader) -> tuple[int, str | None, str | None, str | None] | None:
    """(status, Content-Type, Content-Encoding, Transfer-Encoding) of an HTTP response, else None."""
    head = LimitReader(block, _MAX_HTTP_HEADER)
    try:
        parsed = StatusAndHeadersParser([], verify=False).parse(head)
    except EOFError:
        return None
    if not parsed.protocol.upper().startswith("HTTP/"):
        return None
    # "HTTP/1.1 HTTP/1.1 200 OK" occurs (Wayback replays written by archive-query-log)
    tokens = [t for t in parsed.statusline.split() if not t.upper().startswith("HTTP/")]
    code = tokens[0] if tokens else ""
    if not (len(code) == 3 and code.isdigit()):
        return None
    return (
        int(code),
        parsed.get_header("Content-Type"),
        parsed.get_header("Content-Encoding"),
        parsed.get_header("Transfer-Encoding"),
    )


def _valid_length(value: str | None) -> bool:
    return value is not None and value.strip().isdigit()


def _is_part_of(block: bytes) -> str | None:
    match = re.search(rb"(?mi)^ispartof\s*:\s*(\S[^\r\n]*)", block)
    return match[1].decode("utf-8", "replace").strip() if match else None


def _strip(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _clean_url(value: str | None) -> str | None:
    value = (value or "").strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value.replace(" ", "%20") or None


def _parse_date(value: str | None) -> datetime | None:
    """WARC-Date (ISO 8601) or ARC date (YYYYMMDDhhmmss...) as an aware UTC datetime; None if invalid."""
    value = (value or "").strip()
    try:
        if value.isdigit():
            parsed = datetime.strptime(value[:14], "%Y%m%d%H%M%S")
        else:
            parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------------------------- HTML payloads


class _PayloadError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def _media_type(value: str | None) -> str | None:
    value = (value or "").split(";", 1)[0].split(",", 1)[0].strip().lower()
    return value or None


def _charset_param(value: str | None) -> str | None:
    match = re.search(r"""charset\s*=\s*["']?([^"';,\s]+)""", value or "", re.IGNORECASE)
    return match[1] if match else None


def _declared_html(identified: str | None, content_type: str | None) -> bool | None:
    for media_type in (identified, content_type):
        if media_type and media_type not in _UNKNOWN_MEDIA_TYPES:
            return media_type in HTML_MEDIA_TYPES
    return None


_HTML_START = re.compile(rb"\s*(?:<!doctype\s+html|<html|<head|<body)", re.IGNORECASE)


def _sniff_html(data: bytes | None) -> bool:
    data = (data or b"")[:_SNIFF_BYTES]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return _HTML_START.match(data) is not None


def _looks_like_markup(data: bytes) -> bool:
    return data[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n\f").startswith(b"<")


def _decode_payload(
    data: bytes, content_encoding: str | None, transfer_encoding: str | None, cap: int
) -> bytes:
    """Undo Transfer-Encoding chunked and the content codings, raising _PayloadError."""
    transfer = _codings(transfer_encoding)
    if "chunked" in transfer:
        transfer.remove("chunked")
        data = _dechunk(data)
    for coding in reversed(transfer + _codings(content_encoding)):
        data = _decode_coding(data, coding, cap)
    if len(data) > cap:
        raise _PayloadError("payload_too_large", f"decoded HTTP payload over {cap} bytes")
    return data


def _codings(value: str | None) -> list[str]:
    return [
        c
        for c in (v.strip().lower() for v in (value or "").split(","))
        if c and c not in ("identity", "none")
    ]


_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")


def _dechunk(data: bytes) -> bytes:
    """Undo chunked transfer coding; data that does not start with a chunk-size line is returned as is.

    A payload that ends early is kept; a malformed chunk after a good start raises _PayloadError.
    """
    parts = []
    pos = 0
    while pos < len(data):
        eol = data.find(b"\n", pos, pos + 1024)
        size_field = data[pos : eol if eol >= 0 else pos + 1024].split(b";", 1)[0].strip()
        if eol < 0 or not _CHUNK_SIZE.fullmatch(size_field):
            if pos == 0:
                return data  # not chunked after all
            raise _PayloadError("bad_chunked_encoding", f"no chunk size at payload byte {pos}")
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
                raise _PayloadError("bad_chunked_encoding", f"chunk not followed by CRLF at byte {pos}")
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
    if _looks_like_markup(data):
        return data  # the headers say encoded, the payload is stored decoded
    raise _PayloadError("bad_content_encoding", error)


def _inflate(data: bytes, wbits: int, cap: int, complete: bool = False) -> bytes:
    """Inflate `data`; a stream that stops early is kept unless `complete` is asked for."""
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, cap + 1)
    if len(out) > cap:
        raise _PayloadError("payload_too_large", f"decoded HTTP payload over {cap} bytes")
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
        raise _PayloadError("payload_too_large", f"decoded HTTP payload over {cap} bytes")
    return b"".join(parts)


# ------------------------------------------------------------------------------------ charsets

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# WHATWG decodes these labels with the superset codec
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
# Python codecs that are no charset a web page can be in
_NOT_HTML_CODECS = frozenset(
    {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "utf-7", "undefined"}
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.+-]+)""",
    re.IGNORECASE,
)


def _codec(name: str | bytes | None) -> str | None:
    """Python codec for a charset label, browser-style; None for unknown or unusable labels."""
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    name = (name or "").strip().strip("\"';").strip()
    if not name:
        return None
    try:
        codec = map_encoding_to_html5(name, fallback_utf8=False) or codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    if codec.startswith(("utf-16", "utf-32")) or codec in _NOT_HTML_CODECS:
        return None  # a declared UTF-16 without a BOM is treated as unknown (browsers: as UTF-8)
    codec = _SUPERSETS.get(codec, codec)
    try:
        b"a".decode(codec)  # rejects bytes-to-bytes codecs (base64, zlib, rot13, ...)
    except (LookupError, UnicodeDecodeError):
        return None
    return codec


def _meta_charset(body: bytes) -> bytes | None:
    match = _META_CHARSET.search(body[:_META_BYTES])
    return match[1] if match else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
