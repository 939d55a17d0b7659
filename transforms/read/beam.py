"""The read stage in Beam: file patterns -> HTML responses (WARC/ARC) or text documents (JSONL / Parquet).

    patterns -> matched files -> byte ranges -> reshuffle -> records of each range -> HTML responses (+ counts)
    patterns -> JSON lines / Parquet records -> rows -> reshuffle

Importing this module also registers http:// and https:// with Beam's FileSystems (`HttpFileSystem`), so
``--input https://...`` works on every runner (workers import it with the pipeline).
"""

from __future__ import annotations

import io
import urllib.error
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import BeamIOError, CompressedFile, CompressionTypes, FileMetadata, FileSystem
from apache_beam.metrics import Metrics

from transforms import progress
from transforms.beam_util import stage_clock
from transforms.read.documents import parse_json_line, response_row, text_document_row, unreadable_row
from transforms.read.http_reader import RetryingHttpReader, request, with_retries
from transforms.read.ranges import file_ranges, iter_records_in_range
from transforms.read.record import UNREADABLE_INPUTS, UNREADABLE_LISTED, unreadable_input
from transforms.schema import failed


class ReadHtmlResponses(beam.PTransform):
    """WARC/ARC file patterns -> (responses, counts).

    responses: (row, html bytes, charset header) per HTML response, and (failed row, None, None) per HTML
    response whose body cannot be had and per unreadable record or file; counts: one dict of record counts
    per byte range, for stats.json.
    """

    def __init__(self, crawl: str | None = None):
        super().__init__()
        self.crawl = crawl

    def expand(self, patterns):
        files = patterns | "match files" >> fileio.MatchAll()
        # file metadata -> (path, start, end)
        byte_ranges = files | "byte ranges" >> beam.FlatMap(lambda f: file_ranges(f.path, f.size_in_bytes))
        # spread byte ranges over workers (parallelism not tied to the number of files); reading and what
        # follows (extraction) are then one fused step, so no HTML ever goes through a shuffle
        spread = byte_ranges | "spread byte ranges" >> beam.Reshuffle()
        # (path, start, end) -> (row, html, charset header) per HTML response; counts per range on the side
        read = spread | "read records" >> beam.ParDo(ReadByteRange(self.crawl)).with_outputs(
            ReadByteRange.COUNTS, main="responses"
        )
        return read.responses, read[ReadByteRange.COUNTS]


class ReadTextDocuments(beam.PTransform):
    """JSONL / Parquet file patterns -> a row per document with a `text` field, ready for language ID
    (failed: ``bad_json``, ``missing_text``)."""

    def __init__(self, input_format: str, crawl: str | None = None):
        super().__init__()
        self.input_format, self.crawl = input_format, crawl

    def expand(self, patterns):
        if self.input_format == "jsonl":
            # pattern -> matched files -> (path, line number, line) -> row
            lines = (
                patterns
                | "match jsonl" >> fileio.MatchAll()
                | "open jsonl" >> fileio.ReadMatches()
                | "numbered lines" >> beam.FlatMap(numbered_lines)
            )
            rows = lines | "parse json" >> beam.Map(parse_json_line, crawl=self.crawl)
        else:
            # pattern -> (path, record) -> row
            records = patterns | "read parquet" >> beam.io.ReadAllFromParquet(with_filename=True)
            rows = records | "to rows" >> beam.MapTuple(_parquet_row, crawl=self.crawl)
        return rows | "spread documents" >> beam.Reshuffle()


def numbered_lines(readable) -> Iterator[tuple[str, int, str]]:
    """An opened JSONL file (``fileio.ReadableFile``; .gz and other compressions by extension) -> (path, line
    number from 1, line without its line break), streamed. Bytes that are not UTF-8 become U+FFFD."""
    path = readable.metadata.path
    with readable.open() as f:
        for number, line in enumerate(iter(f.readline, b""), start=1):  # CompressedFile has no __iter__
            yield path, number, line.rstrip(b"\r\n").decode("utf-8", "replace")


def _parquet_row(path: str, record: dict, crawl: str | None = None) -> dict:
    return text_document_row(record, path, crawl)


class ReadByteRange(beam.DoFn):
    """(path, start, end) byte range of a file -> (row, html bytes, charset header) per HTML response whose
    record starts in the range; record counts on 'counts' (files_read from the range at offset 0)."""

    COUNTS = "counts"

    def __init__(self, crawl: str | None):
        self.crawl = crawl

    def process(self, split: tuple[str, int, int | None]):
        path, start, end = split
        counts: dict[str, int] = {}
        records = iter_records_in_range(path, start, end)
        while True:
            with stage_clock("read"):
                rec = next(records, None)
            if rec is None:
                break
            key = f"records_read.{rec.record_type}"
            counts[key] = counts.get(key, 0) + 1
            unreadable = unreadable_input(rec)
            if unreadable:  # named: a failed row (file, offset, reason, detail) and a line in the summary
                key = f"unreadable.{rec.failure_reason}"
                counts[key] = counts.get(key, 0) + 1
                listed = counts.setdefault(UNREADABLE_INPUTS, [])
                if len(listed) < UNREADABLE_LISTED:
                    listed.append(unreadable)
                yield unreadable_row(rec, self.crawl), None, None
            if not rec.is_html:
                continue
            counts["html_responses"] = counts.get("html_responses", 0) + 1
            progress.tick("html")
            row = response_row(rec, self.crawl)
            if rec.failure_reason:
                yield failed(row, rec.failure_reason, rec.failure_detail), None, None
            else:
                yield row, rec.body, rec.charset_header
        for key, n in counts.items():
            if key != UNREADABLE_INPUTS:
                Metrics.counter("read", key).inc(n)
        if start == 0:
            counts["files_read"] = 1
        if end is None:  # the file's last range
            progress.tick("files", flush=True)
        yield beam.pvalue.TaggedOutput(self.COUNTS, counts)


class HttpFileSystem(FileSystem):
    """http:// and https:// for reading (match without globs, open, exists, size)."""

    @classmethod
    def scheme(cls):
        return "http"

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def has_dirs(self):
        return False

    def _list(self, dir_or_prefix):
        raise BeamIOError(f"cannot list {dir_or_prefix}: http(s) has no listing; give file URLs, not globs")

    def metadata(self, path):
        def head():
            with request(path, method="HEAD") as response:
                return int(response.headers.get("Content-Length") or 0)

        return FileMetadata(path, with_retries(f"HEAD {path}", head))

    def exists(self, path):
        try:
            self.metadata(path)
            return True
        except OSError as exc:
            if isinstance(exc.__cause__, urllib.error.HTTPError) and exc.__cause__.code == 404:
                return False
            raise

    def size(self, path):
        return self.metadata(path).size_in_bytes

    def last_updated(self, path):
        raise BeamIOError(f"{path}: last_updated is not supported over http")

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        raw = io.BufferedReader(RetryingHttpReader(path), buffer_size=1 << 20)
        compression_type = FileSystem._get_compression_type(path, compression_type)
        if compression_type == CompressionTypes.UNCOMPRESSED:
            return raw
        return CompressedFile(raw, compression_type=compression_type)

    def _read_only(self, *args, **kwargs):
        raise BeamIOError("http(s) is read-only in pristine")

    create = copy = rename = delete = mkdirs = _read_only


class HttpsFileSystem(HttpFileSystem):
    @classmethod
    def scheme(cls):
        return "https"
