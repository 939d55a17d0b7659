"""The decompressed bytes of an archive file, resynchronised after damage, for warcio to parse.

Gzip members are decompressed one after the other (a whole-file gzip is one member); a file that does not
start with a gzip header passes through. A gzip member that does not decompress ends the stream with an
error the record loop reports (`transforms.read.archive`), then reading restarts at the next gzip member
that starts a record (`find_member`), or, in an uncompressed file, at the next line that starts one
(`find_line`).

Written by hand, not warcio's or FastWARC's readers: they stop at the damage. Over the 185 shared samples
warcio raises on 5 files and FastWARC on 8 (no ARC), reading 1,779 and 1,785 records where this reads
2,251 (`python -m bench.read_libraries`).
"""

from __future__ import annotations

import zlib
from collections import deque
from contextlib import contextmanager
from typing import BinaryIO

from transforms.read.starts import (
    GZIP_HEADER,
    GZIP_MAGIC,
    HEAD_SIZE,
    MAX_LINE,
    PROBE_SIZE,
    WARC_LINE_ANYWHERE,
    WARC_LINE_INSIDE,
    find_arc_header,
    is_record_start,
    member_starts_record,
)

READ_SIZE = 1 << 16  # bytes read from the file at a time
_INFLATE_SIZE = 1 << 20  # most decompressed bytes produced at a time

SCAN_SIZE = 1 << 20  # bytes read at a time when looking for the next record


def _seek_base(fileobj: BinaryIO, start: int) -> int | None:
    """File position of offset 0 when `fileobj` can seek (to resynchronise), else None."""
    try:
        if fileobj.seekable():
            return fileobj.tell() - start
    except Exception:  # noqa: BLE001, S110 - not seekable then
        pass
    return None


class ArchiveStream:
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
        self.gzipped = bool(self._raw) and GZIP_MAGIC.startswith(self._raw[:2])  # b"\x1f": cut short
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
        if starts_gzip and member_starts_record(self._raw[:PROBE_SIZE], None):
            return True
        if not starts_gzip and is_record_start(self._raw.lstrip(b"\r\n")[:MAX_LINE], None, strict=False):
            return False
        self._fill_raw(SCAN_SIZE)
        raw = self._raw[:SCAN_SIZE]
        member = raw.find(GZIP_HEADER)
        while member >= 0 and not member_starts_record(raw[member : member + PROBE_SIZE], None):
            member = raw.find(GZIP_HEADER, member + 1)
        warc_line = WARC_LINE_INSIDE.search(raw)
        arc_line = find_arc_header(raw)
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
                at = buf.find(GZIP_HEADER)
                if at >= 0 and (eof or len(buf) - at >= PROBE_SIZE):
                    if member_starts_record(buf[at : at + PROBE_SIZE], None):
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
                data = self._file.read(SCAN_SIZE)
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
                data = self._file.read(SCAN_SIZE)
                buf += data
                if fmt == "warc":
                    match = WARC_LINE_ANYWHERE.search(buf)
                    at = buf_offset + match.start() if match else None
                    keep = min(len(buf), 32)
                else:
                    at, keep = find_arc_header(buf), len(buf) - buf.rfind(b"\n")
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
                data = self._file.read(READ_SIZE)
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
            if GZIP_MAGIC.startswith(self._raw):  # a single 0x1f byte
                self._stop(
                    "truncated_gzip", "file ends inside a gzip header", self._raw_offset, self._produced
                )
                return b""
            if not self._raw.startswith(GZIP_MAGIC):
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
            self._head += data[:HEAD_SIZE]
            if b"\n" in self._head or len(self._head) >= HEAD_SIZE or self._inflater.eof:
                if is_record_start(self._head, None):
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
