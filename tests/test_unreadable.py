"""Nothing unreadable goes unnamed: every unreadable file or record is a failed row and a summary line."""

import gzip
import json

import pyarrow.parquet as pq
import pytest
from conftest import WARC_SAMPLES

from pipeline import cli
from pipeline.stats import read_stats
from transforms.read import iter_records, not_archive, unreadable_input

CC_FILE = WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz"
BAD_ARC = WARC_SAMPLES / "edge-cases" / "bad.arc"


def test_plainly_not_warc_input_is_named_with_the_input_format_to_use(tmp_path):
    assert not_archive(b"") == ("empty_file", "the file is empty: no WARC/ARC record in it")
    reason, detail = not_archive(b'{"text": "a page"}\n{"text": "another"}\n')
    assert reason == "not_warc" and "JSON Lines" in detail and "--input-format jsonl" in detail
    reason, detail = not_archive(b"PAR1\x15\x04")
    assert reason == "not_warc" and "--input-format parquet" in detail
    reason, detail = not_archive(b"just some notes\nand more\n")
    assert reason == "not_warc" and "'just some notes'" in detail
    assert not_archive(b"\x00\x01\x02\x03garbage\x00\x00")[0] == "not_warc"
    # a damaged archive is not "not WARC": its own markers say where it is damaged
    assert not_archive(b"WARC/1.0\r\nWARC-Type: resp") is None


def test_a_file_with_no_record_yields_one_marker_saying_what_it_is(tmp_path):
    jsonl = tmp_path / "docs.warc.gz"
    jsonl.write_bytes(gzip.compress(b'{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n'))
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    [marker] = list(iter_records(str(jsonl)))
    assert (marker.record_type, marker.warc_offset, marker.failure_reason) == ("unreadable", 0, "not_warc")
    assert unreadable_input(marker) == {
        "file": str(jsonl),
        "offset": 0,
        "reason": "not_warc",
        "detail": marker.failure_detail,
    }
    [marker] = list(iter_records(str(empty)))
    assert marker.failure_reason == "empty_file"
    # a real archive keeps its records and markers as they are
    assert [r.failure_reason for r in iter_records(str(BAD_ARC)) if unreadable_input(r)] == [
        "bad_content_length"
    ] * 3


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unreadable")
    (tmp / "empty.warc.gz").write_bytes(b"")
    (tmp / "notes.warc.gz").write_text("these are my notes, not a crawl\n")
    (tmp / "docs.warc.gz").write_bytes(gzip.compress(b'{"text": "a document"}\n'))
    inputs = [CC_FILE, BAD_ARC, tmp / "empty.warc.gz", tmp / "notes.warc.gz", tmp / "docs.warc.gz"]
    out = tmp / "out"
    argv = ["run", "--input", *map(str, inputs), "--output", str(out)]
    return tmp, inputs, out, argv


def test_every_unreadable_input_is_a_failed_row_and_a_summary_line(mixed_run, capsys):
    tmp, inputs, out, argv = mixed_run
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    stats = read_stats(str(out))
    assert stats["unreadable_total"] == 6 and stats["unreadable"] == {
        "bad_content_length": 3,
        "empty_file": 1,
        "not_warc": 2,
    }
    assert stats["accounting_ok"]
    assert (
        stats["html_responses"] + stats["unreadable_total"]
        == stats["kept"] + stats["rejected"] + stats["failed"]
    )
    listed = {(u["file"], u["offset"], u["reason"]) for u in stats["unreadable_inputs"]}
    failed = pq.read_table(out / "failed").to_pylist()
    rows = {(r["warc_filename"], r["warc_offset"], r["failure_reason"]) for r in failed}
    assert listed <= rows and len(listed) == 6
    assert {f for f, _, _ in listed} == {str(p) for p in inputs[1:]}
    for u in stats["unreadable_inputs"]:
        assert f"{u['file']} @ {u['offset']}: {u['reason']}" in printed
    assert "--input-format jsonl" in printed
    assert "accounting (HTML responses + unreadable = kept + rejected + failed): holds" in printed
    report = (out / "report.html").read_text()
    assert "docs.warc.gz" in report and "not_warc" in report


def test_strict_makes_unreadable_input_a_failing_exit(mixed_run, capsys):
    tmp, inputs, out, argv = mixed_run
    assert cli.main([*argv, "--overwrite", "--strict"]) == 1
    assert "--strict: 6 unreadable input(s)" in capsys.readouterr().err
    # all of it readable: --strict exits 0
    assert cli.main(["run", "--input", str(CC_FILE), "--output", str(tmp / "ok"), "--strict"]) == 0


def test_jsonl_rows_that_are_not_json_name_their_problem(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"text": "fine"}) + "\n" + '{"text": "cut\n')
    out = tmp_path / "out"
    assert cli.main(["run", "--input", str(path), "--input-format", "jsonl", "--output", str(out)]) == 0
    [bad] = [r for r in pq.read_table(out / "failed").to_pylist() if r["failure_reason"] == "bad_json"]
    assert bad["warc_filename"] == str(path)
    assert bad["failure_detail"].startswith("line 2: not JSON: "), bad["failure_detail"]
    assert "line 1 column" not in bad["failure_detail"]
