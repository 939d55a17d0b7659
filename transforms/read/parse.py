"""Read one record that warcio has parsed the header of: its `Record`, and what the record loop does next.

The steps, in order: the header fields (`_new_record`); the block, read to its end through the record's
digests, HTTP headers first (`_read_block`); what failed in the record itself, with the markers to yield
after it (`_record_failure`); a length too long that ran into the next record (`_length_too_long`); the HTML
body (`_html_body`). A failure of the record itself (the file is damaged here) is kept on any record; a
failure to decode the payload only on HTML responses.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from warcio.limitreader import LimitReader

from transforms.read.digests import Digests, HashingReader
from transforms.read.http_message import (
    MAX_HTTP_HEADER,
    charset_param,
    codings,
    media_type,
    parse_http_headers,
    skip_http_headers,
)
from transforms.read.iterator import RecordIterator
from transforms.read.media import binary_kind, declared_html, sniff_html
from transforms.read.payload import PayloadError, decode_payload
from transforms.read.record import Record, Unreadable
from transforms.read.starts import SCHEME_AHEAD, is_arc_header
from transforms.read.stream import READ_SIZE, ArchiveStream

_MAX_INFO = 1 << 16  # most bytes of a warcinfo record read for isPartOf
_RECORD_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass
class ReadRecord:
    """One record read, and what the record loop does after yielding it."""

    record: Record
    is_part_of: str | None = None  # the isPartOf of a warcinfo record
    markers: list[tuple[str, int, str]] = field(
        default_factory=list
    )  # (reason, file offset, detail) to yield
    restart: int | None = None  # file offset to go on reading at (the record ran into the next one)
    carried_error: bool = False  # the record carries the stream's error (not reported again)


@dataclass
class _Block:
    """A record's block, read to its end or to the record it ran into."""

    http: tuple[int, str | None, str | None, str | None] | None  # status, Content-Type, -Encoding, Transfer-
    header_complete: bool  # the end of the HTTP headers was found (or there are none)
    html: bool | None  # declared HTML or not; None: to be sniffed from the body
    chunked: bool
    payload: bytes  # its first bytes as stored (as many as the record needs)
    too_large: bool  # it had more than that
    overrun_at: int | None  # file offset of the record it ran into (a Content-Length too long)
    tail: bytes  # its last bytes
    complete: bool  # read to its declared end
    stream: LimitReader  # the block (its `limit`: bytes of it missing)


def read_record(
    raw, it: RecordIterator, stream: ArchiveStream, name: str, crawl: str | None, max_body_bytes: int
) -> ReadRecord:
    """Read one parsed warcio record to its end."""
    known_format = stream.format
    start_pos = it.offset
    record, date_value, length_value = _new_record(raw, name, crawl)
    digests = Digests.of(raw.rec_headers, raw.format, record.record_type)
    block = _read_block(raw, record, digests, it, stream, start_pos, max_body_bytes)
    result = ReadRecord(record, restart=block.overrun_at)
    if record.record_type == "warcinfo":
        result.is_part_of = _is_part_of(block.payload)
    if block.overrun_at is None:
        it.read_to_end()  # consumes the blank lines (and junk) after the record, sets the offset
    record.warc_offset = stream.file_offset(start_pos)
    if raw.format == "arc" or not record.warc_record_id:
        key = f"{record.url} {date_value} {record.warc_offset}"
        record.warc_record_id = f"<urn:sha1:{hashlib.sha1(key.encode('utf-8', 'surrogatepass')).hexdigest()}>"
    if digests is not None and block.complete:
        payload = None if block.too_large else block.payload
        record.digest_verified, record.digest_detail = digests.verdict(payload, block.chunked)
    elif digests is not None:
        record.digest_detail = digests.detail or "record not read to its end"

    failure = _record_failure(result, block, it, stream, start_pos, length_value)
    failure = _length_too_long(result, failure, block, raw.format, it, stream, length_value)
    if block.http is not None and block.html is not False:
        failure = _html_body(record, block, failure, max_body_bytes)
    if failure:
        record.failure_reason, record.failure_detail = failure
        if result.carried_error:
            record.failure_detail += stream.resync_note(record.warc_offset)
        if raw.format != known_format:
            it.known_format = known_format  # a damaged record does not decide the file's format
    else:
        stream.format = raw.format
    return result


def _new_record(raw, name: str, crawl: str | None) -> tuple[Record, str | None, str | None]:
    """The Record of a parsed header (its offset is known once it is read), its date and length as written."""
    headers = raw.rec_headers
    if raw.format == "arc":
        record_type = "warcinfo" if raw.rec_type == "arc_header" else "response"
        url = _clean_url(headers.get_header("uri"))
        date_value = headers.get_header("archive-date")
        length_value = headers.get_header("length")
    else:
        record_type = _record_type(headers.get_header("WARC-Type"))
        url = _clean_url(headers.get_header("WARC-Target-URI"))
        date_value = headers.get_header("WARC-Date")
        length_value = headers.get_header("Content-Length")
    if length_value is None or not isinstance(raw.raw_stream, LimitReader):
        # warcio would read the rest of the file as this record's block: resynchronise instead.
        raise Unreadable("missing_content_length", f"record header without a length: {headers.headers!r}")
    record = Record(
        warc_filename=name,
        warc_offset=-1,  # known once the record is read
        record_type=record_type,
        warc_record_id=None if raw.format == "arc" else _strip(headers.get_header("WARC-Record-ID")),
        url=url,
        fetch_date=_parse_date(date_value),
        payload_digest=None if raw.format == "arc" else _strip(headers.get_header("WARC-Payload-Digest")),
        identified_payload_type=media_type(headers.get_header("WARC-Identified-Payload-Type")),
        crawl=crawl,
    )
    return record, date_value, length_value


def _read_block(
    raw,
    record: Record,
    digests: Digests | None,
    it: RecordIterator,
    stream: ArchiveStream,
    start_pos: int,
    max_body_bytes: int,
) -> _Block:
    """Read the record's block to its end through its digests, HTTP headers first (status and media type go
    into `record`), keeping what the record needs: a warcinfo's fields, a payload that may be HTML."""
    block = raw.raw_stream
    reader = HashingReader(block, digests) if digests is not None else block
    url = record.url
    http_record = record.record_type in ("response", "request", "revisit") and bool(url)
    http_record = http_record and url.lower().startswith(("http:", "https:"))
    http, header_complete, html = None, True, None
    if record.record_type == "response" and http_record:
        http, header_complete = parse_http_headers(reader)
    elif http_record and digests is not None and digests.payload is not None:
        header_complete = skip_http_headers(reader)
    if digests is not None:
        digests.start_payload(http_record, header_complete)
    if http is not None:
        record.http_status, content_type_value = http[0], http[1]
        record.content_type = media_type(content_type_value)
        record.charset_header = charset_param(content_type_value)
        html = declared_html(record.identified_payload_type, record.content_type)
    chunked = http is not None and "chunked" in codings(http[3])
    keep = 0
    if record.record_type == "warcinfo":
        keep = _MAX_INFO
    elif http is not None and html is not False:
        keep = max_body_bytes
    elif chunked and digests is not None and digests.payload is not None:
        keep = max_body_bytes  # to check a digest over the de-chunked payload
    overrun = _overrun_check(stream, it, start_pos) if stream.gzipped else None
    payload, too_large, overrun_at, tail = _read_to_end(reader, keep, overrun)
    complete = block.limit == 0 and overrun_at is None
    return _Block(http, header_complete, html, chunked, payload, too_large, overrun_at, tail, complete, block)


def _record_failure(
    result: ReadRecord,
    block: _Block,
    it: RecordIterator,
    stream: ArchiveStream,
    start_pos: int,
    length_value: str | None,
) -> tuple[str, str] | None:
    """What failed in the record itself (cut short, a damaged gzip member, a wrong length), or None; the
    markers to yield after it (junk after it, damaged record headers) go into `result`."""
    record = result.record
    failure = None
    error = stream.error
    if error and error[0] == "truncated_gzip" and stream.resync()[0] is not None:
        error = ("bad_gzip", "gzip member that does not end before the next one", error[2])
    if block.overrun_at is not None:
        failure = (
            "bad_content_length",
            f"length {length_value} runs into the record at offset {block.overrun_at}",
        )
    elif not block.complete:
        missing = block.stream.limit
        if error and error[0] in ("bad_gzip", "io_error"):
            failure = (error[0], f"{error[1]} ({missing} bytes of the record missing)")
        else:
            cause = f" ({error[0]}: {error[1]})" if error else ""
            failure = ("truncated_record", f"data ends {missing} bytes before the end of the record{cause}")
        result.carried_error = error is not None and error[0] != "trailing_garbage"
    elif (
        error
        and error[0] in ("bad_gzip", "truncated_gzip")
        and stream.error_member_pos <= start_pos
        and (not it.next_line or stream.error_pos <= it.offset)  # found before the next record
        and not record.digest_verified
    ):  # the record was read whole, but its gzip member fails its check or misses its end
        reason = "bad_gzip" if error[0] == "bad_gzip" else "truncated_record"
        failure = (reason, f"the gzip member holding the record is damaged: {error[1]}")
        result.carried_error = True
    elif it.junk and error and stream.error_member_pos is not None and stream.error_member_pos <= it.junk_at:
        pass  # what follows the record was decoded from a damaged gzip member: reported as that
    elif it.junk:
        # the junk is no part of this record when its digest proves its length right, or when the junk
        # comes after the blank lines that end a record (and no digest says the length is wrong)
        if record.digest_verified or (it.junk_after_separator and record.digest_verified is None):
            detail = f"{it.junk} bytes that are no record after the record at offset {record.warc_offset}"
            result.markers.append(("junk_between_records", stream.file_offset(it.junk_at), detail))
        else:
            failure = ("bad_content_length", f"{it.junk} bytes of junk after the record")
    elif not _valid_length(length_value):
        failure = ("bad_content_length", f"invalid record length {length_value!r}")
    if result.restart is None:
        for at in it.damaged:
            result.markers.append(
                ("bad_record", stream.file_offset(at), "record header with a damaged first line")
            )
        if it.cut_at is not None and stream.error is None:
            result.markers.append(
                ("truncated_record", stream.file_offset(it.cut_at), "data ends in a record's first line")
            )
    return failure


def _length_too_long(
    result: ReadRecord,
    failure: tuple[str, str] | None,
    block: _Block,
    fmt: str,
    it: RecordIterator,
    stream: ArchiveStream,
    length_value: str | None,
) -> tuple[str, str] | None:
    """`failure`, or ``bad_content_length`` when the record's length ran into the next record of an
    uncompressed file: reading restarts there (`result.restart`), markers found inside the record dropped."""
    record = result.record
    # An ARC length a few bytes too long eats the start of the next header line ("ht" of "http://..."):
    # the block's unfinished last line and the next line make a whole ARC header.
    head = block.tail[block.tail.rfind(b"\n") + 1 :]
    if (
        fmt == "arc"
        and result.restart is None
        and failure is None
        and head
        and it.next_line
        and not SCHEME_AHEAD.match(it.next_line)
        and SCHEME_AHEAD.match(head + it.next_line)
        and is_arc_header(head + it.next_line, strict=True)
        and not stream.gzipped
        and stream.can_seek
    ):
        found = it.offset - len(head)
        failure = ("bad_content_length", f"length {length_value} runs into the record at offset {found}")
        result.restart, result.markers = found, []

    # A length that is too long swallows the records after it: look for one inside this record.
    # (Junk or a damaged record header after it, or the end of the data inside it, can be that.)
    suspect = failure is not None and failure[0] in ("truncated_record", "bad_content_length")
    suspect = suspect or (bool(it.damaged) and not record.digest_verified)
    if suspect and result.restart is None and not stream.gzipped and stream.can_seek:
        limits = [it.offset] if it.next_line else []
        found = stream.find_line(record.warc_offset + 1, min(limits + it.damaged, default=None), fmt)
        if found is not None:
            failure = ("bad_content_length", f"length {length_value} runs into the record at offset {found}")
            result.restart, result.markers, result.carried_error = found, [], False
    return failure


def _html_body(
    record: Record, block: _Block, failure: tuple[str, str] | None, max_body_bytes: int
) -> tuple[str, str] | None:
    """The body of an HTTP response that is or may be HTML, decoded into `record` (with ``is_html``); returns
    `failure`, or for an HTML response the payload's failure."""
    body = payload_failure = None
    if block.too_large:
        payload_failure = ("payload_too_large", f"HTTP payload over {max_body_bytes} bytes")
    elif not block.header_complete:
        payload_failure = ("http_header_too_large", f"HTTP headers over {MAX_HTTP_HEADER} bytes")
    elif failure is None:
        try:
            body = decode_payload(block.payload, block.http[2], block.http[3], max_body_bytes)
        except PayloadError as e:
            payload_failure = (e.reason, str(e))
    html = block.html
    if html is None:
        html = sniff_html(body if body is not None else block.payload)
    elif body is not None and (binary := binary_kind(body)):
        declared = record.identified_payload_type or record.content_type
        payload_failure, body = ("binary_payload", f"{binary}, declared {declared}"), None
    record.is_html = html
    if html:
        failure = failure or payload_failure
        record.body = None if failure else body
    return failure


def _record_type(value: str | None) -> str:
    value = (value or "").strip().lower()
    return value if _RECORD_TYPE.fullmatch(value) else "unknown"


def _overrun_check(stream: ArchiveStream, it: RecordIterator, start_pos: int) -> Callable[[], int | None]:
    """For a per-record gzip file: the offset of a record's gzip member that the block being read
    has run into (a Content-Length too long), else None."""

    def check() -> int | None:
        return stream.record_member_after(start_pos, stream.tell() - it.reader.rem_length())

    return check


def _read_to_end(
    block, keep: int, overrun: Callable[[], int | None] | None = None
) -> tuple[bytes, bool, int | None, bytes]:
    """Read `block` to its end: (its first `keep` bytes, whether it had more than that, None, its last
    bytes), or, when `overrun()` finds the next record inside it, up to there: (..., that record's
    offset, ...)."""
    parts = []
    kept = 0
    more = False
    tail = b""
    while True:
        data = block.read(READ_SIZE)
        if overrun is not None:
            at = overrun()
            if at is not None:
                return b"".join(parts), more, at, tail
        if not data:
            return b"".join(parts), more, None, tail
        tail = (tail + data)[-256:]
        if kept < keep:
            parts.append(data[: keep - kept])
            kept += len(parts[-1])
            more = more or len(data) > len(parts[-1])
        else:
            more = True


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
