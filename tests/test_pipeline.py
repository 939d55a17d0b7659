"""End to end on the DirectRunner: every shared WARC/ARC sample in, partitioned Parquet and stats.json out."""

import gzip
import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import WARC_SAMPLES

from pipeline import cli
from pipeline.stats import read_stats
from transforms.read import iter_records, read_record_at
from transforms.schema import SCHEMA
from transforms.sink import file_schema
from transforms.synthetic import shipped_bins


def run_cli(*args) -> int:
    return cli.main(["run", *map(str, args)])


@pytest.fixture(scope="module")
def all_samples_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("all-samples")
    files = sorted(
        p
        for p in WARC_SAMPLES.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.jsonl", "PROVENANCE.md")
    )
    assert len(files) == 185
    code = run_cli("--input", *files, "--output", out, "--overwrite")
    return out, files, code


def read_all(out):
    rows = {}
    for root in ("curated", "rejected", "failed"):
        if (out / root).exists():
            for r in pq.read_table(out / root).to_pylist():
                rows[r["id"]] = {**r, "_root": root}
    return rows


def test_every_html_response_is_accounted_for(all_samples_run):
    out, files, code = all_samples_run
    assert code == 0
    stats = read_stats(str(out))
    assert stats["files_read"] == len(files)
    assert stats["accounting_ok"] is True
    # every unreadable record is a failed row too (deliberate: nothing unreadable goes unnamed)
    total_in = stats["html_responses"] + stats["unreadable_total"]
    assert total_in == stats["kept"] + stats["rejected"] + stats["failed"]
    assert sum(stats["rejected_by_reason"].values()) == stats["rejected"]
    assert sum(stats.get("failed_by_reason", {}).values()) == stats["failed"]
    # the pipeline's count of HTML responses equals the reader's, file by file
    expected = sum(sum(r.is_html for r in iter_records(str(f))) for f in files)
    assert stats["html_responses"] == expected
    # and it saw every kind of record the samples hold
    assert {"warcinfo", "request", "response", "metadata", "revisit"} <= set(stats["records_read"])
    rows = read_all(out)
    assert len(rows) == total_in
    assert Counter(r["_root"] for r in rows.values()) == Counter(
        {"curated": stats["kept"], "rejected": stats["rejected"], "failed": stats["failed"]}
    )
    for r in rows.values():
        if r["_root"] == "rejected":
            assert r["reject_reason"] and r["reject_reason"] == r["failed_rules"][0]
            assert r["text"] is not None  # rejected rows keep their text
        elif r["_root"] == "failed":
            assert r["failure_reason"]
        else:
            assert r["reject_reason"] is None and r["failed_rules"] == [] and r["text"]


def test_synthetic_share_per_cohort_counts_the_rows_written(all_samples_run):
    out, _, _ = all_samples_run
    by_cohort = read_stats(str(out))["synthetic_by_cohort"]
    rows = [r for r in read_all(out).values() if r["_root"] != "failed"]
    assert {"pre_llm", "post_llm"} <= set(by_cohort)
    for cohort, est in by_cohort.items():
        members = [r for r in rows if (r["cohort"] or "unknown") == cohort]
        scores = [r["synthetic_score"] for r in members if r["synthetic_score"] is not None]
        assert est["cohort"] == cohort and est["n_docs"] == len(members) and est["n_scored"] == len(scores)
        bins = shipped_bins()
        assert (
            est["histogram_target"]
            == np.bincount([bins.bin(s) for s in scores], minlength=bins.n_bins).tolist()
        )
        assert est["reference"] and est["method"] and est["target"] == "all"
        if scores:
            assert 0 <= est["share_low"] <= est["share"] <= est["share_high"] <= 1
        else:  # nothing in English: no estimate
            assert est["share"] is None
    assert sum(e["n_docs"] for e in by_cohort.values()) == len(rows)


def test_parquet_schema_and_partitions(all_samples_run):
    out, _, _ = all_samples_run
    stats = read_stats(str(out))
    parts = {
        p.parent.relative_to(out)
        for root in ("curated", "rejected", "failed")
        for p in (out / root).rglob("*.parquet")
    }
    for part in parts:
        root, *keys = part.parts
        assert root in ("curated", "rejected", "failed")
        assert [k.split("=")[0] for k in keys] == ["crawl", "lang"]  # the same under every root
    for part in parts:
        for f in (out / part).glob("*.parquet"):
            assert pq.read_schema(f).equals(file_schema(part.parts[0]), check_metadata=False)
    curated = pq.read_table(out / "curated")
    assert set(curated.schema.names) == set(SCHEMA.names)
    langs = Counter(curated.column("lang").to_pylist())
    assert dict(langs) == stats["kept_by_lang"]
    crawls = {r["crawl"] for r in read_all(out).values()}
    assert {"CC-MAIN-2020-34", "CC-MAIN-2024-22"} <= crawls


def test_provenance_seeks_back_to_the_record(all_samples_run):
    out, _, _ = all_samples_run
    rows = [r for r in read_all(out).values() if r["_root"] != "failed" or r["warc_offset"] is not None]
    assert len(rows) > 500
    for r in rows:
        assert r["warc_filename"] and r["warc_offset"] is not None and r["warc_record_id"]
        rec = read_record_at(r["warc_filename"], r["warc_offset"])
        assert rec.warc_record_id == r["warc_record_id"], (r["warc_filename"], r["warc_offset"])
        assert rec.url == r["url"]


def test_common_crawl_rows_carry_full_provenance(all_samples_run):
    out, _, _ = all_samples_run
    cc = [r for r in read_all(out).values() if r["warc_filename"].endswith("commoncrawl/warcfile.warc.gz")]
    assert len(cc) == 16
    for r in cc:
        assert r["crawl"] == "CC-MAIN-2020-34"
        assert r["payload_digest"].startswith("sha1:")
        assert r["fetch_date"].year == 2020
        assert r["domain"] and r["domain"] in r["url"]
        assert r["warc_record_id"].startswith("<urn:uuid:")
    assert {r["lang"] for r in cc} >= {"zh", "nl"}
    assert all(r["charset"] for r in cc)


def test_jsonl_input_end_to_end(tmp_path, shared_data):
    # two real article bodies (English, Portuguese) from the extraction benchmark's ground truth
    truth = json.loads((shared_data / "html-extraction-scrapinghub-aeb" / "ground-truth.json").read_text())
    english = truth[next(k for k in truth if k.startswith("1ace8c85aaee"))]
    portuguese = truth[next(k for k in truth if k.startswith("23aaecd14171"))]
    docs = [
        {"id": "a", "url": english["url"], "text": english["articleBody"]},
        {"id": "b", "text": "Too short to keep."},
        {"text": portuguese["articleBody"], "crawl": "X"},
        {"id": "d", "text": None},
    ]
    path = tmp_path / "docs.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for d in docs:
            f.write(json.dumps(d) + "\n")
        f.write("{not json\n")
    out = tmp_path / "out"
    assert run_cli("--input", path, "--input-format", "jsonl", "--output", out, "--crawl", "MY-CORPUS") == 0
    stats = read_stats(str(out))
    assert stats["documents_read"] == 5 and stats["accounting_ok"]
    assert (stats["kept"], stats["rejected"], stats["failed"]) == (2, 1, 2)
    assert stats["failed_by_reason"] == {"bad_json": 1, "missing_text": 1}
    details = {r["failure_reason"]: r["failure_detail"] for r in pq.read_table(out / "failed").to_pylist()}
    assert details["missing_text"].startswith("line 4: field 'text' is NoneType"), details
    assert details["bad_json"].startswith("line 5: not JSON: "), details
    kept = pq.read_table(out / "curated").to_pylist()
    assert {(r["crawl"], r["lang"]) for r in kept} == {("MY-CORPUS", "en"), ("MY-CORPUS", "pt")}
    assert {r["id"] for r in kept} >= {"a"}
    [short] = pq.read_table(out / "rejected").to_pylist()
    assert (short["id"], short["reject_reason"]) == ("b", "too_short")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "/nonexistent/x.warc.gz", "--output", "{out}"], "matches no file"),
        (["--input", "{samples}/*.nothing", "--output", "{out}"], "matches no file"),
        (["--output", "{out}"], "--input is required"),
        (["--input", "{samples}/commoncrawl/whirlwind.warc.gz"], "--output is required"),
        (
            ["--input", "{samples}/commoncrawl/whirlwind.warc.gz", "--output", "{out}", "--no-such-flag"],
            "unknown argument",
        ),
        (
            ["--input", "{samples}/commoncrawl/whirlwind.warc.gz", "--output", "/proc/pristine-out"],
            "not writable",
        ),
        (
            ["--input", "{samples}/commoncrawl/whirlwind.warc.gz", "--output", "{out}"]
            + ["--direct_running_mode", "multi_threading"],
            "multi_threading is not supported",
        ),
    ],
)
def test_operator_errors_are_one_clear_line(tmp_path, capsys, args, message):
    args = [a.format(out=tmp_path / "out", samples=WARC_SAMPLES) for a in args]
    assert run_cli(*args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "curated").mkdir(parents=True)
    sample = WARC_SAMPLES / "commoncrawl" / "whirlwind.warc.gz"
    assert run_cli("--input", sample, "--output", out) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run_cli("--input", sample, "--output", out, "--overwrite") == 0
    assert read_stats(str(out))["html_responses"] == 1


def test_bundled_sample_with_resiliparse(tmp_path):
    from conftest import REPO

    sample = sorted(str(p) for p in (REPO / "sample").glob("*.warc.gz"))
    assert len(sample) == 2
    out = tmp_path / "out"
    assert run_cli("--input", *sample, "--output", out, "--extractor", "resiliparse") == 0
    stats = read_stats(str(out))
    assert stats["html_responses"] == 17 and stats["extracted"] == 17 and stats["accounting_ok"]
    rows = read_all(out)
    assert {r["extractor"] for r in rows.values()} == {"resiliparse"}
    assert sum(bool(r["text"]) for r in rows.values()) >= 15


def test_parquet_input_end_to_end(tmp_path, shared_data):
    import pyarrow as pa

    truth = json.loads((shared_data / "html-extraction-scrapinghub-aeb" / "ground-truth.json").read_text())
    bodies = [v for k, v in sorted(truth.items())][:20]
    table = pa.table(
        {
            "id": [f"doc-{i}" for i in range(20)],
            "url": [b["url"] for b in bodies],
            "text": [b["articleBody"] for b in bodies],
            "extra": list(range(20)),
        }
    )
    path = tmp_path / "corpus.parquet"
    pq.write_table(table, path)
    out = tmp_path / "out"
    assert run_cli("--input", path, "--input-format", "parquet", "--output", out) == 0
    stats = read_stats(str(out))
    assert stats["documents_read"] == 20 and stats["accounting_ok"] and stats["failed"] == 0
    rows = read_all(out)
    assert {r["id"] for r in rows.values()} == {f"doc-{i}" for i in range(20)}
    assert {r["crawl"] for r in rows.values()} == {"unknown"}  # no crawl given: the partition says so
    assert stats["kept"] >= 15  # real article bodies: most pass the default rules
    for r in rows.values():
        assert r["text"] == bodies[int(r["id"].split("-")[1])]["articleBody"]


def test_rows_cross_stages_in_the_document_row_coder(tmp_path):
    """Document rows between stages (dedup's read-back, decide, the sink's keys and groups) are encoded by
    DocumentRowCoder, which keeps every value as it was: UTC datetimes as 8 bytes, others pickled."""
    import datetime as dt
    import zoneinfo

    import apache_beam as beam
    from apache_beam.runners import pipeline_context

    from pipeline import graph
    from pipeline.options import PristineOptions, parse
    from transforms.beam_util import DocumentRowCoder

    row = {
        "id": "a",
        "fetch_date": dt.datetime(2024, 5, 1, 3, 4, 5, 123456, tzinfo=dt.UTC),
        "first_seen_date": dt.datetime(1960, 1, 1, tzinfo=dt.UTC),
        "naive": dt.datetime(2020, 1, 1),
        "paris": dt.datetime(2020, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        "failed_rules": ["too_short"],
        "lang_score": 0.5,
        "title": None,
    }
    coder = DocumentRowCoder()
    back = coder.decode(coder.encode(row))
    assert back == row and [type(v) for v in back.values()] == [type(v) for v in row.values()]
    assert back["fetch_date"].tzinfo is dt.UTC and back["paris"].tzinfo == row["paris"].tzinfo
    assert len(coder.encode(row)) < len(beam.coders.FastPrimitivesCoder().encode(row))

    sample = WARC_SAMPLES / "commoncrawl" / "whirlwind.warc.gz"
    opts = parse(["--input", str(sample), "--output", str(tmp_path / "out")])
    p = beam.Pipeline(options=opts)
    graph.build(p, opts.view_as(PristineOptions), str(tmp_path / "staging"))
    proto = p.to_runner_api()
    context = pipeline_context.PipelineContext(proto.components)
    coders = {
        t.unique_name: repr(context.coders.get_by_id(proto.components.pcollections[pc].coder_id))
        for t in proto.components.transforms.values()
        for pc in t.outputs.values()
    }
    for name in (
        "deduplicate/read rows back with dedup columns",
        "decide/decide",
        "write parquet/key by partition",
        "write parquet/assign file",
        "write parquet/group rows per file",
    ):
        assert "DocumentRowCoder" in coders[name], (name, coders[name])


@pytest.mark.parametrize("input_format", ["warc", "jsonl"])
def test_graph_passes_beams_type_check(tmp_path, input_format):
    """`pristine run` turns Beam's construction-time type check off (pipeline/options.py): here the whole
    graph is built with it on, so a transform whose type hints contradict its input still fails."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import TypeOptions

    from pipeline import graph
    from pipeline.options import PristineOptions, parse

    sample = WARC_SAMPLES / "commoncrawl" / "whirlwind.warc.gz"
    opts = parse(["--input", str(sample), "--output", str(tmp_path / "out"), "--input-format", input_format])
    assert opts.view_as(TypeOptions).pipeline_type_check is False
    opts.view_as(TypeOptions).pipeline_type_check = True
    p = beam.Pipeline(options=opts)
    graph.build(p, opts.view_as(PristineOptions), str(tmp_path / "staging"))
    assert len(p.to_runner_api().components.transforms) > 100
    with pytest.raises(beam.typehints.TypeCheckError):  # the check is on: a contradicting hint fails
        p | beam.Create([1]) | beam.Map(str.upper).with_input_types(str)
