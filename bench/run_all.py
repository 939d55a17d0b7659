"""`make bench`: pristine against the raw cost of its own steps and against datatrove, side by side.

    .venv/bin/python -m bench.run_all [--rounds 3] [--files N] [--no-datatrove]

1. The fixed corpus (bench/make_corpus.py; built when bench/corpus/manifest.json is missing, else reused).
2. Bare loops (bench/pipeline_bench.py bare): CPU per stage with resiliparse and with trafilatura everywhere;
   the default one (trafilatura, cascade, payload reuse) runs in each round of 5., right after pristine's
   run, and the Beam overhead is the median of the rounds' ratios.
3. WARC readers: pristine's vs warcio vs FastWARC.
4. Extraction quality on the AEB (pipeline.evaluate.extraction.run_aeb) for both extractors.
5. Interleaved end-to-end runs, ``--rounds`` rounds of A = ``pristine run`` as the README runs it (the
   local runner's defaults: one in-memory worker, two extraction processes on this 2-core machine) and
   B = datatrove (2 tasks, 2 workers), A/B order alternating per round; one pristine run each with
   --no-cascade, with two multi_processing workers (one extraction process each) and with resiliparse,
   spread over the rounds, and in each round `--extract-processes 1` right after the bare loop (the bare
   loop's one extraction process); a run that fails is recorded, not fatal. Every run is measured
   from outside (bench/measure.py: CPU of the whole process tree, peak summed RSS); partial results go
   to bench/results/latest.json.tmp as they come.
6. bench/results/latest.json (every number) and latest.md (the tables, also printed).

Numbers, never pass/fail. docs/s per core = HTML responses / CPU seconds of the run. The machine is
shared: medians of the rounds and ratios of runs made side by side are the numbers to quote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import pipeline_bench
from bench.measure import run_measured

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DT_VENV = ROOT / ".cache" / "datatrove-venv"
DT_PYTHON = DT_VENV / "bin" / "python"
SAMPLES = ROOT.parent / "shared" / "data" / "warc-samples"
PY = sys.executable
VERSIONS = ("apache-beam", "trafilatura", "resiliparse", "fastwarc", "warcio", "fasttext-community", "numpy")
VERSIONS += ("pyarrow", "datasketch", "lxml")


def machine() -> dict:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
    }


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    if DT_PYTHON.exists():
        code = (
            "import importlib.metadata as m, json, platform; print(json.dumps({'python': platform.python_version(),"
            " **{n: m.version(n) for n in ('datatrove', 'trafilatura', 'fasttext-numpy2-wheel', 'spacy', 'warcio')}}))"
        )
        res = subprocess.run([str(DT_PYTHON), "-c", code], capture_output=True, text=True)
        if res.returncode == 0:
            out["datatrove_venv"] = json.loads(res.stdout)
    return out


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in output:\n{text[-2000:]}")


def clean(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("stdout", "stderr")}


HEADLINE = "pristine default trafilatura"  # `pristine run` as the README gives it
# pristine with the bare loop's extraction setup (one process, each page extracted before the next is read):
# whether the default's overhead is Beam's or that of two extraction processes working at once
ONE_PROCESS = ("--extract-processes", "1")


def run_pristine(
    files: list[str], mode: str, extractor: str, scratch: Path, flags: tuple[str, ...] = ()
) -> dict:
    out = scratch / f"pristine-{mode}-{extractor}"
    shutil.rmtree(out, ignore_errors=True)
    m = run_measured(pipeline_bench.e2e_command(PY, files, str(out), mode, extractor, flags), cwd=str(ROOT))
    if not (out / "stats.json").exists():  # exit code 1 alone means accounting_ok is false: still measured
        raise RuntimeError(f"pristine run failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    stats = json.loads((out / "stats.json").read_text())
    docs = stats["html_responses"]
    kept_ids = kept_documents(out)
    if stats.get("accounting_ok"):
        shutil.rmtree(out, ignore_errors=True)
    else:  # kept for a look
        kept = scratch.parent / f"{out.name}-accounting-failed"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.move(out, kept)
    return {
        "kind": " ".join(("pristine", mode, extractor, *flags)),
        **clean(m),
        "kept_ids": kept_ids,
        "extraction": stats.get("extraction"),
        "docs": docs,
        "docs_per_cpu_s": docs / m["cpu_s"],
        "docs_per_wall_s": docs / m["wall_s"],
        "kept": stats.get("kept"),
        "rejected": stats.get("rejected"),
        "failed": stats.get("failed"),
        "stage_seconds": stats.get("stage_seconds"),
        "accounting_ok": stats.get("accounting_ok"),
        "rc": m["rc"],
    }


def kept_documents(out: Path) -> list[str]:
    """ids of the documents a run kept (its curated/ Parquet files)."""
    import pyarrow.parquet as pq

    curated = out / "curated"
    return sorted(pq.read_table(curated, columns=["id"])["id"].to_pylist()) if curated.exists() else []


def sample_warcs(scratch: Path) -> tuple[Path, list[str]]:
    """The shared WARC samples that are WARC files (*.warc.gz), linked into one folder for both pipelines;
    not edge-cases/ (malformed on purpose) nor files datatrove's reader (warcio) stops at."""
    folder = scratch / "warc-samples"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    files = []
    paths = [p for p in sorted(SAMPLES.rglob("*.warc.gz")) if "edge-cases" not in p.parts]
    if DT_PYTHON.exists():  # datatrove's warcio stops a task at a whole-file gzip: only files it reads
        check = (
            "import sys\nfrom warcio.archiveiterator import ArchiveIterator\nfor p in sys.argv[1:]:\n"
            "    try:\n        [r for r in ArchiveIterator(open(p, 'rb'))]\n        print(p)\n"
            "    except Exception:\n        pass\n"
        )
        res = subprocess.run([str(DT_PYTHON), "-c", check, *map(str, paths)], capture_output=True, text=True)
        readable = set(res.stdout.split())
        paths = [p for p in paths if str(p) in readable]
    for i, path in enumerate(paths):
        link = folder / f"{i:03d}-{path.name}"
        os.symlink(path, link)
        files.append(str(link))
    return folder, files


def run_datatrove(corpus_dir: Path, scratch: Path, lid_model: str, files: list[str]) -> dict:
    if len(files) != len(list(corpus_dir.glob("*.warc.gz"))):  # a subset: link it into its own folder
        sub = scratch / "dt-corpus"
        shutil.rmtree(sub, ignore_errors=True)
        sub.mkdir()
        for f in files:
            os.symlink(f, sub / Path(f).name)
        corpus_dir = sub
    env = dict(os.environ, HF_HOME=str(DT_VENV / "hf"), HF_HUB_OFFLINE="1")
    cmd = [str(DT_PYTHON), str(ROOT / "bench" / "datatrove_bench.py"), "--corpus", str(corpus_dir)]
    cmd += ["--work", str(scratch / "datatrove"), "--lid-model", lid_model]
    m = run_measured(cmd, env=env, cwd=str(scratch))
    if m["rc"] != 0:
        raise RuntimeError(f"datatrove failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    res = last_json(m["stdout"])
    docs = res["documents"]
    return {
        "kind": "datatrove",
        **clean(m),
        "docs": docs,
        "docs_per_cpu_s": docs / m["cpu_s"],
        "docs_per_wall_s": docs / m["wall_s"],
        "steps": res["steps"],
    }


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def summarise(results: dict) -> dict:
    s: dict = {}
    e2e = results["e2e"]
    ok = [r for r in e2e if "error" not in r]
    headline = [r for r in ok if r["kind"] == HEADLINE and not r.get("samples")]
    dtr = [r for r in ok if r["kind"] == "datatrove" and not r.get("samples")]
    everywhere = [r for r in ok if r["kind"].endswith("--no-cascade") and not r.get("samples")]
    if headline:
        ex = headline[0].get("extraction") or {}
        decided = ex.get("decided_by", {})
        s["cascade"] = {
            "trafilatura_calls": decided.get("trafilatura", 0),
            "trafilatura_skipped": sum(ex.get("trafilatura_skipped", {}).values()),
            "skipped_by": ex.get("trafilatura_skipped", {}),
            "payload_reused": ex.get("payload_reused", 0),
            "docs": headline[0]["docs"],
            "cpu_ms_per_page": 1000 * med(headline, "cpu_s") / headline[0]["docs"],
            "peak_rss_mb": med(headline, "peak_rss_mb"),
        }
        if everywhere:
            base = set(everywhere[0]["kept_ids"])
            mine = set(headline[0]["kept_ids"])
            s["cascade"].update(
                kept_everywhere=len(base),
                kept_cascade=len(mine),
                kept_agreement=len(base & mine) / len(base) if base else None,
                kept_extra=len(mine - base),
                everywhere_cpu_ms_per_page=1000 * med(everywhere, "cpu_s") / everywhere[0]["docs"],
                everywhere_peak_rss_mb=med(everywhere, "peak_rss_mb"),
            )
    smp = [r for r in ok if r.get("samples") and r["kind"].startswith("pristine")]
    sdt = [r for r in ok if r.get("samples") and r["kind"] == "datatrove"]
    if smp and sdt:
        s["samples_pristine_over_datatrove_cpu"] = med(sdt, "cpu_s") / med(smp, "cpu_s")
        s["samples_paired_cpu_ratios"] = [b["cpu_s"] / a["cpu_s"] for a, b in zip(smp, sdt, strict=False)]
    if headline:
        s["pristine_docs_per_cpu_s"] = med(headline, "docs_per_cpu_s")
        s["pristine_cpu_s"] = med(headline, "cpu_s")
        # each pristine run against the bare loop run right after it (same round), medians of the rounds
        pairs = [(r, b) for r in headline for b in results.get("bare_rounds", []) if b["round"] == r["round"]]
        s["beam_overhead_rounds"] = [
            {
                "round": r["round"],
                "pristine_cpu_s": r["cpu_s"],
                "bare_pipeline_cpu_s": b["pipeline_cpu_s"],
                "bare_with_extras_cpu_s": b["pipeline_cpu_s"]
                + sum(b["cpu_s"].get(stage, 0) for stage in pipeline_bench.SYNTHETIC_AND_MINHASH),
                "bare_same_work_cpu_s": b["pipeline_cpu_s"]
                + sum(b["cpu_s"].get(stage, 0) for stage in pipeline_bench.EXTRA_STAGES),
                "bare_process_cpu_s": b["measured"]["cpu_s"],
            }
            for r, b in pairs
        ]
        one = {r["round"]: r for r in ok if r["kind"] == " ".join((HEADLINE, *ONE_PROCESS))}
        for x in s["beam_overhead_rounds"]:
            if x["round"] in one:
                x["pristine_one_process_cpu_s"] = one[x["round"]]["cpu_s"]
        if pairs:
            rounds = s["beam_overhead_rounds"]
            with_one = [x for x in rounds if "pristine_one_process_cpu_s" in x]
            if with_one:
                s["beam_overhead_one_process"] = {
                    name: statistics.median(x["pristine_one_process_cpu_s"] / x[key] - 1 for x in with_one)
                    for name, key in (
                        ("with_extras", "bare_with_extras_cpu_s"),
                        ("same_work", "bare_same_work_cpu_s"),
                        ("process", "bare_process_cpu_s"),
                    )
                }
            s["beam_overhead"] = statistics.median(
                x["pristine_cpu_s"] / x["bare_pipeline_cpu_s"] - 1 for x in rounds
            )
            s["beam_overhead_with_extras"] = statistics.median(
                x["pristine_cpu_s"] / x["bare_with_extras_cpu_s"] - 1 for x in rounds
            )
            s["beam_overhead_same_work"] = statistics.median(
                x["pristine_cpu_s"] / x["bare_same_work_cpu_s"] - 1 for x in rounds
            )
            s["beam_overhead_process"] = statistics.median(
                x["pristine_cpu_s"] / x["bare_process_cpu_s"] - 1 for x in rounds
            )
            s["bare_pipeline_cpu_s"] = statistics.median(x["bare_pipeline_cpu_s"] for x in rounds)
    two_workers = [
        r for r in ok if r["kind"] == "pristine multi_processing trafilatura" and not r.get("samples")
    ]
    if headline and two_workers:
        s["multi_processing"] = {
            "cpu_s": med(two_workers, "cpu_s"),
            "wall_s": med(two_workers, "wall_s"),
            "peak_rss_mb": med(two_workers, "peak_rss_mb"),
            "default_cpu_s": med(headline, "cpu_s"),
            "default_wall_s": med(headline, "wall_s"),
            "default_peak_rss_mb": med(headline, "peak_rss_mb"),
        }
    if headline and dtr:
        s["datatrove_docs_per_cpu_s"] = med(dtr, "docs_per_cpu_s")
        s["pristine_over_datatrove_per_core"] = med(headline, "docs_per_cpu_s") / med(dtr, "docs_per_cpu_s")
        s["pristine_over_datatrove_wall"] = med(headline, "docs_per_wall_s") / med(dtr, "docs_per_wall_s")
        pairs = [a["docs_per_cpu_s"] / b["docs_per_cpu_s"] for a, b in zip(headline, dtr, strict=False)]
        s["paired_ratios_per_core"] = pairs
        s["datatrove_peak_rss_mb"] = med(dtr, "peak_rss_mb")
    tr, rp = results["bare"]["trafilatura"], results["bare"].get("resiliparse")
    if rp:
        s["resiliparse_over_trafilatura_extract"] = tr["cpu_s"]["extract"] / rp["cpu_s"]["extract"]
        s["resiliparse_over_trafilatura_pipeline_bare"] = tr["pipeline_cpu_s"] / rp["pipeline_cpu_s"]
    return s


def fmt(x, nd=1):
    return "-" if x is None else f"{x:,.{nd}f}"


def markdown(results: dict) -> str:
    m, v, s = results["machine"], results["versions"], results["summary"]
    lines = [
        f"# pristine benchmarks ({results['date']})",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB, load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['loadavg_at_start'])} (shared machine: compare ratios, not absolutes).",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if not isinstance(val, dict)),
    ]
    if "datatrove_venv" in v:
        lines.append("datatrove venv: " + ", ".join(f"{k} {val}" for k, val in v["datatrove_venv"].items()))
    c = results["corpus"]
    lines += [
        f"Corpus: {c['responses']} HTML responses ({c['by_kind']}) from {c['distinct_pages']} distinct pages, "
        f"{len(c['files'])} per-record-gzip WARC files, {c['html_bytes'] / 1e6:.0f} MB of HTML.",
        "",
        "## Per stage, bare Python loop (one process, CPU seconds; docs/s per core)",
        "",
        "| stage | trafilatura run: CPU s | docs/s/core | resiliparse run: CPU s | docs/s/core |",
        "|---|---|---|---|---|",
    ]
    tr, rp = results["bare"]["trafilatura"], results["bare"].get("resiliparse") or {"cpu_s": {}, "docs": {}}
    for stage in (*pipeline_bench.PIPELINE_STAGES, *pipeline_bench.EXTRA_STAGES):
        if stage not in tr["cpu_s"]:
            continue
        a, b = tr["cpu_s"][stage], rp["cpu_s"].get(stage)
        lines.append(
            f"| {stage}{' (outside read..write)' if stage in pipeline_bench.EXTRA_STAGES else ''} | {a:.2f} | "
            f"{fmt(tr['docs'][stage] / a if a else None, 0)} | {fmt(b, 2)} | "
            f"{fmt(rp['docs'].get(stage, 0) / b if b else None, 0)} |"
        )
    lines.append(
        f"| **pipeline stages (read..write)** | {tr['pipeline_cpu_s']:.1f} | "
        f"{fmt(tr['html_responses'] / tr['pipeline_cpu_s'], 1)} | {fmt(rp.get('pipeline_cpu_s'), 1)} | "
        f"{fmt(rp['html_responses'] / rp['pipeline_cpu_s'] if rp.get('pipeline_cpu_s') else None, 1)} |"
    )
    lines.append(
        f"\nBare loop peak RSS: {tr['peak_rss_mb']:.0f} MB (+ extraction child {tr['child_peak_rss_mb']:.0f} MB)"
        " — it holds the whole corpus in memory, unlike the pipeline."
    )
    rd = results.get("readers")
    if rd:
        lines += [
            "",
            "## WARC reading (all records, HTML payloads read)",
            "",
            "| reader | CPU s | records/s/core |",
        ]
        lines.append("|---|---|---|")
        for name, r in rd.items():
            lines.append(f"| {name} | {r['cpu_s']:.2f} | {r['records'] / r['cpu_s']:,.0f} |")
    lines += [
        "",
        "## End to end, interleaved runs (same corpus; CPU = whole process tree)",
        "",
        "| run | round | wall s | CPU s | docs/s/core | docs/s wall | peak RSS tree MB | largest process MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["e2e"]:
        if "error" in r:
            reason = r["error"].strip().splitlines()[-1][:120]
            lines.append(f"| {r['kind']} (failed: {reason}) | {r['round']} |" + " - |" * 6)
            continue
        lines.append(
            f"| {r['kind']}{' [samples]' if r.get('samples') else ''}{'' if r.get('accounting_ok', True) else ' (accounting failed)'} | {r['round']} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['docs_per_cpu_s']:.1f} | "
            f"{r['docs_per_wall_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['max_proc_rss_mb']:.0f} |"
        )
    lines += ["", "## Summary", ""]
    if "beam_overhead" in s:
        rounds = s["beam_overhead_rounds"]

        def per_round(key: str) -> str:
            return ", ".join(f"{x[key]:.0f}" for x in rounds if key in x)

        lines.append(
            "- Beam overhead (`pristine run`, the local runner's defaults, against the bare loop run right "
            "after it in the same round; medians of the rounds' ratios; aim: under 15%): "
            f"**{s['beam_overhead']:+.0%}** over the bare loop's read..write (pristine "
            f"{per_round('pristine_cpu_s')} CPU-s, bare {per_round('bare_pipeline_cpu_s')}), "
            f"**{s['beam_overhead_with_extras']:+.0%}** counting its synthetic and MinHash "
            f"({per_round('bare_with_extras_cpu_s')}), **{s['beam_overhead_same_work']:+.0%}** counting "
            "also the rest of dedup and the synthetic-share estimates, i.e. every function pristine runs "
            f"({per_round('bare_same_work_cpu_s')}), **{s['beam_overhead_process']:+.0%}** over the bare "
            "loop's whole process, which also starts Python, imports the same libraries, loads the same "
            f"models and starts an extraction process ({per_round('bare_process_cpu_s')})."
        )
        one = s.get("beam_overhead_one_process")
        if one:
            against = ", ".join(
                f"{x['pristine_one_process_cpu_s'] / x['pristine_cpu_s']:.2f}x"
                for x in rounds
                if "pristine_one_process_cpu_s" in x
            )
            lines.append(
                f"- With one extraction process (`pristine run {' '.join(ONE_PROCESS)}`, the bare loop's "
                f"setup, run right after it; pristine {per_round('pristine_one_process_cpu_s')} CPU-s): "
                f"**{one['with_extras']:+.0%}** counting its synthetic and MinHash, **{one['same_work']:+.0%}** "
                f"counting every function, **{one['process']:+.0%}** over its whole process; its CPU against "
                f"the default's in the same round: {against}."
            )
        everywhere = results["bare"].get("trafilatura-everywhere")
        if everywhere:
            lines.append(
                f"- Bare loop, trafilatura everywhere and no payload reuse: {everywhere['pipeline_cpu_s']:.0f} s "
                f"(extract {everywhere['cpu_s']['extract']:.0f} s) vs {tr['pipeline_cpu_s']:.0f} s (extract "
                f"{tr['cpu_s']['extract']:.0f} s) with the cascade and reuse ({tr.get('extraction')})."
            )
    if "pristine_over_datatrove_per_core" in s:
        lines.append(
            f"- pristine vs datatrove, docs/s per core: {s['pristine_docs_per_cpu_s']:.1f} vs "
            f"{s['datatrove_docs_per_cpu_s']:.1f} = **{s['pristine_over_datatrove_per_core']:.2f}x** "
            f"(paired per round: {', '.join(f'{x:.2f}' for x in s['paired_ratios_per_core'])}); wall clock "
            f"{s['pristine_over_datatrove_wall']:.2f}x."
        )
    cascade = s.get("cascade")
    if cascade:
        lines += [
            "",
            "## Cascade and payload reuse (`pristine run`, default settings)",
            "",
            f"- trafilatura calls: {cascade['trafilatura_calls']:,} made, {cascade['trafilatura_skipped']:,} skipped "
            f"by the cascade ({cascade['skipped_by']}), {cascade['payload_reused']:,} responses reused a payload "
            f"extracted before; {cascade['docs']:,} HTML responses.",
        ]
        if "kept_agreement" in cascade:
            lines.append(
                f"- kept set vs trafilatura everywhere (--no-cascade): {cascade['kept_cascade']:,} vs "
                f"{cascade['kept_everywhere']:,} kept, agreement **{cascade['kept_agreement']:.2%}** "
                f"({cascade['kept_extra']} kept only by the cascade)."
            )
            lines.append(
                f"- CPU per page: {cascade['cpu_ms_per_page']:.1f} ms (trafilatura everywhere "
                f"{cascade['everywhere_cpu_ms_per_page']:.1f} ms); peak memory of the process tree "
                f"{cascade['peak_rss_mb']:,.0f} MB (trafilatura everywhere {cascade['everywhere_peak_rss_mb']:,.0f} "
                f"MB; datatrove {s.get('datatrove_peak_rss_mb', 0):,.0f} MB)."
            )
    if "samples_pristine_over_datatrove_cpu" in s:
        lines.append(
            f"- shared WARC samples (*.warc.gz): datatrove CPU / pristine CPU = "
            f"**{s['samples_pristine_over_datatrove_cpu']:.2f}x** (paired: "
            f"{', '.join(f'{x:.2f}' for x in s['samples_paired_cpu_ratios'])}); start-up dominates at this size."
        )
    if "multi_processing" in s:
        m = s["multi_processing"]
        lines.append(
            f"- one in-memory worker with two extraction processes (the default) vs two multi_processing "
            f"workers with one each: CPU {m['default_cpu_s']:.0f} vs {m['cpu_s']:.0f} s, wall "
            f"{m['default_wall_s']:.0f} vs {m['wall_s']:.0f} s, peak memory {m['default_peak_rss_mb']:,.0f} vs "
            f"{m['peak_rss_mb']:,.0f} MB (medians of the default's rounds; one multi_processing run)."
        )
    if "resiliparse_over_trafilatura_extract" in s:
        lines.append(
            f"- resiliparse vs trafilatura: extraction {s['resiliparse_over_trafilatura_extract']:.1f}x faster, "
            f"bare pipeline {s['resiliparse_over_trafilatura_pipeline_bare']:.1f}x."
        )
    aeb = results.get("aeb")
    if aeb:
        lines += [
            "",
            "## Extraction quality (AEB, 181 pages)",
            "",
            "| extractor | F1 | precision | recall | pages/s |",
        ]
        lines.append("|---|---|---|---|---|")
        for name, a in aeb.items():
            lines.append(
                f"| {name} | {a['f1']:.3f} | {a['precision']:.3f} | {a['recall']:.3f} | {a['pages_per_s']:.0f} |"
            )
    for note in results.get("notes", []):
        lines.append(f"\nNote: {note}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=pipeline_bench.CORPUS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=None, help="first N corpus files only (quick runs)")
    parser.add_argument("--no-datatrove", action="store_true")
    parser.add_argument(
        "--no-extras", action="store_true", help="skip the multi_processing and resiliparse end-to-end runs"
    )
    parser.add_argument("--sample-rounds", type=int, default=3, help="rounds on the shared WARC samples")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    manifest = args.corpus / "manifest.json"
    if not manifest.exists():
        subprocess.run([PY, "-m", "bench.make_corpus", "--out", str(args.corpus)], check=True, cwd=ROOT)
    files = pipeline_bench.corpus_files(args.corpus, args.files)
    results: dict = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions(),
        "corpus": json.loads(manifest.read_text()),
        "files_used": len(files),
        "bare": {},
        "bare_rounds": [],  # the default bare loop of each round, run right after pristine's
        "e2e": [],
        "notes": [],
    }
    if args.files:
        results["notes"].append(f"quick run: first {args.files} corpus files only")
    use_dt = not args.no_datatrove and DT_PYTHON.exists()
    if not use_dt and not args.no_datatrove:
        results["notes"].append("datatrove venv missing: run `make bench-datatrove-venv`")

    def save_partial():  # a long run on a shared machine should not lose what it measured
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "latest.json.tmp").write_text(json.dumps(results, indent=2, default=str) + "\n")

    def log(msg):
        print(f"[bench {dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)

    # trafilatura: the cascade and payload reuse, as `pristine run` by default (run once per round, next to
    # pristine's run: the Beam overhead is a ratio of the two); trafilatura-everywhere: neither
    bare_runs = {
        "trafilatura": ("trafilatura", []),
        "trafilatura-everywhere": ("trafilatura", ["--no-cascade", "--no-reuse"]),
        "resiliparse": ("resiliparse", ["--skip", "synthetic", "--skip", "minhash", "--skip", "estimates"]),
    }

    def run_bare(name: str) -> dict:
        extractor, flags = bare_runs[name]
        cmd = [
            PY,
            "-m",
            "bench.pipeline_bench",
            "bare",
            "--corpus",
            str(args.corpus),
            "--extractor",
            extractor,
        ]
        cmd += [*flags, *(["--files", str(args.files)] if args.files else [])]
        m = run_measured(cmd, cwd=str(ROOT))
        if m["rc"] != 0:
            raise RuntimeError(m["stderr"][-3000:])
        return {**last_json(m["stdout"]), "measured": clean(m)}

    for name in ("trafilatura-everywhere", "resiliparse"):
        log(f"bare loop, {name}")
        results["bare"][name] = run_bare(name)
        results["notes"] += results["bare"][name]["notes"]
    log("WARC readers")
    cmd = [PY, "-m", "bench.pipeline_bench", "readers", "--corpus", str(args.corpus)]
    results["readers"] = last_json(
        subprocess.run(
            cmd + (["--files", str(args.files)] if args.files else []),
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
    )
    log("AEB F1")
    from pipeline.evaluate.extraction import run_aeb

    results["aeb"] = {e: run_aeb(extractor=e, time_limit_s=5.0) for e in ("trafilatura", "resiliparse")}

    from transforms.signals.langid import lid176_path

    # trafilatura everywhere (--no-cascade): the kept set the cascade must match, and the "before" numbers
    extras = [("default", "trafilatura", ("--no-cascade",))]
    extras += (
        [] if args.no_extras else [("multi_processing", "trafilatura", ()), ("default", "resiliparse", ())]
    )
    # no multi_threading run: pristine refuses that mode (it lost or garbled rows here, see pipeline/options.py)
    with tempfile.TemporaryDirectory(prefix="pristine-bench-") as tmp:
        scratch = Path(tmp)
        for i in range(args.rounds):
            order = ["pristine", "datatrove"] if i % 2 == 0 else ["datatrove", "pristine"]
            for who in order:
                if who == "pristine":
                    log(f"round {i + 1}: pristine")
                    r = run_pristine(files, "default", "trafilatura", scratch)
                    results["e2e"].append({**r, "round": i + 1})
                    log(f"round {i + 1}: bare loop, trafilatura")
                    bare = run_bare("trafilatura")
                    if "trafilatura" not in results["bare"]:  # the per-stage tables: round 1's
                        results["bare"]["trafilatura"] = bare
                        results["notes"] += bare["notes"]
                    results["bare_rounds"].append({**bare, "round": i + 1})
                    save_partial()
                    # the bare loop's extraction setup (one process), right after it
                    if not args.no_extras:
                        log(f"round {i + 1}: pristine {' '.join(ONE_PROCESS)}")
                        try:
                            r = run_pristine(files, "default", "trafilatura", scratch, ONE_PROCESS)
                        except RuntimeError as exc:  # recorded, not fatal
                            r = {"kind": " ".join((HEADLINE, *ONE_PROCESS)), "error": str(exc)[-2000:]}
                        results["e2e"].append({**r, "round": i + 1})
                        save_partial()
                    continue
                elif use_dt:
                    log(f"round {i + 1}: datatrove")
                    r = run_datatrove(args.corpus, scratch, lid176_path(), files)
                else:
                    continue
                results["e2e"].append({**r, "round": i + 1})
                save_partial()
            for mode, extractor, flags in extras[i :: args.rounds]:
                log(f"round {i + 1}: pristine {mode} {extractor} {' '.join(flags)}")
                try:
                    r = run_pristine(files, mode, extractor, scratch, flags)
                except RuntimeError as exc:  # recorded, not fatal: the other runs still count
                    r = {"kind": " ".join(("pristine", mode, extractor, *flags)), "error": str(exc)[-2000:]}
                results["e2e"].append({**r, "round": i + 1})
                save_partial()
        # the shared WARC samples: small, so start-up weighs; interleaved all the same
        folder, sample_files = sample_warcs(scratch)
        for i in range(args.sample_rounds if use_dt else 0):
            order = ["pristine", "datatrove"] if i % 2 == 0 else ["datatrove", "pristine"]
            for who in order:
                log(f"samples round {i + 1}: {who}")
                try:
                    if who == "pristine":
                        r = run_pristine(sample_files, "default", "trafilatura", scratch)
                    else:
                        r = run_datatrove(folder, scratch, lid176_path(), sample_files)
                except RuntimeError as exc:
                    r = {"kind": who if who == "datatrove" else "pristine samples", "error": str(exc)[-2000:]}
                results["e2e"].append({**r, "round": i + 1, "samples": True})
                save_partial()
    results["summary"] = summarise(results)
    for r in results["e2e"]:
        r.pop("kept_ids", None)  # compared in the summary; thousands of ids need not be in the results

    md = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "latest.md").write_text(md)
    (args.out / "latest.json.tmp").unlink(missing_ok=True)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
