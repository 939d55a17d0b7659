"""HTML -> main text, title and publication date, with a per-document time limit that really stops.

Pure functions first (no Beam here):

- `extract_trafilatura(html, url)`: trafilatura main text (fast mode, favor_recall, no comments, tables
  kept) plus the page title and htmldate's publication date (YYYY-MM-DD).
- `extract_resiliparse(html, url)`: Resiliparse ``extract_plain_text(main_content=True)`` plus ``<title>``;
  no date (Resiliparse has no date extractor).
- `extract_page_text(html, url)`: Resiliparse's text of the whole page (no main-content detection): the
  cascade's cheap pass (`cascade.py`, kind ``"cascade"``); `reuse.py` extracts each payload once.
- `prepare_html(html, max_html_chars)`: drops script/style bodies, then cuts what is left to the cap.
- `Extractor(kind, time_limit_s, max_html_chars)`: runs one of the extractors in a persistent child process
  and waits with a deadline. A document that runs past the limit gets its child killed (SIGKILL: a hang
  inside lxml, Resiliparse or a regex never returns to Python, so no in-process timeout can stop it) and the
  result ``failure_reason="extract_timeout"``; a child that dies (segfault, OOM kill) gives
  ``extract_crashed``; an exception raised by the extractor gives ``extract_error`` (message in
  ``failure_detail``). A new child is started lazily for the next document.

An empty extraction is not a failure: `text` is "" and the decide stage rejects the row as empty.

Settings and limits were chosen by measuring F1 (`pipeline.evaluate.extraction`, AEB benchmark) and time on the
shared data; the numbers are in the comments next to each choice.

Known pathological inputs (measured here): Resiliparse's main-content pass is quadratic in nesting depth
(10,000 unclosed ``<div>`` = 51 k chars take 1.6 s, 50,000 take 47 s); lxml silently drops content nested
deeper than 255 elements, so trafilatura returns "" for such pages; trafilatura is ~linear but slow on huge
listings (see DEFAULT_MAX_HTML_CHARS).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

KIND_TRAFILATURA = "trafilatura"
KIND_RESILIPARSE = "resiliparse"
KIND_PAGE_TEXT = "resiliparse_page"  # all visible text of the page: the cascade's cheap pass
KIND_CASCADE = "cascade"  # the page text first, trafilatura for what it cannot reject (cascade.py)

FAILURE_TIMEOUT = "extract_timeout"
FAILURE_CRASHED = "extract_crashed"
FAILURE_ERROR = "extract_error"

# Wall-clock limit per document, pipe round trip included. Per-page times through the child with the
# settings below, on a shared, busy 2-core machine:
#   AEB, 181 news pages:                         p50 11 ms, p90 21 ms, p99 33 ms, max 45 ms
#   shared/data/warc-samples, 559 HTML records:  p50 7 ms,  p90 49 ms, p99 362 ms, max 453 ms
#   synthetic worst cases at the size cap:       0.7-1.4 s (500 k chars of <br> lines, of table cells, of links)
# 5 s leaves 10x the slowest real page and 3.5x the slowest synthetic one for an oversubscribed worker (the
# deadline sees wall time, not CPU time); a real hang then costs 5 s plus a child restart (~0.5-1 s).
# Tighter limits (datatrove uses 1 s) time out healthy pages whenever the machine is busy.
DEFAULT_TIME_LIMIT_S = 5.0

# HTML still longer than this after its script and style bodies are removed (`prepare_html`) is cut to it.
# trafilatura's time grows with the size (~2-3 us a char: 1.8 M chars of <br> lines take 5 s, a 10 M char
# table 15 s: the "runs indefinitely on large bodies" of trafilatura issue #704); the cap bounds it to
# ~1.4 s. All 181 AEB pages are under 250 k once stripped (the largest is 1.49 M raw, 1.3 M of it CSS and
# JS), so F1 is the same with any cap from 250 k up; the pages still over 500 k are listings, tables and
# forum dumps. Cutting rather than failing keeps the page's first 500 k chars of text-bearing HTML and
# `html_truncated` says so (a failure would throw away pages whose beginning is fine).
DEFAULT_MAX_HTML_CHARS = 500_000

# How long a new child may take to import its extractor and warm up before the start counts as a failure.
STARTUP_TIMEOUT_S = 120.0

# A child left without work this long is stopped, and a new one started for the next page (~0.5-1 s). A
# worker runs every stage of its pipeline: once its pages are extracted (on the local runner a stage runs
# over all of its input before the next starts) the child's ~155 MB would otherwise stay for scoring,
# dedup and writing. In steady extraction the child never idles this long; a worker that waits between
# bundles pays at most one restart per IDLE_CLOSE_S of idling.
IDLE_CLOSE_S = 5.0
# After a bundle, whose successor may be a while coming (on the local runner a stage is one bundle: never),
# a child is stopped after this much idling instead: back-to-back bundles still keep it.
BUNDLE_END_IDLE_S = 1.0

# trafilatura settings, picked on the AEB (F1 / precision / recall; pages per second in one process, with
# title and date; reproduce a row with `python -m pipeline.evaluate.extraction aeb --in-process --set KEY=VALUE ...`):
#   trafilatura defaults (comments on)        0.958 / 0.939 / 0.978   ~42 p/s
#   favor_precision, no comments              0.964 / 0.958 / 0.971   ~45 p/s
#   fast, no comments                         0.962 / 0.946 / 0.979   ~63 p/s
#   fast, favor_recall, no comments           0.963 / 0.948 / 0.979   ~76 p/s   <- chosen
#   fast, favor_recall, no comments, no tables   (tables: -0.003 F1 without them, no speed gain)
#   fast, favor_precision, no comments        0.946 / 0.947 / 0.946   ~72 p/s
# `fast` skips the readability/jusText fallbacks (jusText has a known deadlock, trafilatura issue #189);
# favor_recall skips the balanced mode's second pass over pages whose first extraction is short: as good on
# the AEB and 1.5x faster on the shared WARC samples (SERPs, shops, forums). Comments are user posts below
# the article, not the page's main text.
TRAFILATURA_OPTIONS = {
    "fast": True,
    "favor_recall": True,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "with_metadata": False,  # title and date are taken separately below: full metadata costs ~8 ms a page
    "deduplicate": False,
}
# htmldate settings: the original (publication) date rather than the last-modified one, and no
# "extensive search". Extensive search (trafilatura's default) falls back to dateparser on free text: on the
# WARC samples it finds a date on 392 instead of 106 of 544 pages, mostly guesses on shop and search pages,
# at ~11 ms more a page (as much as the text extraction) plus ~3 s per new child the first time dateparser
# meets a non-English page (it compiles a regex per locale: enough to make a fresh child miss a tight time
# limit). On the AEB news pages both find a date on 178-181 of 181 pages. Without it a date costs ~1-3 ms.
DATE_OPTIONS = {"original_date": True, "extensive_search": False}

# Resiliparse settings, on the AEB (F1 / precision / recall, ~700 pages per CPU-second):
#   main_content=True only                                  0.898 / 0.830 / 0.979
#   + alt_texts=False, comments=False                       0.927 / 0.879 / 0.981
#   + post_meta=False                                       0.934 / 0.891 / 0.981   <- chosen
# List bullets are kept: the Gopher bullet-line rule needs them (removing them changes F1 by < 0.001).
RESILIPARSE_OPTIONS = {
    "main_content": True,
    "preserve_formatting": True,
    "alt_texts": False,
    "comments": False,
    "post_meta": False,
    "list_bullets": True,
    "links": False,
    "form_fields": False,
    "noscript": False,
}

MAX_TITLE_CHARS = 1_000


class ExtractorStartupError(RuntimeError):
    """The extractor cannot be loaded at all (unknown module or function, broken install)."""


@dataclass
class ExtractResult:
    """What extraction gives one document; failure_reason is None on success (even with empty text)."""

    text: str | None
    title: str | None
    published_date: str | None
    failure_reason: str | None = None
    failure_detail: str | None = None
    html_truncated: bool = False
    extractor: str | None = None  # whose text this is (trafilatura / resiliparse / module:function)
    skipped_by: str | None = None  # cascade: the rule whose margin resiliparse's text fell below

    @property
    def failed(self) -> bool:
        return self.failure_reason is not None


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(title.split())
    return title[:MAX_TITLE_CHARS] or None


def _meta_title(tree) -> str | None:
    """og:title / twitter:title, which name the article rather than the site."""
    for meta in tree.iterfind(".//meta"):
        key = (meta.get("property") or meta.get("name") or "").lower()
        if key in ("og:title", "twitter:title"):
            content = (meta.get("content") or "").strip()
            if content:
                return content
    return None


def extract_trafilatura(html: str, url: str | None = None) -> ExtractResult:
    """Main text, title and publication date (YYYY-MM-DD) of one page with trafilatura.

    The page is parsed once: title (og:title / twitter:title, else trafilatura's title heuristic) and date
    (htmldate) are read from the tree, then trafilatura extracts from a copy of it. Same text as
    ``bare_extraction(html, with_metadata=True, ...)``, but 63 instead of 39 AEB pages a second: trafilatura's
    full metadata also extracts author, site name, categories, tags and licence.
    """
    from htmldate import find_date
    from trafilatura import bare_extraction
    from trafilatura.metadata import extract_title
    from trafilatura.utils import load_html

    from transforms.extract.fast_trafilatura import apply as faster_trafilatura

    faster_trafilatura()
    if not html or not html.strip():
        return ExtractResult("", None, None)
    tree = load_html(html)
    if tree is None:  # not HTML at all
        return ExtractResult("", None, None)
    title = _clean_title(_meta_title(tree) or extract_title(tree))
    published_date = find_date(tree, url=url, **DATE_OPTIONS)  # copies the tree before pruning it
    document = bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    text = (document.text if document is not None else None) or ""
    return ExtractResult(text=text, title=title, published_date=published_date or None)


def extract_resiliparse(html: str, url: str | None = None) -> ExtractResult:
    """Main text and ``<title>`` of one page with Resiliparse; published_date is always None."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    if not html or not html.strip():
        return ExtractResult("", None, None)
    try:
        tree = HTMLTree.parse(html)
    except UnicodeEncodeError:  # lone surrogates (e.g. from a surrogateescape decode): trafilatura copes
        tree = HTMLTree.parse(html.encode("utf-8", "replace").decode("utf-8"))
    text = extract_plain_text(tree, **RESILIPARSE_OPTIONS) or ""
    return ExtractResult(text=text, title=_clean_title(tree.title), published_date=None)


def extract_page_text(html: str, url: str | None = None) -> ExtractResult:
    """All the visible text of a page (Resiliparse without main-content detection, otherwise its settings
    above): an upper bound on the words any main-text extractor finds in it. No title, no date."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    if not html or not html.strip():
        return ExtractResult("", None, None)
    try:
        tree = HTMLTree.parse(html)
    except UnicodeEncodeError:
        tree = HTMLTree.parse(html.encode("utf-8", "replace").decode("utf-8"))
    text = extract_plain_text(tree, **{**RESILIPARSE_OPTIONS, "main_content": False}) or ""
    return ExtractResult(text=text, title=None, published_date=None)


EXTRACTORS: dict[str, Callable[[str, str | None], ExtractResult]] = {
    KIND_TRAFILATURA: extract_trafilatura,
    KIND_RESILIPARSE: extract_resiliparse,
    KIND_PAGE_TEXT: extract_page_text,
}

# A small page run once in each new child so that lazy imports and caches (htmldate's dateparser fallback
# costs ~0.5 s on first use) are paid at start-up, not by the first document's time limit.
_WARMUP_HTML = (
    "<html><head><title>Warm-up</title></head><body><article><h1>Warm-up page</h1>"
    "<p>Posted on March 3rd, 2021 by someone. This paragraph exists so that the extractor has some text to "
    "find, with enough words in it to pass the minimum size checks of the extraction heuristics.</p>"
    "<p>A second paragraph of ordinary prose follows the first one, again long enough to count as text.</p>"
    "<table><tr><td>cell</td><td>another cell</td></tr></table></article></body></html>"
)


def resolve_extractor(kind: str, options: dict | None = None) -> Callable[[str, str | None], ExtractResult]:
    """The extraction function for `kind`: a name in EXTRACTORS, "cascade" (with `options`, a
    `cascade.Cascade.to_json()`), or a dotted "module:function" path."""
    if kind in EXTRACTORS:
        return EXTRACTORS[kind]
    if kind == KIND_CASCADE:
        from transforms.extract.cascade import Cascade, CascadeExtraction

        return CascadeExtraction(Cascade.from_json(options or {"enabled": True, "rules": []}))
    module_name, sep, function_name = kind.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"unknown extractor {kind!r}: use one of {sorted(EXTRACTORS)} or 'module:function'")
    function = getattr(importlib.import_module(module_name), function_name)
    if not callable(function):
        raise ValueError(f"extractor {kind!r} is not callable")
    return function


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


# <script> and <style> bodies, which no extractor keeps: on the AEB's largest pages they are 75-90 % of
# the bytes (CNN: 1.49 M chars, 1.30 M of them CSS and JS) and the article comes after them.
# Tag boundaries as the HTML tokenizer sees them: the name ends at whitespace, "/" or ">".
_BULK_OPEN = re.compile(r"<(script|style)(?=[\t\n\f\r />])([^>]{0,2000})>", re.IGNORECASE | re.ASCII)
_BULK_CLOSE = {
    "script": re.compile(r"</script[\t\n\f\r />]", re.IGNORECASE | re.ASCII),
    "style": re.compile(r"</style[\t\n\f\r />]", re.IGNORECASE | re.ASCII),
}
_JSON_SCRIPT = re.compile(r"type\s*=\s*[\"']?application/(?:ld\+)?json", re.IGNORECASE | re.ASCII)
MAX_KEPT_JSON_CHARS = 100_000  # JSON-LD carries the publication date htmldate looks for


def strip_scripts_and_styles(html: str) -> str:
    """`html` without the bodies of <script> and <style> elements (JSON-LD scripts up to 100 k chars kept).

    One linear pass; an element whose closing tag is missing ends the stripping (the rest is kept as is).
    """
    parts: list[str] = []
    pos = 0
    while True:
        opening = _BULK_OPEN.search(html, pos)
        if opening is None:
            break
        tag = opening.group(1).lower()
        closing = _BULK_CLOSE[tag].search(html, opening.end())
        if closing is None:
            break
        keep = (
            tag == "script"
            and _JSON_SCRIPT.search(opening.group(2)) is not None
            and closing.start() - opening.end() <= MAX_KEPT_JSON_CHARS
        )
        parts.append(html[pos : closing.start() if keep else opening.end()])
        pos = closing.start()
    parts.append(html[pos:])
    return "".join(parts)


def prepare_html(html: str | None, max_html_chars: int | None) -> tuple[str, bool]:
    """What the Extractor hands to an extractor: `html` without script/style bodies, cut to
    `max_html_chars` (None or 0: no cap) if still longer. Returns (html, truncated).

    Stripping first is lossless for the text (both extractors drop script and style) and pays for itself:
    on the AEB it halves the characters, makes trafilatura ~15 % faster and gives the same text on all 181
    pages, and without it a 1 M cap would cut the article off 3 pages whose first million characters are CSS.
    """
    html = strip_scripts_and_styles(html or "")
    if max_html_chars and len(html) > max_html_chars:
        return html[:max_html_chars], True
    return html, False


def _run_one(function, html: str, url: str | None) -> ExtractResult:
    """Call an extraction function, turning an exception into an extract_error result."""
    try:
        result = function(html, url)
    except Exception as error:
        return ExtractResult(None, None, None, FAILURE_ERROR, _describe(error))
    if not isinstance(result, ExtractResult):
        return ExtractResult(None, None, None, FAILURE_ERROR, f"extractor returned {type(result).__name__}")
    if result.extractor is None:
        result.extractor = _KIND_OF.get(function)
    return result


_KIND_OF = {function: kind for kind, function in EXTRACTORS.items()}


# ---------------------------------------------------------------------------------------------------------
# the child process


def _die_with_parent(parent_pid: int) -> None:
    """Make sure this child never outlives the process that started it.

    Linux: PR_SET_PDEATHSIG has the kernel SIGKILL us when the parent's launcher thread (see `_launch`) ends,
    even while our main thread is stuck in C code that holds the GIL (a regex, a parser). Elsewhere, and as
    a second line of defence, a thread polls getppid() once a second (it needs the GIL, so it can be late).
    Pipe EOF covers the idle case anyway.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except Exception:
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_main(conn: Connection, kind: str, parent_pid: int, options: dict | None = None) -> None:
    """Child loop: receive (html, url), send back ("ok", fields...); None or EOF stops it."""
    logging.disable(logging.CRITICAL)  # trafilatura logs a warning per discarded page: noise on stderr
    _die_with_parent(parent_pid)
    try:
        function = resolve_extractor(kind, options)
        if kind in EXTRACTORS or kind == KIND_CASCADE:
            _run_one(function, _WARMUP_HTML, "https://example.com/2021/03/03/warm-up.html")
        if kind == KIND_CASCADE:  # the warm-up page may be decided by the cheap pass: warm trafilatura too
            _run_one(extract_trafilatura, _WARMUP_HTML, "https://example.com/2021/03/03/warm-up.html")
    except BaseException as error:
        conn.send(("startup_error", _describe(error)))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        html, url, decided = message
        if decided and hasattr(function, "cheap"):  # the cascade, for a page decided before extraction
            result = _run_one(functools.partial(function.cheap, reason=decided), html, url)
        else:
            result = _run_one(function, html, url)
        conn.send(
            (
                "ok",
                result.text,
                result.title,
                result.published_date,
                result.failure_reason,
                result.failure_detail,
                result.extractor,
                result.skipped_by,
            )
        )


def _child_entry() -> None:
    """Entry point of ``python -c`` in the child: argv = [fd, kind, parent_pid, options as JSON]; sys.path is
    already set."""
    fd, kind, parent_pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    options = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
    _child_main(Connection(fd), kind, parent_pid, options)


# The child is a fresh interpreter with the parent's sys.path, like multiprocessing's "spawn", but started
# with subprocess so that it never imports the parent's __main__ (spawn re-runs the main script, which breaks
# unguarded scripts and drags a Beam worker's imports into every child).
_CHILD_BOOTSTRAP = "import json, sys; sys.path[:] = json.loads(sys.argv.pop(1)); " + (
    "from transforms.extract import _child_entry; _child_entry()"
)


# ---------------------------------------------------------------------------------------------------------
# the parent side

_LIVE_EXTRACTORS: weakref.WeakSet[Extractor] = weakref.WeakSet()

# Children are started from one long-lived thread: the kernel's parent-death signal fires when the thread
# that forked the child ends, and the threads that call extract() (Beam's worker pool) come and go.
_LAUNCHER: ThreadPoolExecutor | None = None
_LAUNCHER_LOCK = threading.Lock()


def _launch(args: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen:
    global _LAUNCHER
    with _LAUNCHER_LOCK:
        if _LAUNCHER is None:
            _LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pristine-extract-launcher")
        launcher = _LAUNCHER
    future = launcher.submit(
        subprocess.Popen, args, pass_fds=pass_fds, stdin=subprocess.DEVNULL, close_fds=True
    )
    return future.result()


_REAPER: threading.Thread | None = None


def _reap_idle_children() -> None:
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        for extractor in list(_LIVE_EXTRACTORS):
            try:
                extractor._close_if_idle(now)
            except Exception:  # never let one extractor stop the thread
                pass


def _start_reaper() -> None:
    """One daemon thread per process stops idle children (restarted in a forked process, where it is gone)."""
    global _REAPER
    with _LAUNCHER_LOCK:
        if _REAPER is None or not _REAPER.is_alive():
            _REAPER = threading.Thread(target=_reap_idle_children, name="pristine-extract-idle", daemon=True)
            _REAPER.start()


@atexit.register
def _close_all() -> None:
    for extractor in list(_LIVE_EXTRACTORS):
        extractor.close()


class Extractor:
    """HTML -> ExtractResult with a per-document time limit enforced by a child process.

    ``Extractor(kind="trafilatura" | "resiliparse" | "module:function", time_limit_s=5.0,
    max_html_chars=500_000)``. Creating one is cheap and starts nothing (safe in ``DoFn.setup()`` or
    pickled into a graph); the child is started on the first `extract` and again after a timeout or crash
    (~0.5-1 s: a new interpreter imports the extractor and runs one warm-up page; not counted against the
    time limit). `close()` (or leaving a ``with`` block, or interpreter exit) stops it.
    ``time_limit_s=None`` runs the extraction in this process with no limit (benchmarks and debugging only).
    A child idle for ``idle_close_s`` seconds (default IDLE_CLOSE_S; None = never) is stopped by a
    background thread and started again on the next `extract`.

    `extract` never raises for any input; its one exception is ExtractorStartupError when the extractor
    itself cannot be imported in the child (a configuration error that would fail every document).

    The child is a new interpreter (fork + exec, never a bare fork of the caller: Beam workers run gRPC
    threads, which must not be forked) that talks over a socket pair with multiprocessing's Connection.
    It exits on its own when the pipe closes or when its parent dies. One Extractor serves one document at
    a time; concurrent callers are serialised by a lock.
    """

    def __init__(
        self,
        kind: str = KIND_TRAFILATURA,
        time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
        max_html_chars: int | None = DEFAULT_MAX_HTML_CHARS,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        options: dict | None = None,
        idle_close_s: float | None = IDLE_CLOSE_S,
    ):
        if kind not in EXTRACTORS and kind != KIND_CASCADE and ":" not in kind:
            raise ValueError(
                f"unknown extractor {kind!r}: use one of {sorted(EXTRACTORS)} or 'module:function'"
            )
        if time_limit_s is not None and time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive (or None for in-process extraction)")
        self.kind = kind
        self.time_limit_s = time_limit_s
        self.max_html_chars = max_html_chars
        self.startup_timeout_s = startup_timeout_s
        self.options = options
        self.idle_close_s = idle_close_s
        self.starts = 0  # children started so far (1 + restarts after timeouts, crashes and idling)
        self.idle_closes = 0  # children stopped for idling
        self._last_used = time.monotonic()
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._function = None
        self._lock = threading.Lock()

    # pickling (e.g. into a Beam graph) carries the settings only, never a child or a pipe
    def __getstate__(self) -> dict:
        return {
            "kind": self.kind,
            "time_limit_s": self.time_limit_s,
            "max_html_chars": self.max_html_chars,
            "startup_timeout_s": self.startup_timeout_s,
            "options": self.options,
            "idle_close_s": self.idle_close_s,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def child_pid(self) -> int | None:
        """pid of the running child, if any (for tests and monitoring)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def extract(self, html: str | None, url: str | None = None, decided: str | None = None) -> ExtractResult:
        """`decided`: the rule that already rejects this page (the cascade then runs its cheap pass only)."""
        html, truncated = prepare_html(html, self.max_html_chars)
        if self.time_limit_s is None:
            if self._function is None:
                self._function = resolve_extractor(self.kind, self.options)
            function = self._function
            if decided and hasattr(function, "cheap"):
                result = _run_one(functools.partial(function.cheap, reason=decided), html, url)
            else:
                result = _run_one(function, html, url)
        else:
            with self._lock:
                result = self._extract_in_child(html, url, decided)
                self._last_used = time.monotonic()
        result.html_truncated = truncated
        return result

    def close(self) -> None:
        """Stop the child (politely, then by force); the Extractor can still be used afterwards."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._stop_child(polite=True)

    def idle_soon(self, idle_s: float = BUNDLE_END_IDLE_S) -> None:
        """Stop the child once it has had no page for `idle_s` from now, if that comes before idle_close_s."""
        if self.idle_close_s is not None and self._process is not None:
            self._last_used = min(self._last_used, time.monotonic() - max(self.idle_close_s - idle_s, 0.0))

    def _close_if_idle(self, now: float) -> None:
        """Stop the child if it has had no page for idle_close_s (never while a page is being extracted)."""
        if self.idle_close_s is None or self._process is None or now - self._last_used < self.idle_close_s:
            return
        if not self._lock.acquire(blocking=False):  # extracting right now
            return
        try:
            if self._process is not None and time.monotonic() - self._last_used >= self.idle_close_s:
                self._stop_child(polite=True)
                self.idle_closes += 1
        finally:
            self._lock.release()

    # -- child management

    def _start_child(self) -> None:
        """Start a child and wait for its "ready"; raise ExtractorStartupError or RuntimeError if it fails."""
        parent_sock, child_sock = socket.socketpair()
        args = [sys.executable, "-c", _CHILD_BOOTSTRAP, json.dumps(sys.path)]
        args += [str(child_sock.fileno()), self.kind, str(os.getpid()), json.dumps(self.options)]
        try:
            process = _launch(args, pass_fds=(child_sock.fileno(),))
        except OSError as error:
            parent_sock.close()
            raise RuntimeError(f"cannot start extractor child: {_describe(error)}") from error
        finally:
            child_sock.close()
        self._process, self._conn = process, Connection(parent_sock.detach())
        self.starts += 1
        _LIVE_EXTRACTORS.add(self)
        if self.idle_close_s is not None:
            _start_reaper()
        try:
            if not self._conn.poll(self.startup_timeout_s):
                raise RuntimeError(f"extractor child did not start within {self.startup_timeout_s:g} s")
            message = self._conn.recv()
        except (EOFError, OSError) as error:
            detail = self._exit_detail(process)
            self._stop_child(polite=False)
            raise RuntimeError(f"extractor child died while starting: {detail}") from error
        except RuntimeError:
            self._stop_child(polite=False)
            raise
        if message[0] != "ready":
            self._stop_child(polite=False)
            raise ExtractorStartupError(f"extractor {self.kind!r} cannot start: {message[1]}")

    def _stop_child(self, polite: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return
        if polite and process.poll() is None:
            try:
                conn.send(None)
                process.wait(1.0)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        if process.poll() is None:
            process.kill()
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:  # unkillable (D state): the OS reaps it later
                pass
        conn.close()

    @staticmethod
    def _exit_detail(process: subprocess.Popen) -> str:
        try:
            code = process.wait(1.0)
        except subprocess.TimeoutExpired:
            return "child stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "?"
            return f"child killed by signal {-code} ({name})"
        return f"child exited with status {code}"

    def _extract_in_child(self, html: str, url: str | None, decided: str | None = None) -> ExtractResult:
        # a child that died while idle (e.g. killed from outside) is replaced without blaming this document
        if self._process is not None and self._process.poll() is not None:
            self._stop_child(polite=False)
        if self._process is None:
            try:
                self._start_child()
            except ExtractorStartupError:
                raise  # a configuration error (bad kind, broken install): no document can succeed
            except RuntimeError as error:
                return ExtractResult(None, None, None, FAILURE_CRASHED, str(error))
        process, conn = self._process, self._conn
        deadline = time.monotonic() + self.time_limit_s
        try:
            # the child always waits in recv() here, so sending even a large page returns after one copy
            conn.send((html, url, decided))
            if not conn.poll(max(deadline - time.monotonic(), 0.0)):
                self._stop_child(polite=False)
                return ExtractResult(
                    None,
                    None,
                    None,
                    FAILURE_TIMEOUT,
                    f"no result within {self.time_limit_s:g} s; child killed",
                )
            message = conn.recv()
        except (EOFError, OSError) as error:
            detail = self._exit_detail(process)
            self._stop_child(polite=False)
            return ExtractResult(None, None, None, FAILURE_CRASHED, f"{detail} ({type(error).__name__})")
        _, text, title, published_date, failure_reason, failure_detail, extractor, skipped_by = message
        return ExtractResult(
            text,
            title,
            published_date,
            failure_reason,
            failure_detail,
            extractor=extractor,
            skipped_by=skipped_by,
        )
