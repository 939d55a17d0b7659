"""The extraction cascade, extract-once-per-payload and byte-range reading, on real WARCs and real pipelines.

- The cascade (page text first, trafilatura for the rest) keeps exactly what trafilatura on every page keeps,
  with trafilatura's text, on all 185 shared WARC samples; pages it decides early are rejected, say so
  (extractor = resiliparse_page) and are counted in stats.json.
- Responses with a verified payload digest seen before reuse that extraction.
- Files read in byte ranges give the same records as files read whole, and the same pipeline output.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pyarrow.parquet as pq
import pytest
from conftest import REPO, WARC_SAMPLES

from pipeline import cli
from pipeline.stats import read_stats
from transforms.decide import load_thresholds, read_thresholds, thresholds_from_dict
from transforms.extract import KIND_PAGE_TEXT, KIND_TRAFILATURA, Extractor, ExtractResult
from transforms.extract.cascade import (
    Cascade,
    cascade_from_dict,
    decided_before_extraction,
    load_cascade,
    skip_reason,
)
from transforms.extract.reuse import PayloadCache, SharedPayloadCache, payload_key
from transforms.read import iter_records, iter_records_in_range, ranges, split_ranges

ARTICLE = (
    "<html><head><title>A title</title></head><body><nav>Home | News | About</nav><article><h1>Heading</h1>"
    + "".join(
        f"<p>Paragraph {i} tells the reader about the harbour, the boats that come in at dawn and the people "
        f"who have worked on the quay for years, in sentences long enough to read as prose.</p>"
        for i in range(8)
    )
    + "</article></body></html>"
)
STUB = "<html><head><title>Login</title></head><body><form>User <input> Password <input></form></body></html>"


def sample_files() -> list:
    files = sorted(
        p
        for p in WARC_SAMPLES.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.jsonl", "PROVENANCE.md")
    )
    assert len(files) == 185
    return files


def read_rows(out) -> dict:
    rows = {}
    for root in ("curated", "rejected", "failed"):
        if (out / root).exists():
            for r in pq.read_table(out / root).to_pylist():
                rows[r["id"]] = r
    return rows


@pytest.fixture(scope="module")
def cascade_and_everywhere(tmp_path_factory, shared_data):
    """The 185 samples with the cascade (default) and with --no-cascade (trafilatura on every page)."""
    files = sample_files()
    runs = {}
    for name, flags in (("cascade", []), ("everywhere", ["--no-cascade"])):
        out = tmp_path_factory.mktemp(name)
        assert (
            cli.main(["run", "--input", *map(str, files), "--output", str(out), "--overwrite", *flags]) == 0
        )
        runs[name] = (out, read_rows(out), read_stats(str(out)))
    return runs


def test_cascade_keeps_what_trafilatura_everywhere_keeps(cascade_and_everywhere):
    _, cascade, _ = cascade_and_everywhere["cascade"]
    _, everywhere, _ = cascade_and_everywhere["everywhere"]
    assert cascade.keys() == everywhere.keys()
    kept = {i for i, r in everywhere.items() if r["status"] == "kept"}
    assert kept, "the samples have pages trafilatura keeps"
    assert {i for i, r in cascade.items() if r["status"] == "kept"} == kept
    for i in kept:  # same text, title and date: extraction quality on kept pages is unchanged
        for column in ("text", "title", "published_date", "extractor"):
            assert cascade[i][column] == everywhere[i][column], (i, column)
        assert cascade[i]["extractor"] == KIND_TRAFILATURA
    assert {r["extractor"] for r in everywhere.values() if r["text"] is not None} == {KIND_TRAFILATURA}


def test_pages_the_cheap_pass_decides_are_rejected_with_a_reason(cascade_and_everywhere):
    _, cascade, stats = cascade_and_everywhere["cascade"]
    _, everywhere, _ = cascade_and_everywhere["everywhere"]
    early = [r for r in cascade.values() if r["extractor"] == KIND_PAGE_TEXT]
    assert early, "the cascade decided no page early"
    for r in early:
        assert r["status"] == "rejected" and r["reject_reason"], r["id"]
        assert everywhere[r["id"]]["status"] != "kept"
    extraction = stats["extraction"]
    # pages decided at each step, in stats.json: every extraction went one way or the other
    skipped = sum(extraction["trafilatura_skipped"].values())
    assert extraction["decided_by"][KIND_PAGE_TEXT] == skipped > 0
    assert set(extraction["trafilatura_skipped"]) <= {"too_short", "c4_min_sentences", "digest_mismatch"} | {
        rule.name for rule in load_thresholds().rules if rule.column.startswith("url_")
    }
    calls = extraction["decided_by"][KIND_TRAFILATURA] + skipped
    assert calls + extraction.get("payload_reused", 0) == sum(
        1 for r in cascade.values() if r["extractor"] is not None
    )
    assert stats["extracted_by"][KIND_PAGE_TEXT] == len([r for r in early if r["text"] is not None])
    _, _, everywhere_stats = cascade_and_everywhere["everywhere"]
    assert KIND_PAGE_TEXT not in everywhere_stats["extraction"]["decided_by"]


def test_each_verified_payload_is_extracted_once(cascade_and_everywhere):
    _, rows, stats = cascade_and_everywhere["cascade"]
    by_payload = defaultdict(list)
    for r in rows.values():
        if r["digest_verified"] and r["payload_digest"] and r["text"] is not None:
            by_payload[(r["payload_digest"], r["charset"])].append(r)
    copies = [group for group in by_payload.values() if len(group) > 1]
    assert copies, "the samples hold repeated payloads"
    for group in copies:
        assert len({(r["text"], r["title"], r["extractor"]) for r in group}) == 1
    # one worker (the default runner): copies after the first are reused (not those whose URL carries another
    # date, or whose charset header differs), none is reused from another payload
    assert 0.9 * sum(len(g) - 1 for g in copies) <= stats["extraction"]["payload_reused"]
    assert stats["extraction"]["payload_reused"] <= sum(len(g) - 1 for g in copies)


def test_cascade_config_is_checked_against_the_rules():
    th = load_thresholds()
    cascade = load_cascade(read_thresholds())
    assert cascade.enabled and [r.name for r in cascade.rules] == ["too_short", "c4_min_sentences"]
    assert cascade.rules[0].bound == pytest.approx(0.7 * 50)
    with pytest.raises(ValueError, match="no rule"):
        cascade_from_dict({"cascade": {"skip_below": {"nonexistent": 0.5}}}, th)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        cascade_from_dict({"cascade": {"skip_below": {"too_short": 1.5}}}, th)
    with pytest.raises(ValueError, match="no min bound"):
        cascade_from_dict({"cascade": {"skip_below": {"gopher_max_words": 0.5}}}, th)
    with pytest.raises(ValueError, match="unknown"):
        cascade_from_dict({"cascade": {"skip": {}}}, th)
    # a disabled rule is not used by the cascade: it could not reject what the cascade skipped
    raw = {"rules": [{"name": "too_short", "column": "gopher_n_words", "min": 50, "enabled": False}]}
    off = thresholds_from_dict(raw)
    assert not cascade_from_dict({"cascade": {"skip_below": {"too_short": 0.7}}}, off).enabled
    assert not cascade_from_dict(
        {"cascade": {"enabled": False, "skip_below": {"too_short": 0.7}}}, th
    ).enabled
    assert skip_reason({"gopher_n_words": 34, "c4_n_sentences": 9}, cascade) == "too_short"
    assert skip_reason({"gopher_n_words": 35, "c4_n_sentences": 1}, cascade) == "c4_min_sentences"
    assert skip_reason({"gopher_n_words": 35, "c4_n_sentences": 2}, cascade) is None
    assert Cascade.from_json(cascade.to_json()) == cascade


def test_decided_before_extraction_by_url_and_digest():
    th = load_thresholds()
    assert decided_before_extraction({"url": "https://example.org/a", "digest_verified": True}, th) is None
    assert decided_before_extraction({"url": "https://example.org/a", "digest_verified": None}, th) is None
    assert decided_before_extraction({"url": "https://example.org/a", "digest_verified": False}, th) == (
        "digest_mismatch"
    )
    blocked = next(
        line.strip()
        for line in open(REPO / "pipeline" / "blocklists" / "domains.txt", encoding="utf-8")
        if line.strip() and not line.startswith("#")
    )
    assert decided_before_extraction({"url": f"https://{blocked}/x", "digest_verified": True}, th) == (
        "url_blocked_domain"
    )


def test_cascade_extractor_in_the_time_limited_child():
    options = load_cascade(read_thresholds()).to_json()
    with Extractor("cascade", options=options) as ex:
        stub = ex.extract(STUB, "https://example.org/login")
        assert (stub.extractor, stub.skipped_by) == (KIND_PAGE_TEXT, "too_short")
        article = ex.extract(ARTICLE, "https://example.org/2021/03/03/harbour.html")
        assert (article.extractor, article.skipped_by) == (KIND_TRAFILATURA, None)
        assert "harbour" in article.text and "Home | News" not in article.text
        decided = ex.extract(ARTICLE, "https://example.org/a", decided="url_blocked_domain")
        assert (decided.extractor, decided.skipped_by) == (KIND_PAGE_TEXT, "url_blocked_domain")
        assert "harbour" in decided.text
    with Extractor("cascade", options={"enabled": False, "rules": []}) as ex:
        assert ex.extract(STUB).extractor == KIND_TRAFILATURA


def test_payload_key_needs_a_verified_digest_and_keeps_url_dates_apart():
    row = {"payload_digest": "sha1:ABC", "digest_verified": True, "url": "https://a.org/x"}
    assert payload_key(row, "utf-8") == payload_key({**row, "url": "https://b.org/y"}, "utf-8")
    assert payload_key(row, "utf-8") != payload_key(row, "latin-1")
    assert payload_key({**row, "digest_verified": None}, None) is None
    assert payload_key({**row, "digest_verified": False}, None) is None
    dated = {**row, "url": "https://a.org/2021/03/04/x"}
    assert payload_key(dated, None) != payload_key(row, None)
    cache = PayloadCache(max_entries=2)
    result = ExtractResult("text", "title", None, extractor=KIND_TRAFILATURA)
    cache.put(payload_key(row, None), result)
    assert cache.get(payload_key({**row, "url": "https://b.org/y"}, None)) is result
    cache.put(payload_key(dated, None), ExtractResult(None, None, None, "extract_timeout"))
    assert cache.get(payload_key(dated, None)) is None  # failures are retried, not reused
    for n in range(3):
        cache.put(("k", n), result)
    assert cache.get(payload_key(row, None)) is None  # least recently used out
    small = PayloadCache(max_total_chars=10)  # a bound on the text held, whatever the number of entries
    small.put(("a",), ExtractResult("x" * 6, None, None))
    small.put(("b",), ExtractResult("y" * 6, None, None))
    assert small.get(("a",)) is None and small.get(("b",)).text == "y" * 6


_OTHER_WORKER = """
import sys
sys.path.insert(0, sys.argv[1])
from transforms.extract import ExtractResult
from transforms.extract.reuse import SharedPayloadCache
cache = SharedPayloadCache(sys.argv[2])
cache.put(("sha1:SHARED", None, None), ExtractResult("the text", "the title", "2021-03-04", extractor="trafilatura"))
cache.put(("sha1:FAILED", None, None), ExtractResult(None, None, None, "extract_timeout"))
"""


def test_shared_payload_cache_reuses_what_another_worker_extracted(tmp_path):
    import subprocess
    import sys

    shared = tmp_path / "payloads"
    subprocess.run([sys.executable, "-c", _OTHER_WORKER, str(REPO), str(shared)], check=True)
    cache = SharedPayloadCache(shared)
    got = cache.get(("sha1:SHARED", None, None))
    assert (got.text, got.title, got.published_date, got.extractor) == (
        "the text",
        "the title",
        "2021-03-04",
        "trafilatura",
    )
    assert (cache.hits, cache.shared_hits) == (1, 1)
    assert cache.get(("sha1:SHARED", None, None)) is got and cache.shared_hits == 1  # now in memory
    assert cache.get(("sha1:FAILED", None, None)) is None  # failures are never shared
    assert cache.get(("sha1:SHARED", "latin-1", None)) is None
    cache._path(("torn",)).write_bytes(b"\x80\x05\x95")  # a partial file reads as a miss
    assert cache.get(("torn",)) is None
    full = SharedPayloadCache(tmp_path / "small", max_bytes=1)  # a bound on what one process writes
    full.put(("a",), ExtractResult("x", None, None))
    full.put(("b",), ExtractResult("y", None, None))
    assert len(list((tmp_path / "small").iterdir())) == 1 and full.get(("b",)).text == "y"


def test_byte_ranges_read_every_record_once(shared_data, tmp_path):
    """Every sample file read in ranges of a few hundred bytes gives the records of the whole file."""
    split = 0
    for path in map(str, sample_files()):
        size = os.path.getsize(path)
        whole = [
            (r.warc_offset, r.record_type, r.warc_record_id, r.failure_reason, r.crawl, r.digest_verified)
            for r in iter_records(path)
        ]
        for range_bytes in (1500, 300):
            ranges = split_ranges(path, size, range_bytes)
            split += len(ranges) > 1
            parts = [
                (r.warc_offset, r.record_type, r.warc_record_id, r.failure_reason, r.crawl, r.digest_verified)
                for start, end in ranges
                for r in iter_records_in_range(path, start, end)
            ]
            assert parts == whole, (path, range_bytes)
    assert split > 100  # most samples are per-record gzip, and were split
    # whole-file gzip and uncompressed files are one range
    plain = tmp_path / "plain.warc"
    plain.write_bytes(b"WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Length: 0\r\n\r\n\r\n\r\n" * 100)
    assert split_ranges(str(plain), plain.stat().st_size, 100) == [(0, None)]


def test_pipeline_output_is_the_same_in_byte_ranges(shared_data, tmp_path, monkeypatch):
    files = [str(p) for p in sorted((WARC_SAMPLES / "commoncrawl").rglob("*.warc.gz"))]
    assert files
    whole = tmp_path / "whole"
    assert cli.main(["run", "--input", *files, "--output", str(whole)]) == 0
    monkeypatch.setattr(ranges, "RANGE_BYTES", 5000)
    assert any(len(split_ranges(f, os.path.getsize(f))) > 1 for f in files)
    ranged = tmp_path / "ranged"
    assert cli.main(["run", "--input", *files, "--output", str(ranged)]) == 0
    a, b = read_rows(whole), read_rows(ranged)
    assert a.keys() == b.keys()
    for i in a:
        for column in ("status", "text", "crawl", "warc_offset", "reject_reason"):
            assert a[i][column] == b[i][column], (i, column)
    sa, sb = read_stats(str(whole)), read_stats(str(ranged))
    for key in ("files_read", "records_read", "html_responses", "kept", "rejected", "failed"):
        assert sa[key] == sb[key], key


def test_two_workers_share_a_payload_directory_removed_after_the_run(tmp_path):
    """The local runner's workers share extraction results in the machine's temporary directory; the run
    leaves nothing there."""
    import subprocess
    import sys

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "run",
        "--input",
        *map(str, sorted((REPO / "sample").glob("*.warc.gz"))),
    ]
    command += [
        "--output",
        str(out),
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
    ]
    env = {**os.environ, "TMPDIR": str(temporary)}
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    stats = read_stats(str(out))
    assert stats["accounting_ok"] and stats["extraction"]["decided_by"]
    assert not list(temporary.glob("pristine-payloads-*"))
