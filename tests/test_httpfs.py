"""WARCs over http(s): throttling and connection resets are retried and resumed, nothing lost.

A local server on 127.0.0.1 serves the shared samples with Range support and injects faults.
"""

import http.server
import threading
from pathlib import Path

import pytest
from apache_beam.io.filesystems import FileSystems
from conftest import WARC_SAMPLES

from transforms.read import http_reader as httpfs
from transforms.read import iter_records

SAMPLE = WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz"


class FaultyHandler(http.server.BaseHTTPRequestHandler):
    root: Path = WARC_SAMPLES
    plan: list[str] = []  # one entry used per GET: "ok", "503", "reset" (cut the body short)
    requests: list[tuple[str, str | None]] = []

    def log_message(self, *args):
        pass

    def _file(self):
        path = self.root / self.path.lstrip("/")
        return path if path.is_file() else None

    def do_HEAD(self):
        path = self._file()
        if path is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()

    def do_GET(self):
        type(self).requests.append((self.path, self.headers.get("Range")))
        action = type(self).plan.pop(0) if type(self).plan else "ok"
        path = self._file()
        if path is None:
            self.send_error(404)
            return
        if action == "503":
            self.send_error(503, "Slow Down")
            return
        data = path.read_bytes()
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if action == "reset":
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection dies a third of the way in
            return
        self.wfile.write(body)


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(httpfs, "BASE_DELAY_S", 0.001)
    FaultyHandler.plan, FaultyHandler.requests = [], []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultyHandler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def records(path):
    return [(r.record_type, r.warc_record_id, r.warc_offset, r.body) for r in iter_records(path)]


def test_reads_a_warc_over_http_like_a_local_file(server):
    url = f"{server}/commoncrawl/warcfile.warc.gz"
    assert FileSystems.exists(url)
    assert FileSystems.match([url])[0].metadata_list[0].size_in_bytes == SAMPLE.stat().st_size
    assert records(url) == records(str(SAMPLE))


def test_throttling_and_resets_are_retried_and_resumed(server):
    FaultyHandler.plan = ["503", "503", "reset", "503", "reset"]
    url = f"{server}/commoncrawl/warcfile.warc.gz"
    assert records(url) == records(str(SAMPLE))
    ranges = [r for _, r in FaultyHandler.requests]
    assert ranges[:3] == [None, None, None]  # two 503s, then the first body that is cut
    resumed = [int(r.removeprefix("bytes=").rstrip("-")) for r in ranges if r]
    assert len(resumed) >= 2 and resumed == sorted(resumed) and resumed[0] > 0  # resumed where it stopped


def test_missing_file_is_not_retried_and_names_the_url(server):
    url = f"{server}/no/such.warc.gz"
    assert not FileSystems.exists(url)
    [rec] = list(iter_records(url))  # the reader turns it into a counted failure, not a crash
    assert rec.record_type == "unreadable" and "no/such.warc.gz" in (rec.failure_detail or "")
    assert len([p for p, _ in FaultyHandler.requests if p == "/no/such.warc.gz"]) == 1


def test_gives_up_after_bounded_retries(server):
    FaultyHandler.plan = ["503"] * 50
    url = f"{server}/commoncrawl/whirlwind.warc.gz"
    with pytest.raises(OSError, match="whirlwind.warc.gz"):
        FileSystems.open(url).read()
    assert len(FaultyHandler.requests) == httpfs.MAX_TRIES


def test_backoff_is_bounded_full_jitter():
    import random

    rng = random.Random(1)
    delays = [httpfs.backoff_delay(a, rng) for a in range(20)]
    assert all(0 <= d <= httpfs.MAX_DELAY_S for d in delays)
    assert max(delays[:2]) <= httpfs.BASE_DELAY_S * 2
