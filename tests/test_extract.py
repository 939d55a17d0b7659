"""transforms/extract.py and pipeline/evaluate/extraction.py: extraction quality on real pages, the AEB metric, and a
time limit that really stops a hanging extractor (real child processes, real hangs, real crashes)."""

from __future__ import annotations

import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.evaluate.extraction import (
    AEB_DIRNAME,
    AEB_PUBLISHED,
    DEFAULT_DATA_DIR,
    aeb_scores,
    load_aeb,
    load_aeb_baseline,
    load_aeb_truth,
    shingle_counts,
)
from transforms.extract import (
    FAILURE_CRASHED,
    FAILURE_ERROR,
    FAILURE_TIMEOUT,
    Extractor,
    ExtractorStartupError,
    ExtractResult,
    extract_resiliparse,
    extract_trafilatura,
    prepare_html,
    strip_scripts_and_styles,
)
from transforms.heap import MMAP_THRESHOLD

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AEB = DATA / AEB_DIRNAME
REPO = Path(__file__).resolve().parents[1]

# Measured on all 181 AEB pages through the time-limited child (README numbers):
#   trafilatura (fast, favor_recall, no comments): F1 0.9632, P 0.9477, R 0.9791
#   resiliparse (main_content, no alt texts / comments / post meta): F1 0.9340, P 0.8915, R 0.9806
# Extraction is deterministic; the floors leave 0.01 for library or platform drift.
TRAFILATURA_F1_FLOOR = 0.953
RESILIPARSE_F1_FLOOR = 0.924

ARTICLE = (
    "<html><head><title>A title</title></head><body><article><h1>Heading</h1>"
    + "<p>This is a sentence of ordinary prose, long enough to count as main text for an extractor.</p>" * 6
    + "</article></body></html>"
)


# ----------------------------------------------------------------------------------------------------------
# misbehaving extractors, run in the child as "tests.test_extract:misbehave"


def misbehave(html: str, url: str | None) -> ExtractResult:
    """Behaves according to a marker in the page, else extracts with Resiliparse."""
    if "HANG_REGEX" in html:
        # catastrophic backtracking: C code that holds the GIL and never returns to Python (~2^40 steps), so
        # neither signals nor a watchdog thread in the same process can stop it
        re.match(r"(a+)+$", "a" * 40 + "!")
    if "HANG_SLEEP" in html:
        time.sleep(1e9)
    if "KILL9" in html:
        os.kill(os.getpid(), signal.SIGKILL)
    if "EXIT3" in html:
        os._exit(3)
    if "RAISE" in html:
        raise ValueError("boom")
    return extract_resiliparse(html, url)


MISBEHAVE = "tests.test_extract:misbehave"


def _gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


# ----------------------------------------------------------------------------------------------------------
# the AEB metric


@pytest.fixture(scope="module")
def aeb_truth() -> dict[str, str]:
    assert AEB.is_dir(), f"shared data missing: {AEB}"
    return load_aeb_truth(DATA)


@pytest.fixture(scope="module")
def aeb_pages() -> list[tuple[str, str, str]]:
    assert AEB.is_dir(), f"shared data missing: {AEB}"
    return load_aeb(DATA)


@pytest.mark.parametrize("name", sorted(AEB_PUBLISHED))
def test_metric_reproduces_published_baselines(name, aeb_truth):
    f1, precision, recall = AEB_PUBLISHED[name]
    scores = aeb_scores(load_aeb_baseline(DATA, name), aeb_truth)
    assert scores["n"] == 181
    assert scores["f1"] == pytest.approx(f1, abs=0.005)
    assert scores["precision"] == pytest.approx(precision, abs=0.005)
    assert scores["recall"] == pytest.approx(recall, abs=0.005)


def test_metric_small_cases():
    text = "one two three four five six"
    assert shingle_counts(text, text) == (1.0, 0.0, 0.0)
    assert shingle_counts(text, "") == (0.0, 0.0, 1.0)
    assert shingle_counts("", "") == (0.0, 0.0, 0.0)
    # 6 tokens -> 3 shingles; the prediction keeps the first 5 tokens -> 2 shared shingles, 1 missing
    tp, fp, fn = shingle_counts(text, "one two three four five")
    assert (tp, fp, fn) == pytest.approx((2 / 3, 0.0, 1 / 3))
    # texts shorter than 4 tokens are one shingle; punctuation and case of \w tokens matter as upstream
    assert shingle_counts("a b", "a, b!") == (1.0, 0.0, 0.0)
    truth = {"x": text, "y": text}
    perfect = aeb_scores({"x": text, "y": "  " + text + "\n"}, truth)
    assert perfect == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "accuracy": 1.0, "n": 2}
    # an empty (or missing) prediction lowers recall only: precision averages over non-empty predictions
    half = aeb_scores({"x": text}, truth)
    assert half["precision"] == 1.0 and half["recall"] == 0.5 and half["accuracy"] == 0.5


def test_default_data_dir_is_the_shared_data():
    # `make bench` and `python -m pipeline.evaluate.extraction aeb` rely on the default
    assert DEFAULT_DATA_DIR.resolve() == DATA.resolve()
    assert (DEFAULT_DATA_DIR / AEB_DIRNAME / "index.jsonl").is_file()


def test_load_aeb(aeb_pages, aeb_truth):
    assert len(aeb_pages) == 181
    assert {doc_id for doc_id, _, _ in aeb_pages} == set(aeb_truth)
    doc_id, url, html = aeb_pages[0]
    assert url.startswith("http") and "<html" in html.lower()


# ----------------------------------------------------------------------------------------------------------
# extraction quality on the AEB, through the time-limited child


def _score_extractor(kind: str, pages, truth) -> tuple[dict, list[ExtractResult]]:
    with Extractor(kind) as extractor:
        results = [extractor.extract(html, url) for _, url, html in pages]
    scores = aeb_scores({doc_id: r.text for (doc_id, _, _), r in zip(pages, results, strict=True)}, truth)
    print(f"\n{kind}: F1 {scores['f1']:.4f} P {scores['precision']:.4f} R {scores['recall']:.4f}")
    return scores, results


def test_aeb_quality_trafilatura(aeb_pages, aeb_truth):
    scores, results = _score_extractor("trafilatura", aeb_pages, aeb_truth)
    assert [r.failure_reason for r in results if r.failed] == []
    assert scores["f1"] >= TRAFILATURA_F1_FLOOR
    assert sum(bool(r.title) for r in results) >= 178
    dates = [r.published_date for r in results if r.published_date]
    assert len(dates) >= 170  # news pages: 178 of 181 measured
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates)
    assert not any(r.html_truncated for r in results)


def test_aeb_quality_resiliparse(aeb_pages, aeb_truth):
    scores, results = _score_extractor("resiliparse", aeb_pages, aeb_truth)
    assert [r.failure_reason for r in results if r.failed] == []
    assert scores["f1"] >= RESILIPARSE_F1_FLOOR
    assert sum(bool(r.title) for r in results) >= 178
    assert all(r.published_date is None for r in results)


# ----------------------------------------------------------------------------------------------------------
# the time limit, crashes and errors


def test_timeout_kills_a_hang_in_c_code_and_recovers():
    with Extractor(MISBEHAVE, time_limit_s=1.0) as extractor:
        assert extractor.extract(ARTICLE).text  # child up and warm: start-up is not part of the limit
        pid = extractor.child_pid
        start = time.monotonic()
        result = extractor.extract("<p>HANG_REGEX</p>")
        elapsed = time.monotonic() - start
        assert result.failure_reason == FAILURE_TIMEOUT
        assert result.text is None and "1 s" in result.failure_detail
        assert 1.0 <= elapsed < 2.5
        assert _wait_gone(pid, 2.0), "the hung child must be killed"
        assert extractor.child_pid is None  # restarted lazily, not eagerly
        after = extractor.extract(ARTICLE)
        assert after.failure_reason is None and "ordinary prose" in after.text
        assert extractor.child_pid not in (None, pid)
        assert extractor.starts == 2


def test_timeout_on_a_sleeping_extractor():
    with Extractor(MISBEHAVE, time_limit_s=0.5) as extractor:
        extractor.extract(ARTICLE)
        start = time.monotonic()
        assert extractor.extract("HANG_SLEEP").failure_reason == FAILURE_TIMEOUT
        assert time.monotonic() - start < 2.0
        assert extractor.extract(ARTICLE).text


def test_resiliparse_really_hangs_on_deep_nesting_and_is_stopped():
    # Real pathological HTML: Resiliparse's main-content pass is quadratic in nesting depth; 50,000
    # unclosed <div> (250 kB) take ~47 s. The default extractor has to give up at the limit.
    html = "<html><body>" + "<div>" * 50_000 + ARTICLE + "</body></html>"
    with Extractor("resiliparse", time_limit_s=1.0) as extractor:
        extractor.extract(ARTICLE)
        start = time.monotonic()
        assert extractor.extract(html).failure_reason == FAILURE_TIMEOUT
        assert time.monotonic() - start < 2.5
        assert "ordinary prose" in extractor.extract(ARTICLE).text


@pytest.mark.parametrize(
    ("marker", "detail"),
    [("KILL9", "killed by signal 9 (SIGKILL)"), ("EXIT3", "exited with status 3")],
)
def test_crash_gives_extract_crashed_and_recovers(marker, detail):
    with Extractor(MISBEHAVE, time_limit_s=5.0) as extractor:
        extractor.extract(ARTICLE)
        pid = extractor.child_pid
        result = extractor.extract(marker)
        assert result.failure_reason == FAILURE_CRASHED
        assert detail in result.failure_detail
        assert _wait_gone(pid, 1.0)
        assert "ordinary prose" in extractor.extract(ARTICLE).text
        assert extractor.starts == 2


def test_exception_gives_extract_error_without_restart():
    with Extractor(MISBEHAVE) as extractor:
        extractor.extract(ARTICLE)
        pid = extractor.child_pid
        result = extractor.extract("RAISE")
        assert result.failure_reason == FAILURE_ERROR
        assert result.failure_detail == "ValueError: boom"
        assert extractor.child_pid == pid and extractor.starts == 1
    in_process = Extractor(MISBEHAVE, time_limit_s=None).extract("RAISE")
    assert (in_process.failure_reason, in_process.failure_detail) == (FAILURE_ERROR, "ValueError: boom")


def test_child_killed_while_idle_is_replaced_without_blaming_the_next_page():
    with Extractor(MISBEHAVE) as extractor:
        extractor.extract(ARTICLE)
        pid = extractor.child_pid
        os.kill(pid, signal.SIGKILL)
        assert _wait_gone(pid, 2.0)
        time.sleep(0.1)
        result = extractor.extract(ARTICLE)
        assert result.failure_reason is None and result.text


def test_unknown_extractor_fails_loudly():
    with pytest.raises(ValueError):
        Extractor("no-such-extractor")
    with Extractor("tests.no_such_module:extract") as extractor, pytest.raises(ExtractorStartupError):
        extractor.extract(ARTICLE)


# ----------------------------------------------------------------------------------------------------------
# life cycle: lazy start, pickling, close, no orphans


def test_lazy_picklable_and_closed():
    extractor = Extractor("resiliparse", time_limit_s=3.0, max_html_chars=1234)
    assert extractor.child_pid is None  # nothing started yet: safe to build in DoFn.setup() or pickle
    clone = pickle.loads(pickle.dumps(extractor))
    assert (clone.kind, clone.time_limit_s, clone.max_html_chars) == ("resiliparse", 3.0, 1234)
    assert clone.extract(ARTICLE).text
    pid = clone.child_pid
    assert pid is not None
    clone_again = pickle.loads(pickle.dumps(clone))  # a running child is never pickled
    assert clone_again.child_pid is None
    clone.close()
    assert clone.child_pid is None and _wait_gone(pid, 2.0)
    assert clone.extract(ARTICLE).text  # usable after close: starts a new child
    clone.close()


def test_idle_child_is_stopped_and_started_again_on_the_next_page():
    with Extractor("resiliparse", idle_close_s=1.0) as extractor:
        first = extractor.extract(ARTICLE)
        pid = extractor.child_pid
        assert pid is not None
        time.sleep(0.6)  # busy enough: a page within idle_close_s keeps the child
        assert extractor.extract(ARTICLE).text == first.text and extractor.child_pid == pid
        assert _wait_gone(pid, 5.0)  # then no page for a while: the child is stopped
        deadline = time.monotonic() + 2.0
        while extractor.idle_closes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert extractor.child_pid is None and extractor.idle_closes == 1
        again = extractor.extract(ARTICLE)
        assert (again.text, again.failure_reason) == (first.text, None)
        assert extractor.starts == 2 and extractor.child_pid not in (None, pid)
    with Extractor("resiliparse", idle_close_s=None) as keeps:
        keeps.extract(ARTICLE)
        pid = keeps.child_pid
        keeps.idle_soon(0.1)
        time.sleep(1.5)
        assert keeps.child_pid == pid and keeps.idle_closes == 0
    # at a bundle's end (idle_soon) the child goes after 0.3 s without a page instead of 30 s
    with Extractor("resiliparse", idle_close_s=30.0) as extractor:
        extractor.extract(ARTICLE)
        pid = extractor.child_pid
        extractor.idle_soon(0.3)
        assert extractor.child_pid == pid  # not at once
        assert _wait_gone(pid, 3.0)
        deadline = time.monotonic() + 2.0
        while extractor.idle_closes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert extractor.idle_closes == 1
        assert extractor.extract(ARTICLE).text == first.text and extractor.starts == 2


_ORPHAN_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from transforms.extract import Extractor
ex = Extractor("tests.test_extract:misbehave", time_limit_s=60)
ex.extract("<html><body><p>warm up</p></body></html>")
print(ex.child_pid, flush=True)
ex.extract("HANG_REGEX")
"""


def test_no_orphan_when_the_parent_is_killed_mid_extraction():
    # the child is stuck in C code holding the GIL, so only the kernel's parent-death signal can stop it
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(REPO)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        child_pid = int(parent.stdout.readline())
        time.sleep(0.3)
        assert not _gone(child_pid)
        parent.kill()
        parent.wait(5)
        assert _wait_gone(child_pid, 3.0), "child outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(5)
        parent.stdout.close()


# ----------------------------------------------------------------------------------------------------------
# the extraction step in Beam, with one child or several


def _extract_in_beam(tmp_path, children: int, elements: list) -> tuple[dict, dict]:
    """ExtractTextFn in a real FnApiRunner pipeline: (output row by id, extract/* counters)."""
    import json

    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter

    from transforms.extract.beam import ExtractTextFn

    out = tmp_path / f"children-{children}"
    columns = ("id", "status", "failure_reason", "text", "extractor")
    p = beam.Pipeline(runner="FnApiRunner")
    (
        p
        | beam.Create(elements)
        | beam.ParDo(ExtractTextFn(MISBEHAVE, 1.0, children=children))
        | beam.Map(lambda row: json.dumps({c: row.get(c) for c in columns}))
        | beam.io.WriteToText(str(out))
    )
    result = p.run()
    result.wait_until_finish()
    query = result.metrics().query(MetricsFilter().with_namespace("extract"))
    counters = {c.key.metric.name: c.committed for c in query["counters"]}
    rows = [json.loads(line) for path in tmp_path.glob(f"children-{children}*") for line in path.open()]
    by_id = {r["id"]: r for r in rows}
    assert len(by_id) == len(rows), "a row came out twice"
    return by_id, counters


def test_several_children_give_what_one_gives(tmp_path):
    """Pages go to whichever child is free; every row comes out once, with what one child gives it: copies of
    a payload reuse its extraction (also while it is still running), a failure is not reused (each copy of a
    hanging page times out), errors and rows failed before extraction pass."""
    from transforms.schema import new_row

    def element(i, body, digest, verified=True, **values):
        row = new_row(id=f"r{i:02d}", url=f"https://example.com/{i}", payload_digest=digest, **values)
        row["digest_verified"] = verified
        return row, body.encode(), None

    pages = [f"{ARTICLE}<p>Page number {i} of the site.</p>" for i in range(6)]
    elements = [element(i, page, f"sha1:PAGE{i}") for i, page in enumerate(pages)]
    elements += [element(6 + i, pages[0], "sha1:PAGE0") for i in range(3)]  # copies of page 0
    elements.append(element(9, pages[1], "sha1:PAGE1", verified=False))  # unverified: extracted again
    elements += [element(10 + i, "<p>HANG_SLEEP</p>", "sha1:HANG") for i in range(3)]
    elements.append(element(13, "RAISE", "sha1:RAISE"))
    elements.append(element(14, pages[2], "sha1:PAGE2", status="failed", failure_reason="warc_truncated"))

    one, one_counters = _extract_in_beam(tmp_path, 1, elements)
    two, two_counters = _extract_in_beam(tmp_path, 2, elements)
    assert sorted(one) == sorted(two) == [f"r{i:02d}" for i in range(15)]
    assert one == two
    assert one_counters == two_counters
    assert one_counters["payload_reused"] == 3
    assert one_counters["extract_timeout"] == 3 and one_counters["extract_error"] == 1
    for i in range(6, 9):
        assert two[f"r{i:02d}"]["text"] == two["r00"]["text"] and "Page number 0" in two["r00"]["text"]
    assert two["r09"]["text"] == two["r01"]["text"]
    reasons = [two[f"r{i}"]["failure_reason"] for i in range(10, 15)]
    assert reasons == ["extract_timeout"] * 3 + ["extract_error", "warc_truncated"]


def test_extraction_processes_per_worker(monkeypatch):
    """Two for the local runner's one in-memory worker (no runner flags) on 2 or more cores; one per worker
    process otherwise; --extract-processes decides when given."""
    from pipeline.options import extraction_children, parse

    run = ["--input", "a.warc.gz", "--output", "out"]
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert extraction_children(parse(run)) == 2
    assert extraction_children(parse([*run, "--extract-processes", "3"])) == 3
    workers = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    assert extraction_children(parse([*run, *workers])) == 1
    assert extraction_children(parse([*run, "--runner", "PortableRunner"])) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert extraction_children(parse(run)) == 1
    with pytest.raises(ValueError, match="--extract-processes must be at least 1"):
        parse([*run, "--extract-processes", "0"])


def test_extraction_results_shared_between_workers_only(monkeypatch):
    """Results are shared through files where several workers run (multi_processing, remote runners), not
    for the local runner's one in-memory worker; the extraction step then makes no shared directory."""
    from pipeline.options import parse, shares_extraction_results
    from transforms.extract.beam import ExtractText

    run = ["--input", "a.warc.gz", "--output", "out"]
    assert not shares_extraction_results(parse(run))
    assert not shares_extraction_results(parse([*run, "--runner", "DirectRunner"]))
    workers = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    assert shares_extraction_results(parse([*run, *workers]))
    assert shares_extraction_results(parse([*run, "--direct_num_workers", "2"]))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert shares_extraction_results(parse([*run, "--direct_num_workers", "0"]))  # a worker per core
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not shares_extraction_results(parse([*run, "--direct_num_workers", "0"]))
    assert shares_extraction_results(parse([*run, "--runner", "PortableRunner"]))
    assert ExtractText(share_results=False).payload_run is None
    assert ExtractText().payload_run


# ----------------------------------------------------------------------------------------------------------
# inputs that are not (good) HTML

GARBAGE = [
    "",
    "   \n\t ",
    "plain text with no markup at all",
    "<",
    "<<<>>>",
    "<html>",
    "</html></body>",
    "\x00\x01\x02 binary \xff\xfe",
    bytes(range(256)).decode("latin-1") * 20,
    os.urandom(4000).decode("utf-8", "replace"),
    "\ud800 a lone surrogate <p>text</p>",
    "<p>" + "\x00" * 100 + "</p>",
    "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >>",
    '{"json": ["not", "html"]}',
    "<script>" + "x" * 10_000,
    "<html><head><title>" + "t" * 5_000 + "</title></head></html>",
]


@pytest.mark.parametrize("function", [extract_trafilatura, extract_resiliparse])
def test_pure_functions_accept_garbage(function):
    for html in GARBAGE:
        result = function(html, None)
        assert isinstance(result.text, str) and result.failure_reason is None, repr(html[:40])
        assert result.title is None or len(result.title) <= 1000


@pytest.mark.parametrize("kind", ["trafilatura", "resiliparse"])
def test_extractor_accepts_garbage(kind):
    with Extractor(kind) as extractor:
        for html in [*GARBAGE, None]:
            result = extractor.extract(html, "http://example.com/")
            assert result.failure_reason is None, (repr(html and html[:40]), result)
            assert isinstance(result.text, str)
        assert extractor.starts == 1
        assert "ordinary prose" in extractor.extract(ARTICLE).text


# ----------------------------------------------------------------------------------------------------------
# preparing the HTML


def test_strip_scripts_and_styles():
    html = (
        '<script-x>kept</script-x><script type="text/javascript">var a = "</div>";</script ><p>text</p>'
        '<STYLE>.a{}</STYLE><script type=\'application/ld+json\'>{"datePublished": "2020-01-02"}</script>'
        "<script>unclosed"
    )
    assert strip_scripts_and_styles(html) == (
        '<script-x>kept</script-x><script type="text/javascript"></script ><p>text</p>'
        '<STYLE></STYLE><script type=\'application/ld+json\'>{"datePublished": "2020-01-02"}</script>'
        "<script>unclosed"
    )
    assert strip_scripts_and_styles("<script>" * 10_000) == "<script>" * 10_000  # linear, nothing to strip


def test_prepare_html_strips_before_cutting():
    page = "<html><head><style>" + "x" * 10_000 + "</style></head><body>" + ARTICLE + "</body></html>"
    prepared, truncated = prepare_html(page, 2_000)
    assert not truncated and "ordinary prose" in prepared and "xxxx" not in prepared
    prepared, truncated = prepare_html("<p>" + "word " * 1_000 + "</p>", 100)
    assert truncated and len(prepared) == 100
    assert prepare_html(None, 100) == ("", False)
    with Extractor("resiliparse", time_limit_s=None, max_html_chars=200) as extractor:
        result = extractor.extract(ARTICLE)
    assert result.html_truncated and result.failure_reason is None


_HEAP_SCRIPT = """
import os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from transforms.heap import fix_mmap_threshold
print(fix_mmap_threshold())
child = [sys.executable, "-c", "import os; print(os.environ.get('MALLOC_MMAP_THRESHOLD_'))"]
print(subprocess.run(child, capture_output=True, text=True).stdout.strip())
"""


@pytest.mark.parametrize(("preset", "seen"), [(None, str(MMAP_THRESHOLD)), ("262144", "262144")])
def test_mmap_threshold_is_fixed_for_the_processes_a_run_starts(preset, seen):
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    if preset:
        env["MALLOC_MMAP_THRESHOLD_"] = preset  # the user's own setting is kept
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", _HEAP_SCRIPT, root], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["True", seen], out.stderr


def test_faster_trafilatura_changes_no_extraction(aeb_pages, monkeypatch):
    """trafilatura with lxml's C element class lookup and guarded regular-expression tests
    (transforms/extract/fast_trafilatura.py) gives the same text, title and date as without: on the AEB
    pages and pages of the shared WARC samples."""
    import trafilatura.xpaths
    from lxml.html import FormElement, HtmlElement
    from trafilatura.utils import load_html

    from bench.make_corpus import warc_sample_pages
    from transforms.extract import fast_trafilatura
    from transforms.read import decode_html

    def form_class():
        return type(load_html("<html><body><form><p>x</p></form><p>y</p></body></html>").find(".//form"))

    def guarded():
        return sum("and re:test(" in xpath.path for xpath in trafilatura.xpaths.OVERALL_DISCARD_XPATH)

    pages = [(html, url) for _, url, html in aeb_pages[::2]]
    for page in warc_sample_pages(DATA)[::4]:
        html = decode_html(page["body"], page["charset"])
        pages.append((html[0] if isinstance(html, tuple) else html, page["url"]))
    assert len(pages) > 150
    assert fast_trafilatura.apply(), "the pinned trafilatura is the version the changes were checked against"
    assert form_class() is HtmlElement and guarded() == 2
    fast = [extract_trafilatura(html, url) for html, url in pages]
    monkeypatch.setattr(fast_trafilatura, "ENABLED", False)
    fast_trafilatura.undo()
    try:
        assert form_class() is FormElement and guarded() == 0
        shipped = [extract_trafilatura(html, url) for html, url in pages]
    finally:
        monkeypatch.undo()
        fast_trafilatura.apply()
    assert form_class() is HtmlElement and guarded() == 2
    assert sum(bool(r.text) for r in fast) > 100
    assert [(r.text, r.title, r.published_date) for r in fast] == [
        (r.text, r.title, r.published_date) for r in shipped
    ]


def test_regular_expression_tests_are_guarded_only_where_that_changes_nothing():
    """re:test(A, p) becomes ((A) and re:test(A, p)) for attribute node sets A and patterns p that cannot
    match "" (re:test of an absent attribute tests ""); other calls stay as they are, and the rewritten
    XPath selects the same elements, including elements whose attribute is there but empty."""
    from lxml import etree

    from transforms.extract.fast_trafilatura import guard_regex_tests

    path = (
        ".//*[re:test(@id|@class, 'nav') or re:test(@class, 'x?') or re:test(@id, 'Foot', 'i') "
        "or re:test(string(.), 'y') or re:test(@role, $pattern)]"
    )
    rewritten, guarded = guard_regex_tests(path)
    assert guarded == 2
    assert rewritten == (
        ".//*[((@id|@class) and re:test(@id|@class, 'nav')) or re:test(@class, 'x?') "
        "or ((@id) and re:test(@id, 'Foot', 'i')) or re:test(string(.), 'y') or re:test(@role, $pattern)]"
    )
    html = (
        "<div><p id='main-nav'>a</p><p class='navbar' id=''>b</p><p class=''>c</p><p>d</p>"
        "<p id='FOOTER'>e</p><span>y</span><p role='nav'>f</p></div>"
    )
    tree = etree.fromstring(html)
    namespaces = {"re": "http://exslt.org/regular-expressions"}
    for pattern in ("zzz", "nav"):
        original = etree.XPath(path, namespaces=namespaces)(tree, pattern=pattern)
        faster = etree.XPath(rewritten, namespaces=namespaces)(tree, pattern=pattern)
        assert [e.text for e in faster] == [e.text for e in original]
        assert len(original) >= 5
