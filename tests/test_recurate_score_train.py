"""Decide late: recurate equals a fresh run; `pristine score` adds signals and drops nothing;
`pristine train quality` trains a model that `--quality-model` uses."""

import json
import random

import pyarrow.parquet as pq
import pytest
from conftest import WARC_SAMPLES

from pipeline import cli
from pipeline.corpus import read_records
from pipeline.stats import read_stats
from transforms.extract import extract_resiliparse
from transforms.read import decode_html, iter_records
from transforms.schema import QUALITY_COLUMNS

FILES = [
    WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz",
    WARC_SAMPLES / "other-crawls" / "example.warc.gz",
    WARC_SAMPLES / "other-crawls" / "iana.warc.gz",
]

STRICTER = """
[language]
min_score = 0.9

[[rules]]
name = "empty_text"
column = "gopher_n_words"
min = 1

[[rules]]
name = "language_score"
column = "lang_score"

[[rules]]
name = "too_short"
column = "gopher_n_words"
min = 120

[[rules]]
name = "gopher_stop_words"
column = "gopher_stop_words"
min = 3
"""


def rows_of(out):
    rows = {}
    for root in ("curated", "rejected", "failed"):
        if (out / root).exists():
            for r in pq.read_table(out / root).to_pylist():
                rows[r["id"]] = (
                    root,
                    r["status"],
                    r["reject_reason"],
                    tuple(r["failed_rules"] or ()),
                    r["lang"],
                )
    return rows


@pytest.fixture(scope="module")
def files():
    present = [f for f in FILES if f.exists()]
    assert len(present) == 3
    return present


def test_recurate_equals_a_fresh_run(tmp_path, files):
    config = tmp_path / "stricter.toml"
    config.write_text(STRICTER)
    first, fresh, recurated = tmp_path / "first", tmp_path / "fresh", tmp_path / "recurated"
    assert cli.main(["run", "--input", *map(str, files), "--output", str(first)]) == 0
    assert (
        cli.main(["run", "--input", *map(str, files), "--output", str(fresh), "--thresholds", str(config)])
        == 0
    )
    assert (
        cli.main(["recurate", "--input", str(first), "--config", str(config), "--output", str(recurated)])
        == 0
    )
    a, b = rows_of(fresh), rows_of(recurated)
    assert a == b
    assert a != rows_of(first)  # the stricter config changed decisions
    sa, sb = read_stats(str(fresh)), read_stats(str(recurated))
    for key in (
        "html_responses",
        "kept",
        "rejected",
        "failed",
        "rejected_by_reason",
        "records_read",
        "failed_rule_counts",
    ):
        assert sa[key] == sb[key], key
    assert sb["accounting_ok"] and sb["recurated_from"] == str(first)

    # the text comes through a recurate untouched (the first run's: a fresh run with a config whose rules
    # differ may decide other pages by the extraction cascade's cheap pass, with its text)
    def texts(out):
        return {
            r["id"]: r["text"]
            for root in ("curated", "rejected")
            for r in pq.read_table(out / root).to_pylist()
        }

    assert texts(first) == texts(recurated)


def test_recurate_needs_a_run_directory(tmp_path, capsys):
    assert (
        cli.main(
            ["recurate", "--input", str(tmp_path), "--config", "x.toml", "--output", str(tmp_path / "o")]
        )
        == 2
    )
    assert "not a pristine run directory" in capsys.readouterr().err


def test_score_keeps_every_record_and_field(tmp_path, shared_data):
    truth = json.loads((shared_data / "html-extraction-scrapinghub-aeb" / "ground-truth.json").read_text())
    src = tmp_path / "in.jsonl"
    records = [
        {"id": k, "url": v["url"], "text": v["articleBody"], "extra": {"n": i}}
        for i, (k, v) in enumerate(sorted(truth.items()))
    ]
    records.append({"id": "empty", "text": ""})
    records.append({"id": "no-text"})
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    for out in (tmp_path / "out.jsonl.gz", tmp_path / "out.parquet"):
        assert cli.main(["score", "--input", str(src), "--output", str(out)]) == 0
        got = list(read_records(out))
        assert [g["id"] for g in got] == [r["id"] for r in records]  # every record, in order
        for r, g in zip(records, got, strict=True):
            for key, value in r.items():
                assert g[key] == value  # input fields unchanged
            assert {name for name, _, _ in QUALITY_COLUMNS} <= set(g)
        english = [g for g in got if g["lang"] == "en"]
        assert len(english) > 120
        assert got[-2]["lang"] == "unknown" and got[-2]["gopher_n_words"] == 0
    assert pq.read_schema(tmp_path / "out.parquet").field("lang_score").type == "float"


def test_score_repairs_lone_surrogates_in_any_field(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "s", "text": "broken \ud800 text " * 20, "tags": ["\udc80 x"]}) + "\n")
    for out in (tmp_path / "out.jsonl", tmp_path / "out.parquet"):
        assert cli.main(["score", "--input", str(src), "--output", str(out)]) == 0
        [got] = list(read_records(out))
        assert got["text"].startswith("broken \ufffd text") and got["tags"] == ["\ufffd x"]
        assert got["gopher_n_words"] == 40  # "broken", "text": U+FFFD is no word


def serp_texts():
    texts = []
    for path in sorted((WARC_SAMPLES / "serp-archive-query-log").rglob("*.warc.gz")):
        for rec in iter_records(str(path)):
            if rec.is_html and not rec.failure_reason:
                html, _ = decode_html(rec.body, rec.charset_header)
                text = extract_resiliparse(html).text
                if text and len(text.split()) > 20:
                    texts.append(text)
    return texts


def test_train_quality_model_and_score_with_it(tmp_path, shared_data):
    truth = json.loads((shared_data / "html-extraction-scrapinghub-aeb" / "ground-truth.json").read_text())
    good = [v["articleBody"] for _, v in sorted(truth.items())]
    bad = serp_texts()
    assert len(bad) > 80
    rng = random.Random(0)
    rng.shuffle(good)
    rng.shuffle(bad)
    cut_g, cut_b = int(len(good) * 0.75), int(len(bad) * 0.75)
    pos, neg = tmp_path / "pos.jsonl", tmp_path / "neg.jsonl"
    pos.write_text("".join(json.dumps({"text": t}) + "\n" for t in good[:cut_g]))
    neg.write_text("".join(json.dumps({"text": t}) + "\n" for t in bad[:cut_b]))
    model = tmp_path / "quality.bin"
    assert (
        cli.main(
            [
                "train",
                "quality",
                "--positive",
                str(pos),
                "--negative",
                str(neg),
                "--output",
                str(model),
                "--epoch",
                "10",
            ]
        )
        == 0
    )
    assert model.stat().st_size < 10e6  # megabytes, not tens of megabytes
    held = tmp_path / "held.jsonl"
    held_docs = [{"text": t, "good": True} for t in good[cut_g:]] + [
        {"text": t, "good": False} for t in bad[cut_b:]
    ]
    held.write_text("".join(json.dumps(d) + "\n" for d in held_docs))
    scored = tmp_path / "held-scored.jsonl"
    assert (
        cli.main(["score", "--input", str(held), "--output", str(scored), "--quality-model", str(model)]) == 0
    )
    got = list(read_records(scored))
    pos_scores = [g["quality_score"] for g in got if g["good"]]
    neg_scores = [g["quality_score"] for g in got if not g["good"]]
    pairs = [(p, n) for p in pos_scores for n in neg_scores]
    auroc = sum((p > n) + 0.5 * (p == n) for p, n in pairs) / len(pairs)
    assert auroc > 0.9, auroc


def test_corrupt_quality_model_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "q.bin"
    bad.write_bytes(b"\x00" * 100)
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    assert (
        cli.main(
            ["score", "--input", str(src), "--output", str(tmp_path / "o.jsonl"), "--quality-model", str(bad)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "q.bin" in err and len(err.strip().splitlines()) == 1


def test_a_degenerate_quality_model_is_flagged(tmp_path, capsys):
    from pipeline.train.quality import degenerate

    assert degenerate({"test": 0}).startswith("no held-out texts")
    assert "0.4999-0.5002" in degenerate({"test": 20, "score_min": 0.4999, "score_max": 0.5002})
    assert degenerate({"test": 20, "score_min": 0.02, "score_max": 0.97}) is None
    # a barely trained model on a few texts: the command says so
    pos, neg = tmp_path / "pos.jsonl", tmp_path / "neg.jsonl"
    pos.write_text(
        "".join(
            json.dumps({"text": f"a long careful essay about rivers number {i}"}) + "\n" for i in range(30)
        )
    )
    neg.write_text(
        "".join(json.dumps({"text": f"buy cheap pills now click here {i}"}) + "\n" for i in range(30))
    )
    argv = [
        "train",
        "quality",
        "--positive",
        str(pos),
        "--negative",
        str(neg),
        "--output",
        str(tmp_path / "q.bin"),
    ]
    assert cli.main([*argv, "--lr", "0.01", "--epoch", "1"]) == 0
    captured = capsys.readouterr()
    assert "warning: every held-out score lies in" in captured.err and "MB)" in captured.out
