"""Where records start: the first line of a WARC or ARC record, and gzip members that start one.

Used to tell what a file is, and to resynchronise after damage (junk, a damaged header, a bad gzip member).
"""

from __future__ import annotations

import re
import zlib

GZIP_MAGIC = b"\x1f\x8b"
GZIP_HEADER = b"\x1f\x8b\x08"  # magic and deflate, the start of every real gzip member

MAX_LINE = 1 << 16  # longest line read at once (longer lines come in pieces)

PROBE_SIZE = 1 << 16  # compressed bytes tried when checking that a gzip member starts a record
HEAD_SIZE = 1 << 12  # decompressed bytes of a member looked at for its first line


_WARC_LINE = re.compile(rb"WARC/\d{1,3}\.\d{1,3}[ \t]*")
WARC_LINE_INSIDE = re.compile(rb"\nWARC/\d{1,3}\.\d{1,3}[ \t]*\r?\n")
WARC_LINE_ANYWHERE = re.compile(rb"WARC/\d{1,3}\.\d{1,3}[ \t]*\r?\n")  # also glued to junk
WARC_FIELD = re.compile(rb"WARC-[A-Za-z-]{2,40}[ \t]*:")
DAMAGED_WARC_LINE = re.compile(rb"WA|.{0,4}(?:ARC/|RC/\d|/\d\.\d{1,2}\s*$)")
_URL_START = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]{0,30}:")


def is_arc_header(line: bytes, strict: bool) -> bool:
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


def find_arc_header(buf: bytes) -> int | None:
    """Index of the first ARC header line (strictly checked) in a complete line after a newline in
    `buf`, at its start or glued to junk in front of it."""
    at = buf.find(b"\n")
    while at >= 0:
        end = buf.find(b"\n", at + 1)
        if end < 0:
            return None
        start = record_start_at(buf[at + 1 : end + 1], "arc", strict=True)
        if start is not None:
            return at + 1 + start
        at = end
    return None


def damaged_arc_header(line: bytes) -> bool:
    """An ARC header line with a damaged field: starts with a URL scheme, or has 4+ fields of which
    the last (the length) is a number."""
    parts = line.rstrip().rsplit(b" ", 4)
    return bool(_URL_START.match(line)) or (len(parts) >= 4 and parts[-1].isdigit())


def record_start_prefix(line: bytes, fmt: str | None) -> bool:
    """Whether `line`, the last bytes of the data, may be the beginning of a record's first line."""
    if fmt != "arc" and (line.startswith(b"WARC/") or b"WARC/".startswith(line)):
        return True
    return fmt != "warc" and (line.isalpha() or bool(_URL_START.match(line)))


SCHEME_AHEAD = re.compile(rb"(?=(?:https?|ftp|dns|filedesc|file|urn|whois):)", re.IGNORECASE)


def _record_start_inside(line: bytes, fmt: str | None) -> int | None:
    """Index in `line` after which a record's first line starts (junk glued in front of it: a damaged
    separator, junk at the start of a file), or None."""
    if fmt != "arc":
        at = line.find(b"WARC/", 1)
        if at > 0 and _WARC_LINE.fullmatch(line[at:].rstrip(b"\r\n")):
            return at
    if fmt != "warc":  # an ARC header ends in four fixed fields: the URL before them holds the start
        parts = line.rstrip().rsplit(b" ", 4)
        if len(parts) == 5 and is_arc_header(b"x: " + b" ".join(parts[1:]), strict=True):
            match = SCHEME_AHEAD.search(parts[0], 1)
            if match:
                return match.start()
    return None


def record_start_at(line: bytes, fmt: str | None, strict: bool) -> int | None:
    """Where a record's first line starts in `line`: 0 at its start, an index after junk glued in front
    of it, None nowhere. (An ARC line with junk in front of its URL passes as an ARC header with a
    garbled URL: a record starting at a URL scheme further on wins.)"""
    at_start = is_record_start(line, fmt, strict)
    if at_start and (fmt == "warc" or line.startswith(b"WARC/") or SCHEME_AHEAD.match(line)):
        return 0
    inside = _record_start_inside(line, fmt)
    if inside:
        return inside
    return 0 if at_start else None


def is_record_start(data: bytes, fmt: str | None, strict: bool = True) -> bool:
    """Whether the first line of `data` starts a record of format `fmt` ("warc", "arc", None: either)."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    if fmt != "arc" and (_WARC_LINE.fullmatch(line) if strict else line.startswith(b"WARC/")):
        return True
    return fmt != "warc" and is_arc_header(line, strict)


def member_starts_record(data: bytes, fmt: str | None) -> bool:
    """Whether `data` (file bytes from a gzip header on) is a gzip member that starts a record."""
    if len(data) < 10 or not data.startswith(GZIP_HEADER) or data[3] & 0xE0:
        return False
    try:
        head = zlib.decompressobj(31).decompress(data[:PROBE_SIZE], HEAD_SIZE)
    except zlib.error:
        return False
    return is_record_start(head, fmt)
