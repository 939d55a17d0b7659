"""stats.json: what a run read, kept, rejected and failed, computed inside the pipeline.

Counts travel as flat dicts ('records_read.response': 3, 'rejected.too_short': 2, ...), are summed by
`merge_counts` (the job's one CombineGlobally, wired in pipeline/graph.py), and are nested when written.
No Beam at import: the files are read and written through Beam's FileSystems (local, gs://, s3://),
loaded on first use. The accounting identity is checked at write time:

    WARC input:        html_responses = kept + rejected + failed
    JSONL/Parquet in:  documents_read = kept + rejected + failed
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pipeline.outputs import STATS
from transforms.read.record import UNREADABLE_INPUTS, UNREADABLE_LISTED
from transforms.schema import STATUS_FAILED, STATUS_KEPT, STATUS_REJECTED

SUMMARY_LISTED = 10  # most listed in the terminal summary


def first_unreadable(items) -> list[dict]:
    """The first UNREADABLE_LISTED unreadable inputs by (file, offset, reason): the same on every runner."""
    key = lambda u: (u["file"], u["offset"], u["reason"])  # noqa: E731
    return sorted(items, key=key)[:UNREADABLE_LISTED]


def row_counts(row: dict) -> dict[str, int]:
    """The counts one decided row contributes."""
    status = row["status"]
    counts = {status: 1, "documents_read": 1}
    if status == STATUS_REJECTED:
        counts[f"rejected_by_reason.{row['reject_reason']}"] = 1
    elif status == STATUS_FAILED:
        counts[f"failed_by_reason.{row['failure_reason']}"] = 1
    if row.get("digest_verified") is False:
        counts["digest_mismatches"] = 1
    for rule in row.get("failed_rules") or ():
        counts[f"failed_rule_counts.{rule}"] = 1
    if row.get("text") is not None and row.get("extractor") not in (None, "none"):
        counts["extracted"] = 1
        counts[f"extracted_by.{row['extractor']}"] = 1
    if status == STATUS_KEPT:
        counts[f"kept_by_lang.{row.get('lang')}"] = 1
    return counts


def merge_counts(parts: Iterable[dict]) -> dict:
    """Flat count dicts -> their sum (the listed unreadable inputs: the first ones of all). Associative
    and commutative, so Beam may merge partial sums in any order: ``beam.CombineGlobally(merge_counts)``."""
    merged: dict = {}
    for counts in parts:
        for key, n in counts.items():
            if key == UNREADABLE_INPUTS:
                merged[key] = first_unreadable(merged.get(key, []) + n)
            else:
                merged[key] = merged.get(key, 0) + n
    return merged


def nest(counts: dict[str, int]) -> dict:
    """{'a.b': 1} -> {'a': {'b': 1}}, sorted by key."""
    out: dict = {}
    for key in sorted(counts):
        head, _, tail = key.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = counts[key]
        else:
            out[head] = counts[key]
    return out


def build_stats(counts: dict[str, int], input_format: str) -> dict:
    stats = nest(counts)
    for key in (STATUS_KEPT, STATUS_REJECTED, STATUS_FAILED, "documents_read", "extracted"):
        stats.setdefault(key, 0)
    stats["input_format"] = input_format
    if input_format == "warc":
        stats.setdefault("html_responses", 0)
        stats.setdefault("files_read", 0)
        stats["records_read_total"] = sum(stats.get("records_read", {}).values())
        # every unreadable record or file is a failed row too (warc.unreadable_input)
        stats["unreadable_total"] = sum(stats.get("unreadable", {}).values())
        stats.setdefault(UNREADABLE_INPUTS, [])
        total_in = stats["html_responses"] + stats["unreadable_total"]
    else:
        total_in = stats["documents_read"]
    # documents_read counts rows that reached decide; for WARC input it must equal html_responses.
    out = stats[STATUS_KEPT] + stats[STATUS_REJECTED] + stats[STATUS_FAILED]
    stats["accounting_ok"] = total_in == out == stats["documents_read"]
    return stats


def write_stats_file(stats: dict, output_dir: str) -> dict:
    """Write output_dir/stats.json (the one place that formats it)."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(FileSystems.join(output_dir, STATS)) as f:
        f.write(json.dumps(stats, indent=2, sort_keys=True).encode())
    return stats


def with_synthetic(stats: dict, synthetic_by_crawl=(), synthetic_by_cohort=()) -> dict:
    """Add the AI-share estimates per crawl and per cohort to stats (``transforms.synthetic.group_estimate``
    records: share and interval, all scored and passing the quality rules, with n, reference and method)."""
    if synthetic_by_crawl:
        stats["synthetic_by_crawl"] = {r["crawl"] or "unknown": r for r in synthetic_by_crawl}
    if synthetic_by_cohort:
        stats["synthetic_by_cohort"] = {r["cohort"]: r for r in synthetic_by_cohort}
    return stats


SYNTHETIC_GROUPS = {"synthetic_by_crawl": "crawl", "synthetic_by_cohort": "cohort"}


def merge_synthetic(parts: list[dict]) -> dict:
    """The synthetic estimates of several stats.json of disjoint rows (backfill batches) -> one per group,
    recomputed from the summed histograms and reference masses (``synthetic.merge_group_records``)."""
    from transforms.synthetic import merge_group_records

    merged: dict = {}
    for section, column in SYNTHETIC_GROUPS.items():
        groups: dict[str, list[dict]] = {}
        for part in parts:
            for key, record in part.get(section, {}).items():
                groups.setdefault(key, []).append(record)
        if groups:
            merged[section] = {
                key: {column: records[0][column], **merge_group_records(records)}
                for key, records in sorted(groups.items())
            }
    return merged


def write_stats(
    counts: dict[str, int],
    output_dir: str,
    input_format: str,
    synthetic_by_crawl=(),
    synthetic_by_cohort=(),
    provenance: dict | None = None,
) -> dict:
    stats = with_synthetic(build_stats(counts, input_format), synthetic_by_crawl, synthetic_by_cohort)
    if provenance:
        stats["provenance"] = provenance  # what produced the run (pipeline/provenance.py)
    return write_stats_file(stats, output_dir)


# What a recurated run carries over from the run it re-decides: what was read is unchanged.
READ_KEYS = ("input_format", "files_read", "records_read", "unreadable", "html_responses", UNREADABLE_INPUTS)


def write_recurated_stats(
    counts: dict[str, int],
    run_dir: str,
    output_dir: str,
    synthetic_by_crawl=(),
    synthetic_by_cohort=(),
    provenance: dict | None = None,
) -> dict:
    previous = read_stats(run_dir)
    for key in READ_KEYS:
        value = previous.get(key)
        if isinstance(value, dict):
            counts.update({f"{key}.{k}": v for k, v in value.items()})
        elif isinstance(value, int | list):
            counts[key] = value
    stats = build_stats(counts, previous["input_format"])
    stats["recurated_from"] = run_dir
    if provenance:
        stats["provenance"] = provenance
    return write_stats_file(with_synthetic(stats, synthetic_by_crawl, synthetic_by_cohort), output_dir)


def read_stats(output_dir: str) -> dict:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(FileSystems.join(output_dir, STATS)) as f:
        return json.loads(f.read())


def summary(stats: dict) -> str:
    """A short table for the terminal."""
    lines = []
    if stats["input_format"] == "warc":
        lines.append(f"{'files read':<32}{stats['files_read']:>10,}")
        lines.append(f"{'WARC records read':<32}{stats['records_read_total']:>10,}")
        for kind, n in sorted(stats.get("records_read", {}).items()):
            lines.append(f"{'  ' + kind:<32}{n:>10,}")
        lines.append(f"{'HTML responses':<32}{stats['html_responses']:>10,}")
        lines.append(f"{'unreadable records or files':<32}{stats.get('unreadable_total', 0):>10,}")
    else:
        lines.append(f"{'documents read':<32}{stats['documents_read']:>10,}")
    lines.append(f"{'kept':<32}{stats[STATUS_KEPT]:>10,}")
    for lang, n in sorted(stats.get("kept_by_lang", {}).items(), key=lambda kv: -kv[1])[:8]:
        lines.append(f"{'  lang=' + lang:<32}{n:>10,}")
    lines.append(f"{'rejected':<32}{stats[STATUS_REJECTED]:>10,}")
    for reason, n in sorted(stats.get("rejected_by_reason", {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"{'  ' + reason:<32}{n:>10,}")
    lines.append(f"{'failed':<32}{stats[STATUS_FAILED]:>10,}")
    for reason, n in sorted(stats.get("failed_by_reason", {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"{'  ' + reason:<32}{n:>10,}")
    for cohort, r in sorted(stats.get("synthetic_by_cohort", {}).items()):
        if r.get("share") is not None:
            lines.append(
                f"AI share, {cohort} (n={r['n_target']:,}): {r['share']:.1%} "
                f"[{r['share_low']:.1%}, {r['share_high']:.1%}] vs {r['reference']}"
            )
    ok = "holds" if stats["accounting_ok"] else "BROKEN"
    what = "HTML responses + unreadable" if stats["input_format"] == "warc" else "in"
    lines.append(f"accounting ({what} = kept + rejected + failed): {ok}")
    lines += unreadable_lines(stats)
    return "\n".join(lines)


def unreadable_lines(stats: dict) -> list[str]:
    """One line per unreadable file or record (the first SUMMARY_LISTED): file @ offset: reason: detail."""
    items = stats.get(UNREADABLE_INPUTS) or []
    total = stats.get("unreadable_total", len(items))
    if not total:
        return []
    lines = [f"unreadable input ({total:,}; each is a row in failed/ with its failure_reason):"]
    for u in items[:SUMMARY_LISTED]:
        lines.append(f"  {u['file']} @ {u['offset']}: {u['reason']}: {u['detail']}")
    if total > min(len(items), SUMMARY_LISTED):
        lines.append(
            f"  ... {total - min(len(items), SUMMARY_LISTED):,} more (failed/, stats.json {UNREADABLE_INPUTS})"
        )
    return lines
