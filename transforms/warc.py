"""Read WARC / ARC files into `Record`s: one per archive record, never an exception, never a hang.

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
(the ARC file header as ``warcinfo``); a WARC-Type that is no plain token is reported as ``unknown``.

Damaged files. Whatever cannot be read is reported with ``failure_reason``, ``failure_detail`` and
``warc_offset``, either on the record it hit or as a ``Record(record_type="unreadable")`` marker, and
reading goes on after it whenever the file can be resynchronised (time stays linear in the file size;
only an uncompressed record whose Content-Length is too long costs a re-read of what it swallowed):

- ``truncated_record``: the data ends inside the record (the file is cut short), also inside its
  header or first line.
- ``bad_gzip``: a gzip member that does not decompress (corrupt header, deflate data, CRC or length;
  a member cut short in mid-file; a damaged header flag that makes zlib read on to the end of the
  file). The record read from it carries the failure (a marker stands for it when not even its
  header could be read), then reading resumes at the next gzip member in the file that decompresses
  to a record header; every gzip header passed over on the way that does not is one more ``bad_gzip``
  marker, and the failure's detail says how many bytes were skipped ("reading resumed at offset N (M
  bytes skipped)", or "no record in the M bytes after it"). So one bad member costs one record, not
  the rest of the file. A record whose data came out whole before its member failed its check keeps
  its body if its digest proves it intact (the marker then names the member).
- ``junk_between_members`` (``trailing_garbage`` after the last member): bytes that are no gzip member;
  one marker, then reading resumes at the next member that starts a record. A file whose first bytes
  are damaged is still read as gzip (or as uncompressed) from what follows.
- ``bad_record`` / ``missing_content_length``: a record header that cannot be parsed (damaged first
  line, binary garbage, no length); a marker, then reading resumes at the next line after its start
  that starts a record (``WARC/x.y``; an ARC header line). A header whose first line is damaged but
  is followed by WARC fields (or whose first line is what is left of a ``WARC/1.x`` line, right after
  the blank lines that end a record; for ARC, a line like an ARC header with a bad field) is found
  while skipping junk and is one more ``bad_record`` marker; the record before it stays clean.
- ``bad_content_length`` / ``junk_between_records``: junk after a record's declared end is skipped up
  to the next record (any amount; junk glued in front of a record's first line too). Right after the
  record's block it is the record's: ``bad_content_length`` (a Content-Length too short). After the
  blank lines that end a record, or when the record's block digest proves its length right, it is a
  ``junk_between_records`` marker and the record stays clean (a block digest that fails blames the
  record). A Content-Length that is too long runs into the next record: in per-record gzip files the
  block is cut where it enters the next gzip member that starts a record; in uncompressed files a
  record followed by junk or a damaged header, or cut by the end of the file, is searched for a record
  start inside it; either way the record gets ``bad_content_length`` and reading resumes at the record
  it swallowed. (A length too long for the last record is indistinguishable from a cut file.)
- ``io_error``: the file could not be read on (reported, not raised).

Limits: a whole-file gzip cannot be resynchronised inside its one deflate stream (the records before
the damage are kept, the rest of the member is lost and named by one marker); a gzip member whose
header is wholly destroyed together with the end of the member before it leaves no trace but the
skipped bytes the failure before it reports; input that cannot seek is read without resync or rewind.
A ``failure_reason`` on a record that is not HTML always means the file is damaged at that record.

Digests (``digest_verified``): ``WARC-Block-Digest`` is checked over the record block and
``WARC-Payload-Digest`` over the payload, while the block is read. The payload of an HTTP record
(request / response with an http(s) URI) is what follows the HTTP headers, *as stored* (Content-Encoding
and chunking left in: what Common Crawl, Heritrix, wget, warcio and pywb hash; Common Crawl stores
payloads already decoded, with the original headers kept as ``X-Crawler-*``); a digest over the
de-chunked body (the WARC spec's "entity-body") and one over the whole block (ClueWeb09) are accepted
too. Other records' payload is their whole block. ``True``: every digest that could be checked
matches; ``False``: one does not (``digest_detail`` says which, with the stored and computed values);
``None``: nothing to check (no digest, ARC, an unknown algorithm or encoding, the payload digest of a
revisit / segmented record, a block not read to its declared end). Algorithms: sha1, sha256, sha512,
sha224, sha384, md5; values in base32 (as Common Crawl writes them), hex or base64; a value that is no
digest of its algorithm (damaged) is a mismatch. A digest mismatch is no read failure: the record is
read as usual (``failure_reason`` unset by it) and the caller decides.

HTML responses: ``response`` records (and ARC records) with an HTTP status line, any status code
(the status goes into the row). A candidate is HTML when, in this order, the non-empty
``WARC-Identified-Payload-Type``, else the HTTP ``Content-Type``, else the first bytes of the decoded
body say text/html or application/xhtml+xml. For those, ``body`` is the HTTP payload with
Transfer-Encoding chunked and Content-Encoding gzip / deflate / br removed, at most
``max_body_bytes`` (10 MiB by default) before and after decoding. A payload that does not look
encoded although the headers say so (Common Crawl's 2008 ARC keeps ``Content-Encoding: gzip`` /
``Transfer-Encoding: chunked`` over decoded payloads) is taken as it is; a gzip payload without a
Content-Encoding is unpacked if it holds markup. An HTML response whose body cannot be had gets
``is_html=True``, ``body=None`` and a ``failure_reason``: ``truncated_record``, ``payload_too_large``,
``bad_chunked_encoding``, ``bad_content_encoding``, ``bad_content_length``, ``bad_gzip``,
``http_header_too_large`` (HTTP headers over 64 KiB) or ``binary_payload`` (declared HTML but the
decoded body is evidently not text: a PNG / GIF / JPEG / PDF / ZIP / ... signature, or more than 10%
of the first 1 KiB are control bytes that no HTML charset uses; UTF-16 / UTF-32 with a byte-order
mark is text). Gzip / brotli / chunked payloads that merely stop early (as with ``WARC-Truncated``)
are kept.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

import brotli
from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.limitreader import LimitReader
from warcio.statusandheaders import StatusAndHeadersParser

MAX_BODY_BYTES = 10 * 1024 * 1024  # per HTML payload, before and after decoding
HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_HEADER = b"\x1f\x8b\x08"  # magic and deflate, the start of every real gzip member
_READ_SIZE = 1 << 16  # bytes read from the file at a time
_INFLATE_SIZE = 1 << 20  # most decompressed bytes produced at a time
_MAX_LINE = 1 << 16  # longest line read at once (longer lines come in pieces)
_MAX_HTTP_HEADER = 1 << 16  # most bytes of HTTP status line + headers
_MAX_INFO = 1 << 16  # most bytes of a warcinfo record read for isPartOf
_SCAN_SIZE = 1 << 20  # bytes read at a time when looking for the next record
_PROBE_SIZE = 1 << 16  # compressed bytes tried when checking that a gzip member starts a record
_HEAD_SIZE = 1 << 12  # decompressed bytes of a member looked at for its first line
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
    digest_verified: bool | None = None  # see the module docstring
    digest_detail: str | None = None  # which digest failed (or why none could be checked)


# ---------------------------------------------------------------------------------------- public API


def iter_records(path: str, max_body_bytes: int = MAX_BODY_BYTES) -> Iterator[Record]:
    """Records of the WARC/ARC file at `path` (local, gs://, s3://, ...); see the module docstring."""
    try:
        fileobj = _open(path)
    except Exception as e:  # noqa: BLE001 - a file that cannot be opened is reported, not raised
        yield _unreadable(path, 0, crawl_from_filename(path), "open_failed", e)
        return
    with fileobj:
        yield from _not_archive_named(iter_records_from_stream(fileobj, path, max_body_bytes), path)


def iter_records_from_stream(
    fileobj: BinaryIO, warc_filename: str, max_body_bytes: int = MAX_BODY_BYTES
) -> Iterator[Record]:
    """Records of an open WARC/ARC file (read from its current position, offsets counted from there)."""
    crawl = crawl_from_filename(warc_filename)
    try:
        stream = _ArchiveStream(fileobj)
    except Exception as e:  # noqa: BLE001
        yield _unreadable(warc_filename, 0, crawl, "io_error", e)
        return
    yield from _iter_stream(stream, warc_filename, max_body_bytes, crawl)


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
            if gzipped and fileobj.read(3) != _GZIP_HEADER:
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


# Byte ranges a file is read in, in parallel: enough of them to spread a crawl's files over the workers, few
# enough that opening one (a probe of the file's first member and its warcinfo) costs nothing beside reading it.
RANGE_BYTES = 4 * 1024 * 1024


def split_ranges(path: str, size: int, range_bytes: int | None = None) -> list[tuple[int, int | None]]:
    """Byte ranges [start, end) of a file that can be read independently (`iter_records_in_range`).

    A per-record gzip file (every record its own gzip member, as Common Crawl ships them) is cut every
    `range_bytes` (default RANGE_BYTES); the reader of a range starts at the first record member at or after its start, and
    reads every record that starts before its end. Any other layout (whole-file gzip, uncompressed, a file
    that cannot be opened or seeked) is one range: the whole file, (0, None).
    """
    range_bytes = range_bytes or RANGE_BYTES
    if size <= range_bytes or not _per_record_gzip(path):
        return [(0, None)]
    return [(start, min(start + range_bytes, size)) for start in range(0, size, range_bytes)]


def _per_record_gzip(path: str) -> bool:
    """Whether the file's first gzip member (within its first MiB) holds exactly one WARC record and more
    gzip members follow: the layout of Common Crawl's files, where every record is its own member."""
    try:
        with _open(path) as fileobj:
            if not fileobj.seekable() or fileobj.read(3) != _GZIP_HEADER:
                return False
            fileobj.seek(0)
            inflater = zlib.decompressobj(31)
            member, read = b"", 0
            while read < _SCAN_SIZE and not inflater.eof:
                data = fileobj.read(_READ_SIZE)
                if not data:
                    return False
                read += len(data)
                member += inflater.decompress(data, _SCAN_SIZE)
            if not inflater.eof:
                return False
            more = inflater.unused_data[:3] == _GZIP_HEADER or (
                len(inflater.unused_data) < 3 and (inflater.unused_data + fileobj.read(3))[:3] == _GZIP_HEADER
            )
    except Exception:  # noqa: BLE001 - the reader reports an unreadable file; here it is just not split
        return False
    return more and _one_warc_record(member)


def _one_warc_record(data: bytes) -> bool:
    """Whether `data` is one WARC record: its header, Content-Length bytes of block and the closing CRLFs."""
    head_end = data.find(b"\r\n\r\n")
    if not data.startswith(b"WARC/") or head_end < 0:
        return False
    match = re.search(rb"\r\ncontent-length:[ \t]*(\d+)", data[:head_end], re.IGNORECASE)
    if match is None:
        return False
    block_end = head_end + 4 + int(match.group(1))
    return len(data) >= block_end and not data[block_end:].strip(b"\r\n")


def iter_records_in_range(
    path: str, start: int, end: int | None, max_body_bytes: int = MAX_BODY_BYTES
) -> Iterator[Record]:
    """The records of `path` (and unreadable markers) whose offset is in [start, end) (end None: the whole
    file, however its offsets are counted); from start 0,
    `iter_records` up to `end`; from any other start (a range of `split_ranges`), from the first gzip
    member at or after `start` that starts a record. ``crawl`` comes from the file's warcinfo as for the
    whole file (the record at offset 0), else from the file name."""
    if start == 0:
        records = iter_records(path, max_body_bytes)
    else:
        records = _iter_from_member(path, start, max_body_bytes)
    for record in records:
        if end is not None and record.warc_offset >= end:
            return
        yield record


def _iter_from_member(path: str, start: int, max_body_bytes: int) -> Iterator[Record]:
    first = read_record_at(path, 0, max_body_bytes)
    known = first.record_type == "warcinfo" and first.crawl != crawl_from_filename(path)
    crawl = first.crawl if known else crawl_from_filename(path)
    with _open(path) as fileobj:
        probe = _ArchiveStream(fileobj)
        member, _ = probe.find_member(start)
        if member is None:
            return
        fileobj.seek(member)
        stream = _ArchiveStream(fileobj, start=member)
        yield from _iter_stream(stream, path, max_body_bytes, crawl, crawl_known=known)


_MARKERS_HELD = 1000  # unreadable markers held back while a file has shown no record yet


def _not_archive_named(records: Iterator[Record], path: str) -> Iterator[Record]:
    """`records`, except that a file that yields no clean record and is plainly no WARC/ARC (empty, JSON,
    Parquet, text, ...) yields one ``empty_file`` / ``not_warc`` marker saying what it is instead of the
    markers and failed records its bytes gave (``not_archive``)."""
    held: list[Record] | None = []
    for record in records:
        if held is not None and record.failure_reason and len(held) < _MARKERS_HELD:
            held.append(record)
            continue
        if held:
            yield from held
        held = None  # a clean record (or too many failures): the file is an archive, pass everything on
        yield record
    if not held:
        return
    if any(r.failure_reason in ("open_failed", "io_error") for r in held):
        yield from held  # the file could not be read at all: that is what it says, no second attempt
        return
    try:
        head = _head_bytes(path)
    except Exception:  # noqa: BLE001 - cannot look again: the markers as read
        head = None
    verdict = None if head is None else not_archive(head)
    if verdict is None:
        yield from held
        return
    yield Record(
        path, 0, "unreadable", crawl=held[0].crawl, failure_reason=verdict[0], failure_detail=verdict[1]
    )


def _head_bytes(path: str, size: int = 1 << 16) -> bytes:
    """The first `size` bytes of a file, gunzipped when it is gzip (as far as they decompress)."""
    with _open(path) as f:
        raw = f.read(size)
    if raw[:2] != _GZIP_MAGIC:
        return raw
    inflater = zlib.decompressobj(31)
    try:
        return inflater.decompress(raw, size)
    except zlib.error:
        return raw


_SUGGEST = "pass --input-format {fmt} for documents with a 'text' field"


def not_archive(head: bytes) -> tuple[str, str] | None:
    """(reason, detail) when the first bytes of a file are plainly not WARC/ARC, else None.

    ``empty_file``: no bytes (or an empty gzip); ``not_warc``: JSON Lines / JSON, Parquet, other text or
    binary data, with the ``--input-format`` to use where one fits. Pure: used on files that yielded no record.
    """
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        return "empty_file", "the file is empty: no WARC/ARC record in it"
    line = stripped[:_MAX_LINE].split(b"\n", 1)[0].rstrip(b"\r")
    if line.startswith(b"WARC/") or _is_arc_header(line, strict=True):
        return None  # a damaged archive: its markers say where
    if head[:4] == b"PAR1":
        return "not_warc", f"a Parquet file, not WARC/ARC: {_SUGGEST.format(fmt='parquet')}"
    first_line = stripped.split(b"\n", 1)[0].strip()
    if stripped[:1] in (b"{", b"["):
        import json

        try:
            value = json.loads(first_line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return "not_warc", f"JSON Lines, not WARC/ARC: {_SUGGEST.format(fmt='jsonl')}"
        return "not_warc", f"JSON, not WARC/ARC: {_SUGGEST.format(fmt='jsonl')} (one object per line)"
    sample = stripped[:4096]
    if sum(b < 9 or 13 < b < 32 for b in sample) <= len(sample) // 100:
        shown = first_line[:60].decode("utf-8", "replace")
        return "not_warc", (
            f"text that is no WARC/ARC (first line {shown!r}); for documents as JSON Lines or Parquet, "
            "pass --input-format jsonl or parquet"
        )
    return "not_warc", f"binary data that is no WARC/ARC (first bytes {stripped[:8].hex()})"


def unreadable_input(record: Record) -> dict | None:
    """What a failed row and the run's summary say about a record that could not be read (a marker, or a
    damaged record that is no HTML response): {file, offset, reason, detail}; None for a readable one."""
    if not record.failure_reason or record.is_html:
        return None
    return {
        "file": record.warc_filename,
        "offset": record.warc_offset,
        "reason": record.failure_reason,
        "detail": record.failure_detail,
    }


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


# ------------------------------------------------------------------------------------ record starts

_WARC_LINE = re.compile(rb"WARC/\d{1,3}\.\d{1,3}[ \t]*")
_WARC_LINE_INSIDE = re.compile(rb"\nWARC/\d{1,3}\.\d{1,3}[ \t]*\r?\n")
_WARC_LINE_ANYWHERE = re.compile(rb"WARC/\d{1,3}\.\d{1,3}[ \t]*\r?\n")  # also glued to junk
_WARC_FIELD = re.compile(rb"WARC-[A-Za-z-]{2,40}[ \t]*:")
_DAMAGED_WARC_LINE = re.compile(rb"WA|.{0,4}(?:ARC/|RC/\d|/\d\.\d{1,2}\s*$)")
_URL_START = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]{0,30}:")


def _is_arc_header(line: bytes, strict: bool) -> bool:
    """An ARC v1 record line: ``url ip-address archive-date content-type length``.

    Strict: a 14-digit date and a numeric length (used to resynchronise). Loose: any date of 8+
    digits and any length token (between records, so that a bad length is reported, not skipped).
    """
    parts = line.rstrip().rsplit(b" ", 4)
    if len(parts) != 5 or not _URL_START.match(parts[0]) or not parts[2].isdigit():
        return False
    if strict:
        return len(parts[2]) == 14 and parts[4].isdigit()
    return len(parts[2]) >= 8


def _find_arc_header(buf: bytes) -> int | None:
    """Index of the first ARC header line (strictly checked) in a complete line after a newline in
    `buf`, at its start or glued to junk in front of it."""
    at = buf.find(b"\n")
    while at >= 0:
        end = buf.find(b"\n", at + 1)
        if end < 0:
            return None
        start = _record_start_at(buf[at + 1 : end + 1], "arc", strict=True)
        if start is not None:
            return at + 1 + start
        at = end
    return None


def _damaged_arc_header(line: bytes) -> bool:
    """An ARC header line with a damaged field: starts with a URL scheme, or has 4+ fields of which
    the last (the length) is a number."""
    parts = line.rstrip().rsplit(b" ", 4)
    return bool(_URL_START.match(line)) or (len(parts) >= 4 and parts[-1].isdigit())


def _record_start_prefix(line: bytes, fmt: str | None) -> bool:
    """Whether `line`, the last bytes of the data, may be the beginning of a record's first line."""
    if fmt != "arc" and (line.startswith(b"WARC/") or b"WARC/".startswith(line)):
        return True
    return fmt != "warc" and (line.isalpha() or bool(_URL_START.match(line)))


_SCHEME_AHEAD = re.compile(rb"(?=(?:https?|ftp|dns|filedesc|file|urn|whois):)", re.IGNORECASE)


def _record_start_inside(line: bytes, fmt: str | None) -> int | None:
    """Index in `line` after which a record's first line starts (junk glued in front of it: a damaged
    separator, junk at the start of a file), or None."""
    if fmt != "arc":
        at = line.find(b"WARC/", 1)
        if at > 0 and _WARC_LINE.fullmatch(line[at:].rstrip(b"\r\n")):
            return at
    if fmt != "warc":  # an ARC header ends in four fixed fields: the URL before them holds the start
        parts = line.rstrip().rsplit(b" ", 4)
        if len(parts) == 5 and _is_arc_header(b"x: " + b" ".join(parts[1:]), strict=True):
            match = _SCHEME_AHEAD.search(parts[0], 1)
            if match:
                return match.start()
    return None


def _record_start_at(line: bytes, fmt: str | None, strict: bool) -> int | None:
    """Where a record's first line starts in `line`: 0 at its start, an index after junk glued in front
    of it, None nowhere. (An ARC line with junk in front of its URL passes as an ARC header with a
    garbled URL: a record starting at a URL scheme further on wins.)"""
    at_start = _is_record_start(line, fmt, strict)
    if at_start and (fmt == "warc" or line.startswith(b"WARC/") or _SCHEME_AHEAD.match(line)):
        return 0
    inside = _record_start_inside(line, fmt)
    if inside:
        return inside
    return 0 if at_start else None


def _is_record_start(data: bytes, fmt: str | None, strict: bool = True) -> bool:
    """Whether the first line of `data` starts a record of format `fmt` ("warc", "arc", None: either)."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    if fmt != "arc" and (_WARC_LINE.fullmatch(line) if strict else line.startswith(b"WARC/")):
        return True
    return fmt != "warc" and _is_arc_header(line, strict)


def _member_starts_record(data: bytes, fmt: str | None) -> bool:
    """Whether `data` (file bytes from a gzip header on) is a gzip member that starts a record."""
    if len(data) < 10 or not data.startswith(_GZIP_HEADER) or data[3] & 0xE0:
        return False
    try:
        head = zlib.decompressobj(31).decompress(data[:_PROBE_SIZE], _HEAD_SIZE)
    except zlib.error:
        return False
    return _is_record_start(head, fmt)


# ------------------------------------------------------------------------------------ record reading


def _open(path: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes  # Beam is slow to import: only here
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _seek_base(fileobj: BinaryIO, start: int) -> int | None:
    """File position of offset 0 when `fileobj` can seek (to resynchronise), else None."""
    try:
        if fileobj.seekable():
            return fileobj.tell() - start
    except Exception:  # noqa: BLE001, S110 - not seekable then
        pass
    return None


class _ArchiveStream:
    """The decompressed bytes of an archive file, for warcio to parse as if uncompressed.

    Gzip members are decompressed one after the other (a whole-file gzip is a single member);
    a file that does not start with a gzip header passes through. `tell()` counts decompressed bytes
    (file bytes for an uncompressed file). `file_offset(pos)` turns the stream position of a record
    into its offset in the file. Data errors (corrupt or truncated gzip, bytes that are no gzip
    member, read errors) end the stream and are kept in `error` as (kind, detail, file offset), with
    the stream position of the member they are in as `error_member_pos`. A seekable file can then be
    searched for the next record (`find_member`, `find_line`) and the stream `restart`-ed there.
    """

    def __init__(self, fileobj: BinaryIO, start: int = 0, skip: int = 0):
        self._file = fileobj
        self._base = _seek_base(fileobj, start)
        self._raw = b""  # compressed bytes read but not yet decompressed
        self._raw_offset = start  # file offset of self._raw[0]
        self._out = b""  # decompressed bytes, returned up to self._out_pos
        self._out_pos = 0
        self._produced = 0  # decompressed bytes produced so far
        self._inflater = None  # decompressor of the current gzip member
        self._member_offset = start  # file offset of the current member
        self._member_pos = 0  # stream position of the current member
        self._head: bytes | None = None  # first bytes of the current member until its first line is seen
        self._members: deque[tuple[int, int]] = deque()  # (stream position, file offset) of members
        self._record_members: deque[tuple[int, int]] = deque()  # the same, of members starting a record
        self._eof = False
        self.error: tuple[str, str, int] | None = None
        self.error_member_pos: int | None = None  # stream position of the member the error is in
        self.error_pos: int | None = None  # stream position where the error was found
        self._resync: tuple[int | None, list[int]] | None = None
        self._scanned_to: int | None = None  # end of the file, once a search has reached it
        self.format: str | None = None  # "warc" / "arc" once a record has been read
        self._fill_raw(2)
        self.gzipped = bool(self._raw) and _GZIP_MAGIC.startswith(self._raw[:2])  # b"\x1f": cut short
        if self._raw and not skip:
            self.gzipped = self._detect_gzip(self.gzipped)
        self.pos = 0 if self.gzipped else start
        self._produced = self.pos
        while skip > 0:
            skipped = len(self.read(min(skip, _INFLATE_SIZE)))
            if not skipped:
                break
            skip -= skipped

    @property
    def can_seek(self) -> bool:
        return self._base is not None

    def _detect_gzip(self, starts_gzip: bool) -> bool:
        """Whether the file is gzip. Normally its first bytes say; when they are damaged (a plain file
        that does not start with a record, a gzip file whose first member does not decompress to one),
        whichever comes first in the first MiB decides: a gzip member that starts a record, or a line
        that starts one."""
        if starts_gzip and _member_starts_record(self._raw[:_PROBE_SIZE], None):
            return True
        if not starts_gzip and _is_record_start(self._raw.lstrip(b"\r\n")[:_MAX_LINE], None, strict=False):
            return False
        self._fill_raw(_SCAN_SIZE)
        raw = self._raw[:_SCAN_SIZE]
        member = raw.find(_GZIP_HEADER)
        while member >= 0 and not _member_starts_record(raw[member : member + _PROBE_SIZE], None):
            member = raw.find(_GZIP_HEADER, member + 1)
        warc_line = _WARC_LINE_INSIDE.search(raw)
        arc_line = _find_arc_header(raw)
        lines = [at for at in (warc_line and warc_line.start() + 1, arc_line) if at is not None]
        if member < 0 and not lines:
            return starts_gzip
        return member >= 0 and (not lines or member < min(lines))

    def tell(self) -> int:
        return self.pos

    def at_end(self) -> bool:
        """Whether every byte there is has been read."""
        if self._out_pos == len(self._out) and not self._eof:
            self._out, self._out_pos = self._next_chunk(), 0
        return self._eof and self._out_pos == len(self._out)

    def close(self) -> None:  # the caller owns the file
        pass

    def file_offset(self, pos: int) -> int:
        """File offset of stream position `pos` (asked in increasing order): the member's offset when
        a gzip member starts there, else `pos` itself."""
        if not self.gzipped:
            return pos
        while self._members and self._members[0][0] < pos:
            self._members.popleft()
        if self._members and self._members[0][0] == pos:
            return self._members[0][1]
        return pos

    def member_offset(self, pos: int) -> int | None:
        """File offset to restart at for a record at stream position `pos`, if there is one."""
        if not self.gzipped:
            return pos
        for member_pos, offset in self._members:
            if member_pos == pos:
                return offset
            if member_pos > pos:
                break
        return None

    def record_member_after(self, low: int, high: int) -> int | None:
        """File offset of the first gzip member that starts a record at a stream position strictly
        between `low` and `high` (positions asked in increasing order)."""
        members = self._record_members
        while members and members[0][0] <= low:
            members.popleft()
        if members and members[0][0] < high:
            return members[0][1]
        return None

    def read(self, size: int = -1) -> bytes:
        while self._out_pos == len(self._out) and not self._eof:
            self._out, self._out_pos = self._next_chunk(), 0
        if size is None or size < 0:
            size = len(self._out)
        data = self._out[self._out_pos : self._out_pos + size]
        self._out_pos += len(data)
        self.pos += len(data)
        return data

    def restart(self, offset: int) -> None:
        """Go on reading at file offset `offset` (a gzip member, or any byte of an uncompressed file)."""
        self._file.seek(self._base + offset)
        self._raw, self._raw_offset = b"", offset
        self._out, self._out_pos = b"", 0
        self._inflater = self._head = None
        self._eof = False
        self.error = self.error_member_pos = self.error_pos = self._resync = None
        if self.gzipped:
            self._produced = self.pos
            for members in (self._members, self._record_members):
                while members and members[-1][0] >= self.pos:
                    members.pop()
        else:
            self.pos = offset

    def resync(self) -> tuple[int | None, list[int]]:
        """Where to go on after the current gzip error: `find_member` after it (once per error)."""
        if self._resync is None:
            kind, _, offset = self.error
            self._resync = None, []
            if self.gzipped and self.can_seek and kind in ("bad_gzip", "truncated_gzip", "trailing_garbage"):
                # truncated_gzip: the file may only seem to end in this member (a damaged header flag
                # can make zlib take the rest of the file for a file name); a truly cut file has nothing
                # after it, and searching the rest of the member costs little
                self._resync = self.find_member(offset + (kind != "trailing_garbage"))
        return self._resync

    def resync_note(self, offset: int) -> str:
        """What resynchronising after the current error skipped, from file offset `offset` on."""
        resume, _ = self.resync()
        if resume is not None:
            return f"; reading resumed at offset {resume} ({resume - offset} bytes skipped)"
        if self._scanned_to is not None and self._scanned_to > offset + 1:
            return f"; no record in the {self._scanned_to - offset - 1} bytes after it"
        return ""

    def find_member(self, offset: int) -> tuple[int | None, list[int]]:
        """(File offset of the first gzip member at or after `offset` that decompresses to a record
        header, or None; offsets of the gzip headers passed over on the way)."""
        bad: list[int] = []
        with self._file_position_kept():
            return self._find_member(offset, bad)

    def _find_member(self, offset: int, bad: list[int]) -> tuple[int | None, list[int]]:
        buf, buf_offset, eof = b"", offset, False
        try:
            self._file.seek(self._base + offset)
            while True:
                at = buf.find(_GZIP_HEADER)
                if at >= 0 and (eof or len(buf) - at >= _PROBE_SIZE):
                    if _member_starts_record(buf[at : at + _PROBE_SIZE], None):
                        return buf_offset + at, bad
                    if len(buf) > at + 3 and not buf[at + 3] & 0xE0:
                        bad.append(buf_offset + at)
                    buf, buf_offset = buf[at + 1 :], buf_offset + at + 1
                    continue
                if eof:
                    self._scanned_to = buf_offset + len(buf)
                    return None, bad
                cut = at if at >= 0 else max(0, len(buf) - 2)
                buf, buf_offset = buf[cut:], buf_offset + cut
                data = self._file.read(_SCAN_SIZE)
                eof = not data
                buf += data
        except Exception:  # noqa: BLE001 - a read error ends the search
            return None, bad

    def find_line(self, offset: int, end: int | None, fmt: str) -> int | None:
        """File offset of the first line that starts a record of format `fmt` after `offset` (and
        before `end`) in an uncompressed file: a ``WARC/x.y`` line, or a (strictly checked) ARC
        header line."""
        with self._file_position_kept():
            return self._find_line(offset, end, fmt)

    def _find_line(self, offset: int, end: int | None, fmt: str) -> int | None:
        buf, buf_offset = b"", offset
        try:
            self._file.seek(self._base + offset)
            while True:
                data = self._file.read(_SCAN_SIZE)
                buf += data
                if fmt == "warc":
                    match = _WARC_LINE_ANYWHERE.search(buf)
                    at = buf_offset + match.start() if match else None
                    keep = min(len(buf), 32)
                else:
                    at, keep = _find_arc_header(buf), len(buf) - buf.rfind(b"\n")
                    at = None if at is None else buf_offset + at
                if at is not None:
                    return at if end is None or at < end else None
                if not data or (end is not None and buf_offset + len(buf) >= end):
                    return None
                buf, buf_offset = buf[len(buf) - keep :], buf_offset + len(buf) - keep
        except Exception:  # noqa: BLE001 - a read error ends the search
            return None

    @contextmanager
    def _file_position_kept(self):
        """Scan the file elsewhere, then go on reading where the stream was."""
        position = self._file.tell()
        try:
            yield
        finally:
            self._file.seek(position)

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

    def _stop(self, kind: str, detail: str, offset: int, member_pos: int | None = None) -> None:
        self._eof = True
        if self.error is None:
            self.error = (kind, detail, offset)
            self.error_member_pos = member_pos
            self.error_pos = self._produced

    def _next_chunk(self) -> bytes:
        if not self.gzipped:
            self._fill_raw(1)
            data, self._raw = self._raw, b""
            self._raw_offset += len(data)
            self._eof = self._eof or not data
            return data
        if self._inflater is None:  # at a member boundary
            self._fill_raw(2)
            if not self._raw:
                self._eof = True
                return b""
            if _GZIP_MAGIC.startswith(self._raw):  # a single 0x1f byte
                self._stop(
                    "truncated_gzip", "file ends inside a gzip header", self._raw_offset, self._produced
                )
                return b""
            if not self._raw.startswith(_GZIP_MAGIC):
                self._stop(
                    "trailing_garbage", "data that is no gzip member", self._raw_offset, self._produced
                )
                return b""
            self._inflater = zlib.decompressobj(31)
            self._member_offset, self._member_pos = self._raw_offset, self._produced
            self._head = b""
            self._members.append((self._produced, self._raw_offset))
        self._fill_raw(1)
        if not self._raw:
            self._stop(
                "truncated_gzip", "file ends inside a gzip member", self._member_offset, self._member_pos
            )
            return b""
        before = self._inflater.copy()
        try:
            data = self._inflater.decompress(self._raw, _INFLATE_SIZE)
        except zlib.error as e:
            data = _salvage(before, self._raw[: _INFLATE_SIZE // 2])  # what comes before the damage
            self._produced += len(data)
            self._stop("bad_gzip", f"gzip member: {e}", self._member_offset, self._member_pos)
            return data
        rest = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
        self._raw_offset += len(self._raw) - len(rest)
        self._raw = rest
        if self._head is not None:
            self._head += data[:_HEAD_SIZE]
            if b"\n" in self._head or len(self._head) >= _HEAD_SIZE or self._inflater.eof:
                if _is_record_start(self._head, None):
                    self._record_members.append((self._member_pos, self._member_offset))
                self._head = None
        if self._inflater.eof:
            self._inflater = None
        self._produced += len(data)
        return data


def _salvage(inflater, raw: bytes) -> bytes:
    """What `inflater` puts out for `raw` up to the byte where it fails (deflate is decoded in
    order: everything before a corrupt byte is good, bar the garbage a bit flip may decode to)."""
    out = []
    step = 4096
    at = 0
    while at < len(raw) and step:
        saved = inflater.copy()
        try:
            out.append(inflater.decompress(raw[at : at + step]))
            at += step
        except zlib.error:
            inflater = saved
            step = 1 if step > 1 else 0  # then byte by byte up to the failing byte
        if inflater.eof:
            break
    return b"".join(out)


class _LineReader(BufferedReader):
    """warcio's buffered reader, with lines capped at `_MAX_LINE` bytes (longer ones come in pieces):
    warcio reads header lines unbounded, and quadratically in their length."""

    def readline(self, length=None):
        if length is None or length < 0 or length > _MAX_LINE:
            length = _MAX_LINE
        return BufferedReader.readline(self, length)


class _RecordIterator(ArchiveIterator):
    """warcio's iterator over an already decompressed stream, with what lies between records handled
    our way.

    warcio drops the first line after a record when it is not blank. That loses the first record of
    Common Crawl's 2008 ARC (its file header's length includes the separating newline). Here a
    non-blank line that can start the next record (an ARC header line in an ARC file, a ``WARC/``
    line in a WARC file) is kept; other lines are junk: skipped, their bytes counted in `junk` (from
    stream position `junk_at`). A run of junk lines with a WARC field in its first three lines is a
    record header with a damaged first line: its position goes into `damaged` (and junk after it is
    not counted in `junk`). With ``resync=True`` the iterator first skips to the next line that
    starts a record (strictly checked), sharing `reader` with the iterator that failed.
    """

    def __init__(self, stream: _ArchiveStream, reader=None, fmt: str | None = None, resync: bool = False):
        super().__init__(stream, no_record_parse=True)
        self.reader = reader if reader is not None else _LineReader(stream)
        self.known_format = fmt
        self.offset = stream.tell() - self.reader.rem_length()
        self.junk = 0
        self.junk_at: int | None = None
        self.damaged: list[int] = []
        self.cut_at: int | None = None
        self.lead_junk = 0  # bytes before the first record (when they share its first line)
        if resync:
            line, _ = self._consume_blanklines(resync=True)
            self.next_line = line
            self.offset = stream.tell() - self.reader.rem_length() - len(line or b"")
        else:  # the first line goes to warcio as it is, unless a record starts inside it
            line = self.reader.readline(_MAX_LINE)
            self.lead_junk = (_record_start_at(line, fmt, strict=False) or 0) if line else 0
            self.next_line = line[self.lead_junk :] or None
            self.offset += self.lead_junk

    def _consume_blanklines(self, resync: bool = False):
        empty_size = 0
        start = self.fh.tell() - self.reader.rem_length()
        self.junk, self.junk_at, self.damaged, self.cut_at = 0, None, [], None
        self.junk_after_separator = False  # the junk comes after the blank lines that end a record
        run_at, run_lines, run_bytes = None, 0, 0  # the current run of junk lines
        blank_lines = 0
        while True:
            at = self.fh.tell() - self.reader.rem_length()
            line = self.reader.readline(_MAX_LINE)
            if not line:
                return None, empty_size
            if not line.strip():
                empty_size += len(line)
                blank_lines += 1
                run_at = None
                continue
            inside = _record_start_at(line, self.known_format, strict=resync)
            if inside == 0:
                return line, empty_size
            separator = blank_lines >= (1 if self.known_format == "arc" else 2)
            if inside:  # junk, then a record's first line
                if self.junk_at is None:
                    self.junk_at, self.junk_after_separator = at, separator
                if not self.damaged:
                    self.junk += inside
                return line[inside:], empty_size
            if (
                not line.endswith(b"\n")
                and len(line) < _MAX_LINE
                and _record_start_prefix(line, self.known_format)
            ):
                self.cut_at = at  # the data ends inside the first line of a record
                return None, empty_size
            first = self.junk_at is None
            if first:
                self.junk_at, self.junk_after_separator = at, separator
            if run_at is None:
                run_at, run_lines, run_bytes = at, 0, 0
            run_lines += 1
            if self.known_format == "arc":
                # where the next record should start, a line like an ARC header with a bad field
                if run_at == self.junk_at and run_lines <= 3 and not self.damaged and not resync:
                    if _damaged_arc_header(line):
                        self.junk -= run_bytes
                        self.damaged.append(at)
            elif (
                run_lines <= 3
                and not (resync and run_at == start)  # the rest of the header that just failed
                and (not self.damaged or self.damaged[-1] != run_at)
                and (
                    _WARC_FIELD.match(line)
                    # after the blank lines that end a record, what is left of a WARC/1.x line
                    or (first and blank_lines >= 2 and not resync and _DAMAGED_WARC_LINE.match(line))
                )
            ):
                if not self.damaged:
                    self.junk -= run_bytes  # the damaged header's first line is no junk of the record
                self.damaged.append(run_at)
            run_bytes += len(line)
            if not self.damaged:
                self.junk += len(line)


class _Unreadable(Exception):
    """The record cannot be read: report it and resynchronise."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _iter_stream(
    stream: _ArchiveStream, name: str, max_body_bytes: int, crawl: str | None, crawl_known: bool = False
) -> Iterator[Record]:
    it = _RecordIterator(stream)
    yielded = False  # anything yielded yet
    if it.lead_junk:
        detail = f"{it.lead_junk} bytes that are no record before the first record"
        yield _unreadable(
            name, stream.file_offset(it.offset - it.lead_junk), crawl, "junk_between_records", detail
        )
        yielded = True
    reported = False  # the stream's current error was reported on a record
    # the first isPartOf of a warcinfo record is the file's crawl (crawl_known: it was found already)
    while True:
        pos = it.offset
        result = None
        try:
            raw = next(it, None)
            if raw is not None:
                result = _make_record(raw, it, stream, name, crawl, max_body_bytes)
        except Exception as e:  # noqa: BLE001 - warcio's parse errors and anything unexpected
            if stream.error is None:  # else: the data ended inside a record header, reported below
                reason, detail = (e.reason, e.detail) if isinstance(e, _Unreadable) else ("bad_record", e)
                if stream.at_end() and not it.reader.rem_length():
                    reason, detail = "truncated_record", f"the data ends inside the record header ({detail})"
                yield _unreadable(name, stream.file_offset(pos), crawl, reason, detail)
                yielded = True
                # the parser may have read on into the next record: look for it from just after here
                it = _RecordIterator(stream, _reader_back_at(stream, it, pos), stream.format, resync=True)
                continue
        if result is None:  # end of the data, or of what can be read
            if stream.error is None:
                if not yielded:
                    yield _unreadable(
                        name, stream.file_offset(pos), crawl, "no_records", "no record in the file"
                    )
                return
            kind, detail, offset = stream.error
            resume, bad = stream.resync()
            if resume is not None:  # there is more after it: no end of the file, nor of the gzip data
                kind = {"trailing_garbage": "junk_between_members", "truncated_gzip": "bad_gzip"}.get(
                    kind, kind
                )
            detail = f"{detail}{stream.resync_note(offset)}"
            if not reported:
                yield _unreadable(name, offset, crawl, kind, detail)
            for at in bad:
                yield _unreadable(
                    name, at, crawl, "bad_gzip", "gzip member that does not decompress to a record"
                )
            if resume is None:
                return
            stream.restart(resume)
            it = _RecordIterator(stream, fmt=stream.format)
            yielded, reported = True, False
            continue
        record, is_part_of, markers, restart, carried_error = result
        reported = reported or carried_error
        if is_part_of and not crawl_known:
            crawl = record.crawl = is_part_of
            crawl_known = True
        yield record
        yielded = True
        for kind, offset, detail in markers:
            yield _unreadable(name, offset, crawl, kind, detail)
        if restart is not None:
            stream.restart(restart)
            it = _RecordIterator(stream, fmt=stream.format)
            reported = False


def _reader_back_at(stream: _ArchiveStream, it: _RecordIterator, pos: int):
    """`it`'s reader, moved back to one byte after stream position `pos` if it has read beyond (None:
    the stream was restarted there, a new reader is needed)."""
    reader = it.reader
    back = stream.tell() - reader.rem_length() - (pos + 1)
    if back <= 0:
        return reader
    if reader.buff is not None and reader.buff.tell() >= back:  # still in its buffer
        reader.buff.seek(reader.buff.tell() - back)
        return reader
    if not stream.can_seek:
        return reader
    if not stream.gzipped:
        stream.restart(pos + 1)
        return None
    member = stream.record_member_after(pos, stream.tell() - reader.rem_length())
    if member is None:
        return reader
    stream.restart(member)
    return None


def _unreadable(name: str, offset: int, crawl: str | None, kind: str, detail) -> Record:
    if isinstance(detail, BaseException):
        detail = f"{type(detail).__name__}: {detail}"
    detail = " ".join(str(detail).split())[:500]
    return Record(name, offset, "unreadable", crawl=crawl, failure_reason=kind, failure_detail=detail)


_RECORD_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _record_type(value: str | None) -> str:
    value = (value or "").strip().lower()
    return value if _RECORD_TYPE.fullmatch(value) else "unknown"


def _make_record(raw, it: _RecordIterator, stream: _ArchiveStream, name, crawl, max_body_bytes):
    """Read one parsed warcio record to its end.

    Returns (its Record, the isPartOf of a warcinfo record, markers to yield after it as
    (reason, offset, detail), the file offset to restart reading at or None, whether the record
    carries the stream's error).
    """
    headers = raw.rec_headers
    block = raw.raw_stream
    start_pos = it.offset
    known_format = stream.format
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
    if length_value is None or not isinstance(block, LimitReader):
        # warcio would read the rest of the file as this record's block: resynchronise instead.
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

    digests = _Digests.of(headers, raw.format, record_type)
    reader = _HashingReader(block, digests) if digests is not None else block
    http_record = record_type in ("response", "request", "revisit") and bool(url)
    http_record = http_record and url.lower().startswith(("http:", "https:"))
    html = None  # True / False once known; None: to be sniffed from the body
    http = None
    header_complete = True  # the end of the HTTP headers was found (or there are none)
    if record_type == "response" and http_record:
        http, header_complete = _parse_http_headers(reader)
    elif http_record and digests is not None and digests.payload is not None:
        header_complete = _skip_http_headers(reader)
    if digests is not None:
        digests.start_payload(http_record, header_complete)
    if http is not None:
        record.http_status, content_type_value = http[0], http[1]
        record.content_type = _media_type(content_type_value)
        record.charset_header = _charset_param(content_type_value)
        html = _declared_html(record.identified_payload_type, record.content_type)
    chunked = http is not None and "chunked" in _codings(http[3])
    is_part_of = None
    keep = 0
    if record_type == "warcinfo":
        keep = _MAX_INFO
    elif http is not None and html is not False:
        keep = max_body_bytes
    elif chunked and digests is not None and digests.payload is not None:
        keep = max_body_bytes  # to check a digest over the de-chunked payload
    overrun = _overrun_check(stream, it, start_pos) if stream.gzipped else None
    payload, too_large, overrun_at, tail = _read_block(reader, keep, overrun)
    if record_type == "warcinfo":
        is_part_of = _is_part_of(payload)

    complete = block.limit == 0 and overrun_at is None
    restart = overrun_at
    if restart is None:
        it.read_to_end()  # consumes the blank lines (and junk) after the record, sets the offset
    record.warc_offset = stream.file_offset(start_pos)
    if raw.format == "arc" or not record.warc_record_id:
        key = f"{url} {date_value} {record.warc_offset}"
        record.warc_record_id = f"<urn:sha1:{hashlib.sha1(key.encode('utf-8', 'surrogatepass')).hexdigest()}>"
    if digests is not None and complete:
        record.digest_verified, record.digest_detail = digests.verdict(
            None if too_large else payload, chunked
        )
    elif digests is not None:
        record.digest_detail = digests.detail or "record not read to its end"

    # A failure of the record itself (the file is damaged here) is kept on any record; a failure to
    # decode the payload only on HTML responses.
    failure = None
    carried_error = False
    markers: list[tuple[str, int, str]] = []
    error = stream.error
    if error and error[0] == "truncated_gzip" and stream.resync()[0] is not None:
        error = ("bad_gzip", "gzip member that does not end before the next one", error[2])
    if overrun_at is not None:
        failure = ("bad_content_length", f"length {length_value} runs into the record at offset {overrun_at}")
    elif not complete:
        if error and error[0] in ("bad_gzip", "io_error"):
            failure = (error[0], f"{error[1]} ({block.limit} bytes of the record missing)")
        else:
            cause = f" ({error[0]}: {error[1]})" if error else ""
            failure = (
                "truncated_record",
                f"data ends {block.limit} bytes before the end of the record{cause}",
            )
        carried_error = error is not None and error[0] != "trailing_garbage"
    elif (
        error
        and error[0] in ("bad_gzip", "truncated_gzip")
        and stream.error_member_pos <= start_pos
        and (not it.next_line or stream.error_pos <= it.offset)  # found before the next record
        and not record.digest_verified
    ):  # the record was read whole, but its gzip member fails its check or misses its end
        reason = "bad_gzip" if error[0] == "bad_gzip" else "truncated_record"
        failure = (reason, f"the gzip member holding the record is damaged: {error[1]}")
        carried_error = True
    elif it.junk and error and stream.error_member_pos is not None and stream.error_member_pos <= it.junk_at:
        pass  # what follows the record was decoded from a damaged gzip member: reported as that
    elif it.junk:
        # the junk is no part of this record when its digest proves its length right, or when the junk
        # comes after the blank lines that end a record (and no digest says the length is wrong)
        if record.digest_verified or (it.junk_after_separator and record.digest_verified is None):
            detail = f"{it.junk} bytes that are no record after the record at offset {record.warc_offset}"
            markers.append(("junk_between_records", stream.file_offset(it.junk_at), detail))
        else:
            failure = ("bad_content_length", f"{it.junk} bytes of junk after the record")
    elif not _valid_length(length_value):
        failure = ("bad_content_length", f"invalid record length {length_value!r}")
    if restart is None:
        for at in it.damaged:
            markers.append(("bad_record", stream.file_offset(at), "record header with a damaged first line"))
        if it.cut_at is not None and stream.error is None:
            markers.append(
                ("truncated_record", stream.file_offset(it.cut_at), "data ends in a record's first line")
            )

    # An ARC length a few bytes too long eats the start of the next header line ("ht" of "http://..."):
    # the block's unfinished last line and the next line make a whole ARC header.
    head = tail[tail.rfind(b"\n") + 1 :]
    if (
        raw.format == "arc"
        and restart is None
        and failure is None
        and head
        and it.next_line
        and not _SCHEME_AHEAD.match(it.next_line)
        and _SCHEME_AHEAD.match(head + it.next_line)
        and _is_arc_header(head + it.next_line, strict=True)
        and not stream.gzipped
        and stream.can_seek
    ):
        found = it.offset - len(head)
        failure = ("bad_content_length", f"length {length_value} runs into the record at offset {found}")
        restart, markers = found, []

    # A length that is too long swallows the records after it: look for one inside this record.
    # (Junk or a damaged record header after it, or the end of the data inside it, can be that.)
    suspect = failure is not None and failure[0] in ("truncated_record", "bad_content_length")
    suspect = suspect or (bool(it.damaged) and not record.digest_verified)
    if suspect and restart is None and not stream.gzipped and stream.can_seek:
        limits = [it.offset] if it.next_line else []
        found = stream.find_line(record.warc_offset + 1, min(limits + it.damaged, default=None), raw.format)
        if found is not None:
            failure = ("bad_content_length", f"length {length_value} runs into the record at offset {found}")
            restart, markers, carried_error = found, [], False

    if http is not None and html is not False:
        body = payload_failure = None
        if too_large:
            payload_failure = ("payload_too_large", f"HTTP payload over {max_body_bytes} bytes")
        elif not header_complete:
            payload_failure = ("http_header_too_large", f"HTTP headers over {_MAX_HTTP_HEADER} bytes")
        elif failure is None:
            try:
                body = _decode_payload(payload, http[2], http[3], max_body_bytes)
            except _PayloadError as e:
                payload_failure = (e.reason, str(e))
        if html is None:
            html = _sniff_html(body if body is not None else payload)
        elif body is not None and (binary := _binary_kind(body)):
            declared = record.identified_payload_type or record.content_type
            payload_failure, body = ("binary_payload", f"{binary}, declared {declared}"), None
        record.is_html = html
        if html:
            failure = failure or payload_failure
            record.body = None if failure else body
    if failure:
        record.failure_reason, record.failure_detail = failure
        if carried_error:
            record.failure_detail += stream.resync_note(record.warc_offset)
        if raw.format != known_format:
            it.known_format = known_format  # a damaged record does not decide the file's format
    else:
        stream.format = raw.format
    return record, is_part_of, markers, restart, carried_error


def _overrun_check(stream: _ArchiveStream, it: _RecordIterator, start_pos: int) -> Callable[[], int | None]:
    """For a per-record gzip file: the offset of a record's gzip member that the block being read
    has run into (a Content-Length too long), else None."""

    def check() -> int | None:
        return stream.record_member_after(start_pos, stream.tell() - it.reader.rem_length())

    return check


def _read_block(
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
        data = block.read(_READ_SIZE)
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


def _parse_http_headers(block) -> tuple[tuple[int, str | None, str | None, str | None] | None, bool]:
    """((status, Content-Type, Content-Encoding, Transfer-Encoding) of an HTTP response or None,
    whether the headers ended within `_MAX_HTTP_HEADER` bytes)."""
    head = LimitReader(block, _MAX_HTTP_HEADER)
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


def _skip_http_headers(block) -> bool:
    """Read an HTTP message's start line and headers; whether they ended within `_MAX_HTTP_HEADER`."""
    head = LimitReader(block, _MAX_HTTP_HEADER)
    while True:
        line = head.readline()
        if not line:
            return head.limit > 0
        if not line.strip():
            return True


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


# ---------------------------------------------------------------------------------------- digests

_DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha512": 64, "sha224": 28, "sha384": 48, "md5": 16}


def parse_digest(value: str | None) -> tuple[str, bytes | None] | None:
    """(hashlib name, digest bytes) of a WARC digest such as ``sha1:BASE32``.

    The value may be base32 (Common Crawl, Heritrix, warcio), hex or base64 (also URL-safe); the
    algorithm name is matched without case and dashes (``SHA-1`` is sha1). None for no digest or an
    algorithm we do not know; (name, None) for a value that is no digest of that algorithm (damaged:
    it matches nothing).
    """
    algorithm, sep, encoded = (value or "").strip().partition(":")
    algorithm = algorithm.strip().lower().replace("-", "").replace("_", "")
    size = _DIGEST_SIZES.get(algorithm)
    encoded = encoded.strip().rstrip("=")
    if not sep or size is None:
        return None
    n = len(encoded)
    try:
        if n == (size * 8 + 4) // 5:
            digest = base64.b32decode(encoded.upper() + "=" * (-n % 8))
        elif n == 2 * size:
            digest = bytes.fromhex(encoded)
        elif n == (size * 4 + 2) // 3:
            digest = base64.b64decode(
                encoded.replace("-", "+").replace("_", "/") + "=" * (-n % 4), validate=True
            )
        else:
            return algorithm, None
    except (binascii.Error, ValueError):
        return algorithm, None
    return algorithm, digest


def format_digest(algorithm: str, digest: bytes) -> str:
    """``sha1:BASE32`` as Common Crawl writes it (base32 for every algorithm)."""
    return f"{algorithm}:{base64.b32encode(digest).decode('ascii')}"


def _stored(spec: tuple[str, bytes | None, str]) -> str:
    algorithm, digest, value = spec
    return format_digest(algorithm, digest) if digest is not None else repr(value[:80])


def _digest_spec(value: str | None) -> tuple[str, bytes | None, str] | None:
    parsed = parse_digest(value)
    return (*parsed, value.strip()) if parsed else None


class _Digests:
    """The digests a record carries, computed while its block is read (see the module docstring)."""

    def __init__(self, block_spec, payload_spec, detail: str | None):
        self.block_spec = block_spec
        self.payload_spec = payload_spec
        self.detail = detail  # why a digest present cannot be checked
        # without a block digest, the block is hashed in the payload's algorithm: some writers
        # (ClueWeb09) put the block digest into WARC-Payload-Digest
        spec = block_spec or payload_spec
        self.block = hashlib.new(spec[0]) if spec else None
        self.payload = hashlib.new(payload_spec[0]) if payload_spec else None
        self.in_payload = False
        self.payload_known = True

    @classmethod
    def of(cls, headers, fmt: str, record_type: str) -> _Digests | None:
        if fmt == "arc":
            return None
        block_value = headers.get_header("WARC-Block-Digest")
        payload_value = headers.get_header("WARC-Payload-Digest")
        notes = []
        block_spec = _digest_spec(block_value)
        if block_value and block_spec is None:
            notes.append(f"block digest {block_value.strip()[:80]!r}: unknown algorithm")
        payload_spec = None
        if payload_value:
            if record_type in ("revisit", "continuation") or headers.get_header("WARC-Segment-Number"):
                notes.append(f"payload digest of a {record_type} record refers to another record's payload")
            else:
                payload_spec = _digest_spec(payload_value)
                if payload_spec is None:
                    notes.append(f"payload digest {payload_value.strip()[:80]!r}: unknown algorithm")
        if block_spec is None and payload_spec is None:
            return cls(None, None, "; ".join(notes)) if notes else None
        return cls(block_spec, payload_spec, "; ".join(notes) or None)

    def start_payload(self, http_record: bool, header_complete: bool) -> None:
        """The payload starts here (after the HTTP headers of an HTTP record, else at the block start)."""
        self.in_payload = header_complete
        self.payload_known = header_complete
        if not http_record:  # nothing was read yet: the whole block is the payload
            self.in_payload = self.payload_known = True

    def update(self, data: bytes) -> None:
        if self.block is not None:
            self.block.update(data)
        if self.in_payload and self.payload is not None:
            self.payload.update(data)

    def verdict(self, payload: bytes | None, chunked: bool) -> tuple[bool | None, str | None]:
        """(digest_verified, detail) once the whole block has been read; `payload` is the HTTP payload
        as stored when it was kept whole."""
        results, problems = [], []
        block_digest = self.block.digest() if self.block is not None else None
        if self.block_spec:
            algorithm, stored, _ = self.block_spec
            results.append(block_digest == stored)
            if not results[-1]:
                problems.append(
                    f"block digest {_stored(self.block_spec)} != computed {format_digest(algorithm, block_digest)}"
                )
        if self.payload_spec:
            algorithm, stored, _ = self.payload_spec
            computed = self.payload.digest() if self.payload_known else None
            ok = stored is not None and computed == stored
            if not ok and stored is not None and chunked and payload is not None:  # spec's "entity-body"
                try:
                    ok = hashlib.new(algorithm, _dechunk(payload)).digest() == stored
                except _PayloadError:
                    pass
            block_algorithm = (self.block_spec or self.payload_spec)[0]
            if not ok and stored is not None and block_algorithm == algorithm and block_digest == stored:
                ok = True  # ClueWeb09 writes the block digest into WARC-Payload-Digest
            if ok or computed is not None:
                results.append(ok)
                if not ok:
                    problems.append(
                        f"payload digest {_stored(self.payload_spec)} != computed "
                        f"{format_digest(algorithm, computed)}"
                    )
            else:
                problems.append("payload digest not checkable: HTTP headers too long")
        if not results:
            return None, "; ".join(filter(None, [self.detail, *problems])) or None
        return all(results), "; ".join(filter(None, [*problems, self.detail])) or None


class _HashingReader:
    """A record block that feeds what is read from it to the record's digests."""

    def __init__(self, stream, digests: _Digests | None):
        self.stream = stream
        self.digests = digests

    def read(self, length=None) -> bytes:
        data = self.stream.read(length)
        if self.digests is not None and data:
            self.digests.update(data)
        return data

    def readline(self, length=None) -> bytes:
        data = self.stream.readline(length)
        if self.digests is not None and data:
            self.digests.update(data)
        return data


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


# Signatures of formats that are no text (WHATWG MIME sniffing's image, audio/video and archive patterns).
_BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"RIFF", "RIFF media (WebP, WAV, AVI)"),
    (b"\x00\x00\x01\x00", "icon"),
    (b"BM", None),  # BMP: only with its header size check below
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive (or docx, xlsx, jar, ...)"),
    (b"\x1f\x8b\x08", "gzip data"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE document (doc, xls, ppt)"),
    (b"OggS\x00", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"\x1a\x45\xdf\xa3", "WebM / Matroska video"),
    (b"wOFF", "WOFF font"),
    (b"wOF2", "WOFF2 font"),
    (b"\x00\x01\x00\x00\x00", "TrueType font"),
    (b"\x00asm", "WebAssembly"),
    (b"\x7fELF", "ELF executable"),
    (b"\xca\xfe\xba\xbe", "Java class"),
)
# C0 control bytes no HTML charset uses (WHATWG's "binary data bytes"; ESC stays: ISO-2022-JP)
_BINARY_BYTES = bytes([*range(0, 9), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def _binary_kind(data: bytes) -> str | None:
    """What a payload declared HTML really is when it is evidently not text, else None."""
    head = data[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 / UTF-32 with a byte-order mark: text
    for signature, kind in _BINARY_SIGNATURES:
        if head.startswith(signature):
            if kind is None:  # "BM" also starts words: a BMP has its file size next
                if len(head) < 6 or int.from_bytes(head[2:6], "little") != len(data):
                    continue
                kind = "BMP image"
            return kind
    if head[4:8] == b"ftyp":
        return "MP4 / ISO media"
    controls = len(head) - len(head.translate(None, _BINARY_BYTES))
    if controls * 10 > len(head):
        return f"binary data ({controls} control bytes in the first {len(head)})"
    return None


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
    codings = transfer + _codings(content_encoding)
    for coding in reversed(codings):
        data = _decode_coding(data, coding, cap)
    if not codings and data.startswith(_GZIP_HEADER):  # gzip sent without a Content-Encoding
        try:
            unpacked = _inflate(data, 31, cap)
        except zlib.error:
            unpacked = b""
        if _looks_like_markup(unpacked):
            data = unpacked
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
