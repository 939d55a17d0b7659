"""The human web-text corpus (pipeline/train/web_text.py): every source, held-out splits, the pipeline's own text."""

from collections import Counter, defaultdict

import pyarrow.parquet as pq
import pytest
from conftest import WARC_SAMPLES

from pipeline import cli
from pipeline.train.synthetic import split_of
from pipeline.train.web_text import PRE_LLM_CUTOFF, SOURCES, SPLIT_CUTS, SPLIT_SEED, load_web_text


@pytest.fixture(scope="module")
def web_text(shared_data):
    return load_web_text()


def test_every_source_is_read_and_split(web_text):
    by_source = Counter(r["source"] for r in web_text)
    assert set(by_source) == set(SOURCES)
    for source in SOURCES:
        records = [r for r in web_text if r["source"] == source]
        splits = Counter(r["split"] for r in records)
        assert set(splits) == {"train", "cal", "test"}, source
        # roughly the 60 / 20 / 20 cuts
        assert 0.4 < splits["train"] / len(records) < 0.8, (source, splits)
    keys = [(r["source"], r["key"]) for r in web_text]
    assert len(keys) == len(set(keys))
    for r in web_text:
        assert r["text"], r["key"]
        assert r["split"] == split_of(r["group"], SPLIT_SEED, SPLIT_CUTS)
        assert r["pre_llm"] == bool(r["date"] and r["date"] < PRE_LLM_CUTOFF)


def test_the_same_page_never_sits_on_both_sides_of_a_split(web_text):
    splits_by_text = defaultdict(set)
    splits_by_url = defaultdict(set)
    for r in web_text:
        splits_by_text[" ".join(r["text"].split())].add(r["split"])
        if r["url"]:
            splits_by_url[r["url"].split("#")[0].rstrip("/").lower()].add(r["split"])
    assert all(len(s) == 1 for s in splits_by_text.values())
    assert all(len(s) == 1 for s in splits_by_url.values())


def test_warc_records_carry_their_fetch_date_and_language(web_text):
    warc_records = [r for r in web_text if r["source"] == "warc-samples"]
    assert any(r["pre_llm"] for r in warc_records) and any(not r["pre_llm"] for r in warc_records)
    assert {r["lang"] for r in web_text} >= {"en"}
    assert len({r["lang"] for r in warc_records}) > 3  # non-English pages are kept, marked by lang


def test_texts_are_what_pristine_run_writes(web_text, tmp_path):
    sample = WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz"
    assert cli.main(["run", "--input", str(sample), "--output", str(tmp_path / "run")]) == 0
    rows = []
    for root in ("curated", "rejected"):
        if (tmp_path / "run" / root).exists():
            rows += pq.read_table(tmp_path / "run" / root).to_pylist()
    run_texts = {r["warc_offset"]: (r["text"], r["lang"]) for r in rows if r["text"]}
    ours = {
        int(r["key"].rsplit("@", 1)[1]): (r["text"], r["lang"])
        for r in web_text
        if r["key"].startswith("commoncrawl/warcfile.warc.gz@")
    }
    assert len(run_texts) >= 10
    assert ours == run_texts
