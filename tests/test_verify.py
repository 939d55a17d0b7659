"""pipeline/verify.py on a real run of shared samples: clean rows verify, tampered rows are caught
one by one with the right reason; and the digests the reader checks (Record.digest_verified)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import cli, verify
from pipeline.verify import verify_run
from transforms.read import iter_records, parse_digest
from transforms.schema import document_id, new_row, to_table

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc-samples"
FILES = [
    "commoncrawl/warcfile.warc.gz",  # Common Crawl, gzip per record, sha1 digests
    "commoncrawl/whirlwind.warc",  # uncompressed
    "clueweb/0000tw-00.warc.gz",  # whole-file gzip: offsets in the decompressed stream
    "edge-cases/example.arc",  # ARC: no digests, record ids made up from url, date and offset
    "edge-cases/example-iana.org-chunked.warc",  # chunked payload
    "edge-cases/clipped.warc.gz",  # a truncated response: a failed row without text
    "other-crawls/IAH-urls-wget.warc.gz",  # wget
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verify") / "run"
    assert cli.main(["run", "--input", *(str(SAMPLES / f) for f in FILES), "--output", str(out)]) == 0
    return out


def test_a_real_run_verifies_clean(run):
    report = verify_run(run)
    assert report.passed, report.summary()
    assert report.rows == report.checked == report.ok >= 30
    assert report.text_checked == report.rows - 1
    assert report.skipped == {"text check, the row has no text (failed row)": 1}  # clipped.warc.gz
    rows = verify.read_rows(run)
    assert {Path(r["warc_filename"]).name for r in rows} == {Path(f).name for f in FILES}


def parquet_files(run_dir: Path) -> list[Path]:
    """The row files of a run (a run also writes other Parquet files, e.g. its dedup index)."""
    return sorted(p for root in verify.ROOTS for p in (run_dir / root).rglob("*.parquet"))


def edit_row(run_dir: Path, row_id: str, **changes) -> None:
    """Rewrite the Parquet file holding row `row_id` with `changes` applied to that row."""
    for path in parquet_files(run_dir):
        table = pq.read_table(path)
        rows = table.to_pylist()
        hits = [r for r in rows if r["id"] == row_id]
        if hits:
            hits[0].update(changes)
            pq.write_table(type(table).from_pylist(rows, schema=table.schema), path)
            return
    raise AssertionError(f"no row {row_id}")


def test_tampered_rows_are_reported_each_with_its_reason(run, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(run, copy)
    rows = verify.read_rows(copy)
    cc = [r for r in rows if r["warc_filename"].endswith("warcfile.warc.gz") and r["text"]]
    plain = [r for r in rows if r["warc_filename"].endswith("example-iana.org-chunked.warc")]
    text_row, offset_row, moved_row, id_row = cc[0], cc[1], cc[2], plain[0]
    edit_row(copy, text_row["id"], text=text_row["text"].replace(" ", "  ", 1))
    edit_row(copy, offset_row["id"], warc_offset=offset_row["warc_offset"] + 7)  # no record there
    edit_row(copy, moved_row["id"], warc_offset=cc[3]["warc_offset"])  # another record
    edit_row(copy, id_row["id"], warc_record_id="<urn:uuid:00000000-0000-0000-0000-000000000000>")

    report = verify_run(copy)
    assert report.checked == len(rows) and report.ok == len(rows) - 4
    found = {}
    for failure in report.failures:
        found.setdefault(failure.id, set()).add(failure.what)
        assert failure.detail and failure.warc_filename
    assert found == {
        text_row["id"]: {"text"},
        offset_row["id"]: {"unreadable"},
        # the record there is another one: its id, url, digest and text are not the row's; nor is the id
        moved_row["id"]: {"warc_record_id", "url", "payload_digest", "id", "text"},
        # the row's record id is not the record's, and the row id is not derived from it
        id_row["id"]: {"warc_record_id", "id"},
    }
    [text_failure] = [f for f in report.failures if f.id == text_row["id"]]
    assert "differs at char" in text_failure.detail and text_failure.warc_offset == text_row["warc_offset"]

    assert verify.main([str(copy), "--all"]) == 1


def test_cli_output_and_sample(run, capsys):
    assert verify.main([str(run), "--sample", "5", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"verified 5 rows (a sample of {len(verify.read_rows(run))}) of {run}: 5 ok, 0 failed"
    )
    picked = verify_run(run, sample=5, seed=3)
    assert picked.checked == 5 and picked == verify_run(run, sample=5, seed=3)  # the same rows again
    with pytest.raises(SystemExit) as exc:
        verify.main([str(run / "no-such-dir")])
    assert exc.value.code == 2


def test_rows_from_text_input_and_missing_files(tmp_path):
    """Rows with extractor 'none' have no record: skipped and counted. A row whose file is gone fails."""
    source = str(SAMPLES / "commoncrawl" / "whirlwind.warc.gz")
    [page] = [r for r in iter_records(source) if r.is_html]
    rows = [
        new_row(id="doc-1", text="given text", extractor="none", warc_filename="corpus.jsonl", status="kept"),
        new_row(
            id=document_id("gone.warc.gz", page.warc_record_id, page.warc_offset),
            url=page.url,
            warc_filename=str(tmp_path / "gone.warc.gz"),
            warc_offset=page.warc_offset,
            warc_record_id=page.warc_record_id,
            payload_digest=page.payload_digest,
            status="failed",
            failure_reason="extract_timeout",
            extractor="trafilatura",
        ),
    ]
    (tmp_path / "run" / "curated").mkdir(parents=True)
    pq.write_table(to_table(rows), tmp_path / "run" / "curated" / "part-0.parquet")
    report = verify_run(tmp_path / "run")
    assert (report.rows, report.checked, report.ok) == (2, 1, 0)
    assert report.skipped == {"text input (no record)": 1}
    [failure] = report.failures
    assert (failure.what, failure.warc_offset) == ("unreadable", page.warc_offset)
    assert "read_failed" in failure.detail
    assert "skipped, text input (no record): 1" in report.summary()


# ------------------------------------------------------------------------------------ digests


def test_digests_verify_on_common_crawl_samples():
    """Common Crawl writes sha1 base32 block and payload digests; every one checks out."""
    checked = Counter()
    for name in ["warcfile.warc.gz", "whirlwind.warc.gz", "whirlwind.warc", "whirlwind.warc.wat.gz"]:
        for r in iter_records(str(SAMPLES / "commoncrawl" / name)):
            if r.record_type == "response":
                assert r.digest_verified is True, (name, r.warc_offset, r.digest_detail)
            checked[r.digest_verified] += 1
    assert checked[True] >= 22 and checked[False] == 0
    # the 2008 ARC has no digests
    assert {
        r.digest_verified for r in iter_records(str(SAMPLES / "commoncrawl/small-sample-1213893279526_0.arc"))
    } == {None}


def test_digest_mismatch_in_example_digest_warc():
    """warcio's fixture: record 1's payload digest is wrong ('1112H3...' for sha1 of nothing, which is
    3I42H3...); records 2-4 carry right digests in base64 and URL-safe base64."""
    records = list(iter_records(str(SAMPLES / "edge-cases/example-digest.warc")))
    assert [r.digest_verified for r in records] == [False, True, True, True]
    assert records[0].digest_detail.startswith(
        "payload digest 'sha1:1112H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ' != computed sha1:3I42H3S6"
    )
    assert all(r.failure_reason is None for r in records)  # a digest mismatch is no read failure


@pytest.mark.parametrize(
    "name, offset, which",
    [
        ("edge-cases/example-extra.warc", 3207, "payload"),  # HTTPX status line, length unchanged
        ("edge-cases/example-bad-non-chunked.warc.gz", 3370, "block"),
        ("edge-cases/example-trunc.warc", 1197, "block"),
        ("edge-cases/example-wrong-chunks.warc.gz", 0, "block"),
    ],
)
def test_digest_mismatches_in_the_samples(name, offset, which):
    [record] = [r for r in iter_records(str(SAMPLES / name)) if r.warc_offset == offset]
    assert record.digest_verified is False and record.digest_detail.startswith(f"{which} digest")


def test_digest_conventions():
    # ClueWeb09 puts the block digest into WARC-Payload-Digest too: accepted
    assert {
        r.digest_verified
        for r in iter_records(str(SAMPLES / "clueweb/clueweb-quirk.warc.gz"))
        if r.record_type == "response"
    } == {True}
    # revisit records: the payload digest is the original's; only the block digest is checked
    revisits = [
        r for r in iter_records(str(SAMPLES / "other-crawls/iana.warc.gz")) if r.record_type == "revisit"
    ]
    assert {r.digest_verified for r in revisits} == {None}
    assert all("refers to another record" in r.digest_detail for r in revisits)
    # formats of the value
    sha1_empty = bytes.fromhex("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    for value in [
        "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ",
        "SHA-1:3i42h3s6nnfq2msvx7xzkyaysCX5QBYJ",
        "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha1:2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
        "sha1:2jmj7l5rSw0yVb_vlWAYkK_YBwk",
    ]:
        assert parse_digest(value) == ("sha1", sha1_empty), value
    assert (
        parse_digest("sha256:" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")[0]
        == "sha256"
    )
    assert parse_digest("sha1:1112H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ") == ("sha1", None)  # damaged: no match
    assert parse_digest("crc32:abcd") is None and parse_digest(None) is None
