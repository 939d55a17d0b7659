"""Extract once per payload: a response whose verified WARC-Payload-Digest was already extracted reuses it.

Crawls fetch the same bytes many times (mirrors, redirects to one page, refetches across a crawl): the
payload digest names the bytes, and a digest the reader verified against them (``digest_verified``) is as
good as comparing the bytes. The key also holds what else extraction depends on: the charset header
(decoding) and the date htmldate reads from the URL (the only way the URL changes the result; the text
and title do not depend on it). Pure: no Beam. Each worker process keeps its results in memory
(`PayloadCache`); `SharedPayloadCache` also keeps them in files of a directory of the machine, so the
workers of one machine (the local runner's, or the SDK processes of one cloud VM) reuse each other's
results. Copies on other machines are extracted again: finding them would need a shuffle of the HTML.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections import OrderedDict
from pathlib import Path

from transforms.extract import ExtractResult

# The date in a URL as htmldate finds it (htmldate.extractors.COMPLETE_URL, copied: importing htmldate
# costs the parent process lxml): part of the key, so a copy never inherits another URL's date.
_URL_DATE = re.compile(r"\D((?:199[0-9]|20[0-3][0-9]))[/_-]([0-1]?[0-9])[/_-]([0-3]?[0-9])(?:\D|$)")

MAX_ENTRIES = 4096  # results kept per worker (least recently used first out)
MAX_TEXT_CHARS = 200_000  # longer texts are not kept: a few huge pages must not fill the worker's memory
MAX_TOTAL_CHARS = 20_000_000  # text characters kept in all (~20-80 MB), whatever the number of entries
MAX_SHARED_BYTES = 128 * 2**20  # bytes one process writes to the shared directory (it may be a tmpfs)


def payload_key(row: dict, charset_header: str | None) -> tuple | None:
    """The reuse key of a response row, or None when its payload digest is missing or not verified."""
    digest = row.get("payload_digest")
    if not digest or row.get("digest_verified") is not True:
        return None
    match = _URL_DATE.search(row.get("url") or "")
    return digest, charset_header, match.group(0) if match else None


class PayloadCache:
    """Least-recently-used map from `payload_key` to the ExtractResult of the first copy."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_total_chars: int = MAX_TOTAL_CHARS):
        self.max_entries = max_entries
        self.max_total_chars = max_total_chars
        self._results: OrderedDict[tuple, ExtractResult] = OrderedDict()
        self._chars = 0
        self.hits = 0

    def get(self, key: tuple | None) -> ExtractResult | None:
        if key is None or key not in self._results:
            return None
        self._results.move_to_end(key)
        self.hits += 1
        return self._results[key]

    def put(self, key: tuple | None, result: ExtractResult) -> None:
        """Keep a successful result (a failure such as a timeout may not repeat: it is retried)."""
        if key is None or result.failed or len(result.text or "") > MAX_TEXT_CHARS or key in self._results:
            return
        self._results[key] = result
        self._chars += len(result.text or "")
        while self._results and (len(self._results) > self.max_entries or self._chars > self.max_total_chars):
            _, old = self._results.popitem(last=False)
            self._chars -= len(old.text or "")


class SharedPayloadCache(PayloadCache):
    """A `PayloadCache` whose results are also files of ``directory``, one per key (written to a temporary
    name, then renamed: readers never see half a file), read by every process that uses the directory.
    Each process writes at most ``max_bytes``; the directory belongs to one run and is removed after it."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int = MAX_SHARED_BYTES, **kwargs):
        super().__init__(**kwargs)
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # results are unpickled: owner only
        self.max_bytes = max_bytes
        self.bytes_written = 0
        self.shared_hits = 0  # results another process extracted

    def _path(self, key: tuple) -> Path:
        name = hashlib.blake2b(repr(key).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        return self.directory / name

    def get(self, key: tuple | None) -> ExtractResult | None:
        result = super().get(key)
        if result is not None or key is None:
            return result
        try:
            result = pickle.loads(self._path(key).read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError):
            return None
        super().put(key, result)
        self.hits += 1
        self.shared_hits += 1
        return result

    def put(self, key: tuple | None, result: ExtractResult) -> None:
        known = key in self._results
        super().put(key, result)
        if known or key not in self._results or self.bytes_written >= self.max_bytes:
            return
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        path = self._path(key)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except OSError:  # a full or vanished directory only costs reuse
            return
        self.bytes_written += len(data)


def extract_response(
    row: dict,
    body: bytes,
    charset_header: str | None,
    extractor,
    cache: PayloadCache,
    thresholds=None,
) -> tuple[ExtractResult, bool]:
    """One HTML response through extraction, as the pipeline's extract step runs it: decode, reuse a
    payload extracted before, else extract (with `thresholds`, the cascade's pages decided before extraction
    get its cheap pass only). Sets row["charset"] and row["extractor"]; returns (result, reused)."""
    html, key, result, decided = look_up(row, body, charset_header, cache, thresholds)
    reused = result is not None
    if not reused:
        result = extractor.extract(html, row.get("url"), decided)
        if not decided:
            cache.put(key, result)
    row["extractor"] = result.extractor or extractor.kind
    return result, reused


def look_up(
    row: dict, body: bytes, charset_header: str | None, cache: PayloadCache, thresholds=None
) -> tuple[str, tuple | None, ExtractResult | None, str | None]:
    """The part of `extract_response` before extraction: decode (sets row["charset"]) and look the payload
    up. Returns (html, reuse key, the result extracted before or None, the rule that decides the page
    before extraction or None); a result decided before extraction must not be put in the cache."""
    from transforms.extract.cascade import decided_before_extraction
    from transforms.read import decode_html

    html, charset = decode_html(body, charset_header)
    row["charset"] = charset
    key = payload_key(row, charset_header)
    result = cache.get(key)
    decided = None
    if result is None and thresholds is not None:
        decided = decided_before_extraction(row, thresholds)
    return html, key, result, decided
