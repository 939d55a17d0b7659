"""Synthetic score in the pipeline: flag / weight / drop modes, per-domain estimates, content farms."""

import gzip
import json
import random
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import cli
from pipeline.stats import read_stats
from transforms import synthetic as syn
from transforms.decide import decide, default_thresholds_path, thresholds_from_dict
from transforms.schema import new_row
from transforms.signals import langid

MODES = """
[synthetic]
mode = "{mode}"
drop_above = 0.9
reject_domains = {reject_domains}
domain_max_share = 0.3
domain_min_docs = 10

[[rules]]
name = "synthetic"
column = "synthetic_score"

[[rules]]
name = "synthetic_domain"
column = "synthetic_domain"
max = 0
"""


def config(mode="flag", reject_domains="false"):
    import tomllib

    return thresholds_from_dict(tomllib.loads(MODES.format(mode=mode, reject_domains=reject_domains)))


@pytest.mark.parametrize(
    ("mode", "score", "status", "weight"),
    [
        ("flag", 0.95, "kept", 1.0),
        ("weight", 0.95, "kept", pytest.approx(0.05)),
        ("weight", None, "kept", 1.0),
        ("drop", 0.95, "rejected", 1.0),
        ("drop", 0.9, "kept", 1.0),
        ("drop", None, "kept", 1.0),
    ],
)
def test_decision_modes(mode, score, status, weight):
    row = decide(new_row(id="x", text="t", synthetic_score=score), config(mode))
    assert row["status"] == status
    assert row["sample_weight"] == weight
    if status == "rejected":
        assert row["reject_reason"] == "synthetic"


def test_domain_rule_only_when_switched_on():
    row = new_row(id="x", text="t", synthetic_domain=True)
    assert decide(row, config())["status"] == "kept"
    assert decide(row, config(reject_domains="true"))["reject_reason"] == "synthetic_domain"


@pytest.fixture(scope="module")
def farm_corpus(tmp_path_factory, shared_data):
    """Two domains of L2R passages: farm.example is AI rewrites, people.example human originals."""
    rows = [json.loads(line) for line in gzip.open(shared_data / "synthetic-text-l2r" / "l2r.jsonl.gz", "rt")]
    rng = random.Random(3)

    def scored(text):  # texts the scorer does not abstain on (enough prose)
        n_words, prose_words, _ = syn.prose_lines(syn.normalize_for_detection(text))
        return syn.abstain_reason("en", n_words, prose_words) is None

    lid = langid.load_model()

    def english(texts):
        return [t for t, (lang, _) in zip(texts, langid.identify(lid, texts), strict=True) if lang == "en"]

    human = english([r["text"] for r in rows if r["label"] == "human" and scored(r["text"])])
    ai = english([r["text"] for r in rows if r["label"] == "synthetic" and scored(r["text"])])
    docs = [
        {"id": f"h{i}", "url": f"https://people.example/{i}", "text": t}
        for i, t in enumerate(rng.sample(human, 60))
    ]
    docs += [
        {"id": f"a{i}", "url": f"https://farm.example/{i}", "text": t}
        for i, t in enumerate(rng.sample(ai, 60))
    ]
    # pages with nothing to judge: a navigation menu, a link list
    menu = "\n".join(["Home", "News", "Sports", "Weather", "Contact us", "About us", "Privacy policy"] * 10)
    links = "\n".join(f"Cheap flights to city number {i} from only 20 dollars" for i in range(40))
    docs += [
        {"id": f"m{i}", "url": f"https://menus.example/{i}", "text": t} for i, t in enumerate([menu, links])
    ]
    path = tmp_path_factory.mktemp("farm") / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def test_population_estimates_and_content_farm_rejection(farm_corpus, tmp_path):
    default = default_thresholds_path()
    cfg = tmp_path / "farm.toml"
    cfg.write_text(default.read_text().replace("reject_domains = false", "reject_domains = true"))
    shutil.copytree(default.parent / "blocklists", tmp_path / "blocklists")  # the lists the config names
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "run",
                "--input",
                str(farm_corpus),
                "--input-format",
                "jsonl",
                "--output",
                str(out),
                "--crawl",
                "CC-MAIN-2024-10",
                "--thresholds",
                str(cfg),
            ]
        )
        == 0
    )
    estimates = {r["domain"]: r for r in pq.read_table(out / "synthetic_by_domain.parquet").to_pylist()}
    farm, people = estimates["farm.example"], estimates["people.example"]
    assert farm["n_scored"] == people["n_scored"] == 60
    assert farm["share_low"] > 0.5 > people["share_high"]
    stats = read_stats(str(out))
    crawl = stats["synthetic_by_crawl"]["CC-MAIN-2024-10"]
    assert crawl["n_scored"] == 120 and crawl["share_low"] <= 0.5 <= crawl["share_high"] + 0.15
    rows = pq.read_table(out / "rejected").to_pylist() + pq.read_table(out / "curated").to_pylist()
    farm_rows = [r for r in rows if r["domain"] == "farm.example"]
    assert all(
        r["synthetic_domain"] and r["reject_reason"] in ("synthetic_domain", *r["failed_rules"][:1])
        for r in farm_rows
    )
    assert stats["failed_rule_counts"]["synthetic_domain"] == 60
    assert not any(r["synthetic_domain"] for r in rows if r["domain"] == "people.example")
    # every row carries synthetic_abstain_reason: null where scored, the reason where not
    for r in rows:
        assert (r["synthetic_score"] is None) == (r["synthetic_abstain_reason"] is not None), r["id"]
    menus = [r for r in rows if r["domain"] == "menus.example"]
    assert len(menus) == 2
    assert all(r["synthetic_abstain_reason"] == "not_prose" and r["sample_weight"] == 1.0 for r in menus)


def test_synthetic_reference_run(farm_corpus, tmp_path, capsys):
    def run(out, *extra):
        args = ["run", "--input", str(farm_corpus), "--input-format", "jsonl", "--output", str(out)]
        return cli.main([*args, "--crawl", "CC-MAIN-2024-10", *extra])

    assert run(tmp_path / "before") == 0
    assert run(tmp_path / "after", "--synthetic-reference", str(tmp_path / "before")) == 0
    before = {
        r["domain"]: r for r in pq.read_table(tmp_path / "before" / "synthetic_by_domain.parquet").to_pylist()
    }
    after = {
        r["domain"]: r for r in pq.read_table(tmp_path / "after" / "synthetic_by_domain.parquet").to_pylist()
    }
    assert before["farm.example"]["reference"] == syn.shipped_bins().name
    assert before["farm.example"]["share_low"] > 0.5
    # against its own earlier pages the farm shows no excess: the share is relative to the reference
    farm = after["farm.example"]
    assert farm["reference"] == "CC-MAIN-2024-10" and farm["reference_level"] == "domain"
    assert farm["reference_n"] == 60 and farm["share_low"] == 0.0
    assert (
        read_stats(str(tmp_path / "after"))["synthetic_by_crawl"]["CC-MAIN-2024-10"]["reference"]
        == "CC-MAIN-2024-10"
    )
    capsys.readouterr()
    assert run(tmp_path / "bad", "--synthetic-reference", str(tmp_path)) == 2
    assert "no synthetic_by_domain" in capsys.readouterr().err
    # histograms of another model are not comparable: refused before anything runs
    other = tmp_path / "other"
    other.mkdir()
    table = pq.read_table(tmp_path / "before" / "synthetic_by_domain.parquet").to_pylist()
    pq.write_table(
        pa.Table.from_pylist([{**r, "synthetic_model": "0123456789ab"} for r in table]),
        other / "synthetic_by_domain.parquet",
    )
    assert run(tmp_path / "bad", "--synthetic-reference", str(other)) == 2
    assert "not the shipped one" in capsys.readouterr().err
