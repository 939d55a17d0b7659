"""Per-stage cost of pristine's pure functions in a bare Python loop, and the end-to-end command to compare.

    .venv/bin/python -m bench.pipeline_bench bare [--corpus bench/corpus] [--extractor trafilatura] [--files N]

``bare`` runs every stage of the pipeline over the benchmark corpus (bench/make_corpus.py) in one process,
one stage after the other, with the same functions the Beam DoFns call and nothing else:

    read      transforms.read.iter_records + transforms.read.documents.response_row (every record of every file)
    extract   transforms.read.decode_html + transforms.extract.Extractor (time-limited child, as the pipeline runs it;
              CPU of this process and of the child)
    langid    transforms.signals.langid.identify, batches of 256 (signals.beam.SCORE_BATCH)
    quality   transforms.signals.quality.quality_signals per document
              (these two and synthetic once per distinct text, as transforms.signals.score_rows does)
    decide    transforms.decide.decide
    write     transforms.sink.beam.write_partition_file per partition
    synthetic transforms.synthetic's shipped scorer, batches of 256 (when the module and model exist)
    minhash   transforms.dedup.sketch_rows (signatures and shingle sets), batches of 256, with a TextMemo
    dedup     the rest of Deduplicate: transforms.dedup.deduplicate_reference (URL dedup, LSH buckets, pair
              verification, connected components, dedup columns; from minhash's sketches)
              and the signature index written as one Parquet file
    estimates transforms.synthetic.estimate.estimate_shares_reference: EstimateSyntheticShare in plain loops (each
              row decided for its cohort and counted, the per-domain, per-crawl and per-cohort estimates
              against this run's pre_llm documents; a test checks it gives the composite's records)

and prints one JSON line: CPU seconds and documents per stage, peak RSS, the duplicates found. The last four
are reported apart from the read..write sum (the end-to-end run does them all: bench/run_all.py adds them).

`e2e_command` is the ``pristine run`` invocation bench/run_all.py measures against this sum.

    .venv/bin/python -m bench.pipeline_bench construction [--rounds 5]

``construction`` builds ``pristine run``'s graph and translates it for the local runner (the runner API
proto, then the runner's fused stages), with and without pipeline.beam_cache's caches, alternating, and
prints the median CPU seconds of each: a cost every run pays whatever its input.
"""

from __future__ import annotations

import argparse
import glob
import json
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
BATCH = 256
PIPELINE_STAGES = ("read", "extract", "langid", "quality", "decide", "write")
EXTRA_STAGES = ("synthetic", "minhash", "dedup", "estimates")
SYNTHETIC_AND_MINHASH = EXTRA_STAGES[:2]  # the extras the Beam overhead was first counted with


def corpus_files(corpus: Path, files: int | None = None) -> list[str]:
    paths = sorted(glob.glob(str(corpus / "*.warc.gz")))
    if not paths:
        raise SystemExit(f"no corpus in {corpus}: run `python -m bench.make_corpus` first")
    return paths[:files] if files else paths


def e2e_command(
    python: str, files: list[str], output: str, mode: str, extractor: str, flags: tuple[str, ...] = ()
) -> list[str]:
    """`pristine run` on the corpus; mode: default (no runner flags: one in-memory worker, with two
    extraction processes on a machine of 2 or more cores) or multi_processing (2 workers, one extraction
    process each)."""
    if mode not in E2E_MODES:
        raise ValueError(f"mode {mode!r}: one of {E2E_MODES}")
    runner = (
        ["--direct_running_mode", mode, "--direct_num_workers", "2"] if mode == "multi_processing" else []
    )
    command = [python, "-m", "pipeline.cli", "run", "--input", *files, "--output", output]
    return command + ["--extractor", extractor, *runner, *flags]


E2E_MODES = ("default", "multi_processing")


class Clock:
    """CPU seconds of this process (and, with children=True, of the children reaped meanwhile)."""

    def __init__(self, children: bool = False):
        self.children = children

    def _now(self) -> float:
        t = time.process_time()
        if self.children:
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            t += ru.ru_utime + ru.ru_stime
        return t

    def __enter__(self):
        self.start = self._now()
        return self

    def __exit__(self, *exc):
        self.seconds = self._now() - self.start


def bare(
    corpus: Path, extractor: str, files: int | None, skip: set[str], cascade: bool = True, reuse: bool = True
) -> dict:
    from transforms.decide import decide, load_thresholds, read_thresholds
    from transforms.extract import Extractor
    from transforms.extract.cascade import load_cascade
    from transforms.extract.reuse import PayloadCache, extract_response
    from transforms.heap import fix_mmap_threshold
    from transforms.memo import TextMemo, distinct
    from transforms.read import iter_records
    from transforms.read.documents import response_row
    from transforms.schema import STATUS_FAILED
    from transforms.signals import langid, quality
    from transforms.sink import partition_of
    from transforms.sink.beam import write_partition_file
    from transforms.synthetic.estimate import estimate_shares_reference

    fix_mmap_threshold()  # malloc as `pristine run` sets it, here and in the extraction child
    paths = corpus_files(corpus, files)
    cpu: dict[str, float] = {}
    docs: dict[str, int] = {}
    clusters: dict[str, int] = {}
    notes: list[str] = []

    # read: every record; HTML responses become (row, body, charset header), as ReadWarcFile yields them
    items, n_records = [], 0
    with Clock() as c:
        for path in paths:
            for rec in iter_records(path):
                n_records += 1
                if rec.is_html:
                    items.append((response_row(rec, None), rec.body, rec.charset_header))
    cpu["read"], docs["read"] = c.seconds, len(items)

    # extract: decode + extraction in the time-limited child (ExtractTextFn.extract without Beam: the same
    # extract_response, with the cascade and payload reuse unless --no-cascade / --no-reuse)
    rows = []
    kind, options, thresholds = extractor, None, None
    if extractor == "trafilatura" and cascade:
        kind, thresholds = "cascade", load_thresholds()
        options = load_cascade(read_thresholds()).to_json()
    ex = Extractor(kind, options=options)
    cache = PayloadCache(max_entries=PayloadCache().max_entries if reuse else 0)
    ex.extract("<html><body><p>warm-up</p></body></html>")  # child start-up is not document time
    extraction: dict[str, int] = defaultdict(int)
    with Clock(children=True) as c:
        for row, body, charset_header in items:
            if body is None:
                rows.append(row)
                continue
            result, reused = extract_response(row, body, charset_header, ex, cache, thresholds)
            if reused:
                extraction["payload_reused"] += 1
            else:
                extraction[f"decided_by.{result.extractor}"] += 1
                if result.skipped_by:
                    extraction[f"trafilatura_skipped.{result.skipped_by}"] += 1
            if result.failure_reason:
                row.update(status=STATUS_FAILED, failure_reason=result.failure_reason)
            else:
                row.update(text=result.text or "", title=result.title, published_date=result.published_date)
            rows.append(row)
        ex.close()  # reaps the child: its CPU time lands in RUSAGE_CHILDREN
    cpu["extract"], docs["extract"] = c.seconds, len(items)
    del items

    todo = [r for r in rows if r.get("status") != STATUS_FAILED]
    # each distinct text is scored once, as the pipeline's scoring and sketching do (transforms/memo.py)
    keys, _, first = distinct([r["text"] for r in todo], None)
    unique = [todo[i] for i in first]
    texts = [r["text"] for r in unique]
    model = langid.load_model()
    with Clock() as c:
        langs = []
        for i in range(0, len(texts), BATCH):
            langs += langid.identify(model, texts[i : i + BATCH])
    cpu["langid"], docs["langid"] = c.seconds, len(todo)
    for row, (lang, score) in zip(unique, langs, strict=True):
        row.update(lang=lang, lang_score=score)

    with Clock() as c:
        for row in unique:
            row.update(quality.quality_signals(row["text"], row["lang"]))
        by_key = dict(zip([keys[i] for i in first], unique, strict=True))
        for row, key in zip(todo, keys, strict=True):
            if by_key[key] is not row:
                row.update({k: v for k, v in by_key[key].items() if k not in row})
    cpu["quality"], docs["quality"] = c.seconds, len(todo)

    thresholds = load_thresholds()
    with Clock() as c:
        rows = [decide(row, thresholds) for row in rows]
    cpu["decide"], docs["decide"] = c.seconds, len(rows)

    with tempfile.TemporaryDirectory(prefix="pristine-bench-write-") as out:
        by_partition = defaultdict(list)
        with Clock() as c:
            for row in rows:
                by_partition[partition_of(row)].append(row)
            for partition, part_rows in by_partition.items():
                write_partition_file(out, partition, 0, 1, part_rows)
        cpu["write"], docs["write"] = c.seconds, len(rows)

    if "synthetic" not in skip:
        try:
            from transforms.synthetic import shipped_scorer

            scorer = shipped_scorer()
        except Exception as exc:  # module or model not there yet
            notes.append(f"synthetic skipped: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            with Clock() as c:
                for i in range(0, len(unique), BATCH):
                    batch = unique[i : i + BATCH]
                    columns = scorer.columns_batch([r["text"] for r in batch], [r["lang"] for r in batch])
                    for row, cols in zip(batch, columns, strict=True):
                        row.update(cols)
            cpu["synthetic"], docs["synthetic"] = c.seconds, len(todo)
            for row, key in zip(todo, keys, strict=True):  # copies of a text get its columns (not timed)
                row.update({k: v for k, v in by_key[key].items() if k not in row})

    if "minhash" not in skip:
        try:
            from transforms.dedup import DedupConfig, has_text, sketch_rows
        except Exception as exc:
            notes.append(f"minhash skipped: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            config = DedupConfig()
            with_text = [r for r in rows if has_text(r)]
            memo, sketches = TextMemo(), []
            with Clock() as c:
                for i in range(0, len(with_text), BATCH):
                    sketches += sketch_rows(with_text[i : i + BATCH], config, memo)
            cpu["minhash"], docs["minhash"] = c.seconds, len(with_text)

            if "dedup" not in skip:
                # the rest of Deduplicate: URL dedup, buckets, verification, components, dedup columns
                # (from the sketches above) and the signature index
                import pyarrow as pa
                import pyarrow.parquet as pq

                from transforms.dedup import deduplicate_reference, index_record, index_schema

                with tempfile.TemporaryDirectory(prefix="pristine-bench-index-") as out, Clock() as c:
                    deduplicate_reference(with_text, config, sketches)
                    index = [index_record(r, s) for r, s in zip(with_text, sketches, strict=True)]
                    pq.write_table(
                        pa.Table.from_pylist(index, schema=index_schema(config)), f"{out}/signatures.parquet"
                    )
                cpu["dedup"], docs["dedup"] = c.seconds, len(with_text)
                clusters["near_duplicates"] = sum(1 for r in with_text if r.get("near_duplicate"))
                clusters["exact_duplicates"] = sum(1 for r in with_text if r.get("exact_duplicate"))
                clusters["url_duplicates"] = sum(1 for r in with_text if r.get("url_duplicate"))

    if "estimates" not in skip:
        with Clock() as c:
            estimate_shares_reference(rows)  # the packaged thresholds, as `thresholds` here
        cpu["estimates"], docs["estimates"] = c.seconds, sum(r.get("status") != STATUS_FAILED for r in rows)

    statuses: dict[str, int] = defaultdict(int)
    for row in rows:
        statuses[row["status"]] += 1
    return {
        "extractor": extractor,
        "cascade": cascade and extractor == "trafilatura",
        "payload_reuse": reuse,
        "extraction": dict(extraction),
        "files": len(paths),
        "records": n_records,
        "html_responses": len(rows),
        "distinct_texts": len(unique),
        "cpu_s": cpu,
        "docs": docs,
        "pipeline_cpu_s": sum(cpu[s] for s in PIPELINE_STAGES),
        "status": dict(statuses),
        "dedup": clusters,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "notes": notes,
    }


def readers(corpus: Path, files: int | None) -> dict:
    """CPU seconds to read every record and the HTML payloads: pristine's reader vs plain warcio vs FastWARC."""
    from fastwarc.warc import ArchiveIterator as FastIterator
    from fastwarc.warc import WarcRecordType
    from warcio.archiveiterator import ArchiveIterator

    from transforms.read import iter_records

    paths = corpus_files(corpus, files)
    out = {}
    with Clock() as c:
        n = sum(1 for path in paths for _ in iter_records(path))
    out["pristine"] = {"cpu_s": c.seconds, "records": n}
    with Clock() as c:
        n = 0
        for path in paths:
            with open(path, "rb") as f:
                for rec in ArchiveIterator(f):
                    n += 1
                    if rec.rec_type == "response":
                        rec.content_stream().read()
    out["warcio"] = {"cpu_s": c.seconds, "records": n}
    with Clock() as c:
        n = 0
        for path in paths:
            with open(path, "rb") as f:
                for rec in FastIterator(f, parse_http=True):
                    n += 1
                    if rec.record_type == WarcRecordType.response:
                        rec.reader.read()
    out["fastwarc"] = {"cpu_s": c.seconds, "records": n}
    return out


def construction(rounds: int) -> dict:
    """Median CPU seconds to build and translate `pristine run`'s graph, without and with the caches of
    pipeline.beam_cache, alternating."""
    import statistics
    from contextlib import nullcontext

    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    from pipeline import graph, options
    from pipeline.beam_cache import cached_inspection

    sample = Path(__file__).resolve().parents[1] / "sample" / "whirlwind.warc.gz"
    seconds: dict[str, list[float]] = {"beam": [], "cached": []}
    leaves = 0
    with tempfile.TemporaryDirectory(prefix="pristine-construction-") as out:
        opts = options.parse(["--input", str(sample), "--output", out])
        ours = opts.view_as(options.PristineOptions)
        for _ in range(rounds):
            for name, context in (("beam", nullcontext), ("cached", cached_inspection)):
                with Clock() as c, context():
                    pipeline = beam.Pipeline(options=opts)
                    graph.build(pipeline, ours, out + "/staging")
                    proto = pipeline.to_runner_api()
                    fn_runner.FnApiRunner().create_stages(proto)
                seconds[name].append(c.seconds)
                leaves = sum(not t.subtransforms for t in proto.components.transforms.values())
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    return {"leaf_transforms": leaves, "cpu_s": medians, "rounds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bare", help="per-stage CPU of the pure functions, one process")
    b.add_argument("--corpus", type=Path, default=CORPUS)
    b.add_argument("--extractor", default="trafilatura")
    b.add_argument("--files", type=int, default=None, help="first N corpus files only")
    b.add_argument("--skip", action="append", default=[], choices=EXTRA_STAGES)
    b.add_argument("--no-cascade", action="store_true", help="trafilatura on every page")
    b.add_argument("--no-reuse", action="store_true", help="extract every copy of a payload again")
    r = sub.add_parser("readers", help="WARC reading: pristine's reader vs warcio vs FastWARC")
    r.add_argument("--corpus", type=Path, default=CORPUS)
    r.add_argument("--files", type=int, default=None)
    c = sub.add_parser("construction", help="CPU to build and translate the graph, with and without caches")
    c.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.cmd == "construction":
        print(json.dumps(construction(args.rounds)))
        return 0
    if args.cmd == "readers":
        print(json.dumps(readers(args.corpus, args.files)))
        return 0
    result = bare(
        args.corpus, args.extractor, args.files, set(args.skip), not args.no_cascade, not args.no_reuse
    )
    for note in result["notes"]:
        print(note, file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
