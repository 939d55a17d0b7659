"""The extraction stage in Beam: (row, html bytes, charset header) per HTML response -> row with its text."""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import tempfile
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from transforms import progress
from transforms.beam_util import STAGE_TIME, counter, dead_letter, stage_clock
from transforms.decide import as_config, thresholds_from_config
from transforms.extract import KIND_CASCADE, Extractor
from transforms.extract.cascade import extractor_kind
from transforms.extract.reuse import PayloadCache, SharedPayloadCache, extract_response, look_up
from transforms.heap import fix_mmap_threshold
from transforms.schema import STATUS_FAILED, failed


class ExtractTextFn(beam.DoFn):
    """(row, html bytes, charset header) -> row with text, title, published_date (or a failure).

    A payload already extracted by this worker, or by another worker of the machine through the files of
    `payload_dir` (same verified digest, see transforms/extract/reuse.py), reuses that result. Counters:
    extract/decided_by.<extractor>, extract/trafilatura_skipped.<rule>, extract/payload_reused (of which
    extract/payload_reused_shared read from the shared files: another worker's results, or this worker's
    after its memory let them go). `thresholds`: the config (``transforms.decide.read_thresholds``) whose URL
    rules and digest check the cascade applies before any extraction (used with the cascade only).

    `children`: extraction child processes of this DoFn instance. With 1, each page is extracted before
    the next is read. With more, pages go to whichever child is free (a thread per child waits for it)
    while this thread reads and scores the next ones, and rows come out as their extraction ends (at the
    latest in finish_bundle): one Beam worker then keeps several cores busy. A copy of a payload still
    being extracted waits for that result instead of being extracted again, as it would with 1.
    """

    def __init__(
        self,
        extractor: str,
        time_limit_s: float | None,
        options: dict | None = None,
        thresholds: dict | None = None,
        payload_run: str | None = None,
        children: int = 1,
    ):
        if children < 1:
            raise ValueError(f"children must be at least 1, not {children}")
        if thresholds is not None and not isinstance(thresholds, dict):
            raise TypeError("thresholds: the config of transforms.decide.read_thresholds, read once per run")
        self.kind = extractor
        self.time_limit_s = time_limit_s
        self.options = options
        self.config = thresholds
        self.payload_run = payload_run
        self.children = children

    def setup(self):
        fix_mmap_threshold()  # on remote workers too, and in the extraction children they start
        kwargs = {"time_limit_s": self.time_limit_s} if self.time_limit_s else {}
        self.extractors = [Extractor(self.kind, options=self.options, **kwargs) for _ in range(self.children)]
        self.extractor = self.extractors[0]
        self.cache = PayloadCache()
        if self.payload_run:
            try:
                self.cache = SharedPayloadCache(payload_dir(self.payload_run))
            except OSError:  # no such directory can be made on this machine: reuse within this worker
                pass
        # the cascade decides pages the URL rules or a digest mismatch reject before any extraction
        self.thresholds = thresholds_from_config(self.config) if self.kind == KIND_CASCADE else None
        if self.children > 1:
            self.free: queue.SimpleQueue[Extractor] = queue.SimpleQueue()
            for extractor in self.extractors:
                self.free.put(extractor)
            self.pool = ThreadPoolExecutor(self.children, thread_name_prefix="pristine-extract")
            self.start_bundle()

    def start_bundle(self):
        if self.children > 1:  # (what a failed bundle left is retried with it)
            self.pending: dict = {}  # future -> (reuse key or None, decided, [(row, html)] waiting for it)
            self.in_flight: dict = {}  # reuse key -> its future

    def process(self, element):
        row, body, charset_header = element
        if row.get("status") == STATUS_FAILED:
            yield row
            return
        if self.children > 1:
            yield from self.submit(row, body, charset_header)
            return
        try:
            with stage_clock("extract"):
                row = self.extract(row, body, charset_header)
        except Exception as exc:
            row = dead_letter(row, "extract", exc)
        progress.tick("extracted")
        yield row

    def extract(self, row, body, charset_header) -> dict:
        shared_before = getattr(self.cache, "shared_hits", 0)
        result, reused = extract_response(
            row, body, charset_header, self.extractor, self.cache, self.thresholds
        )
        shared = getattr(self.cache, "shared_hits", 0) > shared_before
        return self.finish(row, result, reused, shared)

    # -- several children: submit, then collect as extractions end

    def submit(self, row, body, charset_header):
        """Look the page up; reused and failed rows come out now, the others when their extraction ends.
        Also yields the rows of extractions that have ended, and waits for one when all children are busy
        and as many pages are queued."""
        try:
            with stage_clock("extract"):
                shared_before = getattr(self.cache, "shared_hits", 0)
                html, key, result, decided = look_up(row, body, charset_header, self.cache, self.thresholds)
        except Exception as exc:
            progress.tick("extracted")
            yield dead_letter(row, "extract", exc)
            return
        if result is not None:
            progress.tick("extracted")
            yield self.finish(row, result, True, getattr(self.cache, "shared_hits", 0) > shared_before)
            return
        if key is not None and not decided and key in self.in_flight:
            self.pending[self.in_flight[key]][2].append((row, html))
            return
        self.start(key, decided, row, html)
        yield from self.collect(wait_for_one=len(self.pending) >= 2 * self.children)

    def start(self, key, decided, row, html, waiting: list | None = None) -> None:
        """Extract `row`'s page in a free child; `waiting`: (row, html) of copies that take its result."""
        future = self.pool.submit(self._extract_in_thread, html, row.get("url"), decided)
        self.pending[future] = (key, decided, [(row, html), *(waiting or [])])
        if key is not None and not decided:
            self.in_flight[key] = future

    def _extract_in_thread(self, html, url, decided):
        extractor = self.free.get()
        try:
            start = time.perf_counter()
            return extractor.extract(html, url, decided), time.perf_counter() - start
        finally:
            self.free.put(extractor)

    def collect(self, wait_for_one: bool):
        """The rows of the extractions that have ended (with `wait_for_one`, after at least one has)."""
        if not self.pending:
            return
        if wait_for_one:
            done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
        else:
            done = [future for future in self.pending if future.done()]
        for future in done:
            key, decided, rows = self.pending.pop(future)
            if self.in_flight.get(key) is future:
                del self.in_flight[key]
            try:
                result, seconds = future.result()
            except Exception as exc:
                for row, _ in rows:
                    progress.tick("extracted")
                    yield dead_letter(row, "extract", exc)
                continue
            counter(STAGE_TIME, "extract").inc(int(seconds * 1e6))
            (first, _), copies = rows[0], rows[1:]
            if not decided:
                self.cache.put(key, result)
            progress.tick("extracted")
            yield self.finish(first, result, False, False)
            if copies and result.failed:  # a failure is not reused (a timeout may not repeat): next copy
                (row, html), waiting = copies[0], copies[1:]
                self.start(key, decided, row, html, waiting)
                continue
            for row, _ in copies:
                progress.tick("extracted")
                yield self.finish(row, result, True, False)

    def finish_bundle(self):
        if self.children > 1:
            while self.pending:
                for row in self.collect(wait_for_one=True):
                    yield GlobalWindows.windowed_value(row)
        for extractor in self.extractors:  # the next bundle may be a while: free the children's memory sooner
            extractor.idle_soon()

    def finish(self, row, result, reused: bool, shared: bool) -> dict:
        """The row with its extraction's columns (or failed), counted."""
        row["extractor"] = result.extractor or self.kind
        if reused:
            counter("extract", "payload_reused").inc()
            if shared:
                counter("extract", "payload_reused_shared").inc()
        else:
            if result.extractor:
                counter("extract", f"decided_by.{result.extractor}").inc()
            if result.skipped_by:
                counter("extract", f"trafilatura_skipped.{result.skipped_by}").inc()
        if result.html_truncated:
            counter("extract", "html_truncated").inc()
        if result.failure_reason:
            counter("extract", result.failure_reason).inc()
            return failed(row, result.failure_reason, result.failure_detail)
        row.update(text=result.text or "", title=result.title, published_date=result.published_date)
        return row

    def teardown(self):
        for extractor in self.extractors:
            extractor.close()
        if self.children > 1:
            self.pool.shutdown(wait=False, cancel_futures=True)


def payload_dir(run: str) -> str:
    """Where the workers of this machine share extraction results for one run (`SharedPayloadCache`)."""
    return os.path.join(tempfile.gettempdir(), f"pristine-payloads-{run}")


_PAYLOAD_DIRS: list[str] = []  # of the ExtractText transforms built in this process


@atexit.register
def remove_payload_dirs() -> None:
    """Remove the shared-result directories of the pipelines built in this process, once they have run."""
    while _PAYLOAD_DIRS:
        shutil.rmtree(_PAYLOAD_DIRS.pop(), ignore_errors=True)


class ExtractText(beam.PTransform):
    """(row, html bytes, charset header) per HTML response -> row with text, title and published_date, or
    failed (extract_timeout, ...). Failed rows pass through.

    `extractor`: trafilatura (default) or resiliparse; with `cascade` and trafilatura, the cheap first
    pass of the thresholds config's [cascade] table decides the pages it can reject
    (``transforms.extract.cascade``). `thresholds`: the config of ``transforms.decide.read_thresholds``
    (default: the packaged one). `children`: extraction processes per worker (see `ExtractTextFn`).
    `share_results`: the workers of a machine also reuse each other's results, through files (off for a
    single worker: its memory cache is enough)."""

    def __init__(
        self,
        extractor: str = "trafilatura",
        time_limit_s: float | None = None,
        cascade: bool = False,
        thresholds: dict | None = None,
        children: int = 1,
        share_results: bool = True,
    ):
        super().__init__()
        self.children = children
        self.config = as_config(thresholds) if cascade else thresholds
        self.kind, self.options = extractor_kind(extractor, cascade, self.config)
        self.time_limit_s = time_limit_s
        # results shared by the workers of a machine, in the temporary directory of the machine each worker
        # runs on; removed by `remove_payload_dirs` after the run (cloud workers' disks go with them)
        self.payload_run = uuid.uuid4().hex if share_results else None
        if self.payload_run:
            _PAYLOAD_DIRS.append(payload_dir(self.payload_run))

    def expand(self, responses):
        extract = ExtractTextFn(
            self.kind, self.time_limit_s, self.options, self.config, self.payload_run, self.children
        )
        return responses | "extract" >> beam.ParDo(extract)
