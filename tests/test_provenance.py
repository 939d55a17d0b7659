"""A record of what produced every output: in stats.json and in each Parquet file's key-value metadata."""

import hashlib
import json

import pyarrow.parquet as pq
from conftest import REPO, WARC_SAMPLES

from pipeline import cli
from pipeline.provenance import PARQUET_KEY
from pipeline.stats import read_stats
from transforms.signals.langid import lid176_path

CC_FILE = WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz"


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def file_records(run_dir) -> list[dict]:
    files = sorted(run_dir.rglob("*.parquet"))
    files = [f for f in files if "dedup_index" not in f.parts and f.name != "synthetic_by_domain.parquet"]
    assert files
    return [json.loads(pq.read_metadata(f).metadata[PARQUET_KEY.encode()]) for f in files]


def test_run_and_recurate_record_what_produced_them(tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--input", str(CC_FILE), "--output", str(out), "--dedup-threshold", "0.8"]
    argv += ["--extractor", "resiliparse"]
    assert cli.main(argv) == 0
    stats = read_stats(str(out))
    # every stage is timed, language ID (inside score) and dedup (the runner's per-transform clock) too
    assert {"read", "extract", "score", "language", "dedup", "decide", "write"} <= set(stats["stage_seconds"])
    record = stats["provenance"]
    assert record["pristine_version"] and len(record["git"]["commit"]) == 40
    assert record["beam_options"]["dedup_threshold"] == 0.8 and record["extractor"] == "resiliparse"
    assert record["beam_options"]["input"] == [str(CC_FILE)]
    default = REPO / "pipeline" / "thresholds.toml"
    assert record["thresholds"]["sha256"] == sha256(default)
    assert record["thresholds"]["content"] == default.read_text()
    assert record["models"]["lid.176.ftz"] == sha256(lid176_path())
    assert record["models"]["transforms/models/synthetic.ftz"] == sha256(
        REPO / "transforms" / "models" / "synthetic.ftz"
    )
    assert all(r == record for r in file_records(out))

    config = tmp_path / "my.toml"
    config.write_text(default.read_text() + "\n# my copy\n")
    again = tmp_path / "recurated"
    assert cli.main(["recurate", "--input", str(out), "--config", str(config), "--output", str(again)]) == 0
    recurated = read_stats(str(again))["provenance"]
    assert recurated["thresholds"]["path"] == str(config)
    assert recurated["thresholds"]["sha256"] == sha256(config) != record["thresholds"]["sha256"]
    assert recurated["recurated_from"] == {"run": str(out), "provenance": record}
    assert recurated["extractor"] == "resiliparse"
    assert all(r == recurated for r in file_records(again))
