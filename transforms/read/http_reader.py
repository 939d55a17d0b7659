"""Reading a file over http(s) with retries: WARCs straight from data.commoncrawl.org.

`transforms.read.beam` registers `http` and `https` with Beam's FileSystems on top of this, so
`--input https://...` and `FileSystems.open("https://...")` work on every runner.

Common Crawl answers bursts with `503 Slow Down` and drops long connections. A read that fails with a
retryable status (429, 500, 502, 503, 504) or a connection error waits with exponential backoff and full
jitter, then resumes from the byte it had reached with a `Range` request, so a reset 900 MB into a WARC
costs one request, not the file. After `MAX_TRIES` consecutive failures the error is raised, naming the
URL.
"""

from __future__ import annotations

import http.client
import io
import logging
import random
import time
import urllib.error
import urllib.request

RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_TRIES = 8
BASE_DELAY_S = 0.5
MAX_DELAY_S = 30.0
TIMEOUT_S = 60.0
USER_AGENT = "pristine (web-crawl curation; https://commoncrawl.org/terms-of-use)"

log = logging.getLogger(__name__)


# By hand, not urllib3's Retry: Retry covers a request, not a body cut mid-read (resumed here with a Range
# request, tests/test_httpfs.py), and its backoff (factor * 2**n + jitter) is no full jitter.
def backoff_delay(attempt: int, rng: random.Random = random) -> float:  # type: ignore[assignment]
    """Full-jitter exponential backoff: uniform in [0, min(MAX, BASE * 2**attempt)]."""
    return rng.uniform(0, min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt))


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in RETRY_STATUS
    return isinstance(
        exc, (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException, OSError)
    )


def with_retries(what: str, call, sleep=time.sleep):
    """call() until it succeeds, retrying retryable errors with backoff; raises OSError naming `what`."""
    for attempt in range(MAX_TRIES):
        try:
            return call()
        except Exception as exc:
            if not _retryable(exc) or attempt == MAX_TRIES - 1:
                raise OSError(f"{what}: {exc}") from exc
            delay = backoff_delay(attempt)
            log.warning("%s: %s; retry %d/%d in %.1f s", what, exc, attempt + 1, MAX_TRIES - 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")


def request(url: str, method: str = "GET", start: int = 0):
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(
        urllib.request.Request(url, method=method, headers=headers), timeout=TIMEOUT_S
    )


class RetryingHttpReader(io.RawIOBase):
    """A forward-reading stream over a URL that survives throttling and resets (Range resume)."""

    mode = "rb"

    def __init__(self, url: str, sleep=time.sleep):
        self.url = url
        self.position = 0
        self.sleep = sleep
        self._response = None
        self._end: int | None = None  # the byte the current response must reach
        self._eof = False

    def readable(self) -> bool:
        return True

    def _open(self):
        start = self.position
        response = with_retries(f"GET {self.url}", lambda: request(self.url, start=start), self.sleep)
        if start and response.status != 206:
            response.close()
            raise OSError(f"GET {self.url}: server ignored Range (status {response.status}); cannot resume")
        self._response = response
        length = response.headers.get("Content-Length")
        self._end = start + int(length) if length and length.isdigit() else None

    def readinto(self, buffer) -> int:
        if self._eof:
            return 0
        failures = 0
        while True:
            if self._response is None:
                self._open()  # retries on its own; raises once they are used up
            try:
                n = self._response.readinto(buffer)
                if n == 0 and self._end is not None and self.position < self._end:
                    # http.client reports a connection closed before Content-Length as a clean EOF
                    raise http.client.IncompleteRead(b"", self._end - self.position)
            except (OSError, http.client.HTTPException) as exc:
                self._response.close()
                self._response = None
                failures += 1
                if failures >= MAX_TRIES:
                    raise OSError(f"GET {self.url} at byte {self.position}: {exc}") from exc
                delay = backoff_delay(failures - 1)
                log.warning("GET %s at byte %d: %r; resuming in %.1f s", self.url, self.position, exc, delay)
                self.sleep(delay)
                continue
            if n == 0:
                self._eof = True
            self.position += n
            return n

    def tell(self) -> int:
        return self.position

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        super().close()
