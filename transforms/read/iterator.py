"""warcio's record parser over an `ArchiveStream`, with what lies between records handled our way."""

from __future__ import annotations

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader

from transforms.read.starts import (
    DAMAGED_WARC_LINE,
    MAX_LINE,
    WARC_FIELD,
    damaged_arc_header,
    record_start_at,
    record_start_prefix,
)
from transforms.read.stream import ArchiveStream


class LineReader(BufferedReader):
    """warcio's buffered reader, with lines capped at `MAX_LINE` bytes (longer ones come in pieces):
    warcio reads header lines unbounded, and quadratically in their length."""

    def readline(self, length=None):
        if length is None or length < 0 or length > MAX_LINE:
            length = MAX_LINE
        return BufferedReader.readline(self, length)


class RecordIterator(ArchiveIterator):
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

    def __init__(self, stream: ArchiveStream, reader=None, fmt: str | None = None, resync: bool = False):
        super().__init__(stream, no_record_parse=True)
        self.reader = reader if reader is not None else LineReader(stream)
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
            line = self.reader.readline(MAX_LINE)
            self.lead_junk = (record_start_at(line, fmt, strict=False) or 0) if line else 0
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
            line = self.reader.readline(MAX_LINE)
            if not line:
                return None, empty_size
            if not line.strip():
                empty_size += len(line)
                blank_lines += 1
                run_at = None
                continue
            inside = record_start_at(line, self.known_format, strict=resync)
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
                and len(line) < MAX_LINE
                and record_start_prefix(line, self.known_format)
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
                    if damaged_arc_header(line):
                        self.junk -= run_bytes
                        self.damaged.append(at)
            elif (
                run_lines <= 3
                and not (resync and run_at == start)  # the rest of the header that just failed
                and (not self.damaged or self.damaged[-1] != run_at)
                and (
                    WARC_FIELD.match(line)
                    # after the blank lines that end a record, what is left of a WARC/1.x line
                    or (first and blank_lines >= 2 and not resync and DAMAGED_WARC_LINE.match(line))
                )
            ):
                if not self.damaged:
                    self.junk -= run_bytes  # the damaged header's first line is no junk of the record
                self.damaged.append(run_at)
            run_bytes += len(line)
            if not self.damaged:
                self.junk += len(line)
