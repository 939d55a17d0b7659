"""report.html: one self-contained page per run (inline SVG charts, no scripts, no network), readable offline.

    pristine report RUN_DIR        # (re)writes RUN_DIR/report.html; `pristine run` writes it too

It shows the funnel (records read -> HTML -> extracted -> kept, rejects by reason, failures by kind), the
language mix, score distributions (language, quality and synthetic scores where present, by cohort when a
`cohort` column exists), the estimated AI share per cohort and per crawl and the domains with the
highest estimated share (95% intervals, n, human reference and method), the dedup cluster-size
histogram and the time per stage, each when the run has that data.
"""

from __future__ import annotations

import html
import json
import math
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.outputs import CURATED, REJECTED, REPORT, STATS, SYNTHETIC_BY_DOMAIN, SYNTHETIC_BY_DOMAIN_FILES

PALETTE = ["#3b6ea5", "#c8553d", "#588b8b", "#f2a541", "#8e6c8a", "#6a994e"]
# one colour per status in every chart: kept blue, rejected red, failed amber
STATUS_COLORS = {"kept": PALETTE[0], "rejected": PALETTE[1], "failed": PALETTE[3]}


def _esc(value) -> str:
    return html.escape(str(value))


def bar_chart(
    title: str,
    items: list[tuple[str, float]],
    color: str = PALETTE[2],
    unit: str = "",
    colors: dict | None = None,
) -> str:
    """Horizontal bars, largest first as given; an SVG figure with its title. `colors`: per label."""
    if not items:
        return ""
    width, label_w, row_h = 720, 230, 22
    top = max(v for _, v in items) or 1
    height = row_h * len(items) + 10
    bars = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * row_h
        w = (width - label_w - 90) * value / top
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"
        bars.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 6}" '
            f'fill="{(colors or {}).get(label, color)}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_esc(text)}{_esc(unit)}</text>'
        )
    return _figure(title, width, height, "".join(bars))


def histogram(
    title: str, series: dict[str, list[float]], bins: int = 20, lo: float = 0.0, hi: float = 1.0
) -> str:
    """Overlaid histograms (share of each series per bin) on [lo, hi]."""
    series = {k: [v for v in vs if v is not None and not math.isnan(v)] for k, vs in series.items()}
    series = {k: vs for k, vs in series.items() if vs}
    if not series:
        return ""
    width, height, left, bottom = 720, 240, 50, 30
    plot_w, plot_h = width - left - 20, height - bottom - 30
    shares = {}
    for name, values in series.items():
        counts = [0] * bins
        for v in values:
            counts[min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))] += 1
        shares[name] = [c / len(values) for c in counts]
    top = max(max(s) for s in shares.values()) or 1
    parts = [
        f'<line x1="{left}" y1="{20 + plot_h}" x2="{left + plot_w}" y2="{20 + plot_h}" stroke="#888"/>',
        f'<line x1="{left}" y1="20" x2="{left}" y2="{20 + plot_h}" stroke="#888"/>',
        f'<text x="{left - 6}" y="28" text-anchor="end">{top:.0%}</text>',
        f'<text x="{left - 6}" y="{20 + plot_h // 2 + 4}" text-anchor="end">{top / 2:.0%}</text>',
        f'<text x="{left - 6}" y="{20 + plot_h}" text-anchor="end">0%</text>',
    ]
    for t in range(TICKS + 1):  # x ticks every (hi - lo) / TICKS
        x = left + plot_w * t / TICKS
        parts.append(
            f'<line x1="{x:.1f}" y1="{20 + plot_h}" x2="{x:.1f}" y2="{24 + plot_h}" stroke="#888"/>'
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{lo + (hi - lo) * t / TICKS:.4g}</text>'
        )
    bar_w = plot_w / bins / len(shares)
    others = iter(p for p in PALETTE if p not in STATUS_COLORS.values())
    for k, (name, values) in enumerate(shares.items()):
        color = STATUS_COLORS.get(name) or next(others, PALETTE[k % len(PALETTE)])
        for i, share in enumerate(values):
            h = plot_h * share / top
            x = left + i * plot_w / bins + k * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{20 + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}"/>'
            )
        parts.append(
            f'<rect x="{left + 10 + k * 170}" y="4" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + 24 + k * 170}" y="13">{_esc(name)} (n={len(series[name]):,})</text>'
        )
    return _figure(title, width, height, "".join(parts))


TICKS = 10  # histogram x-axis labels


def interval_chart(title: str, rows: list[tuple[str, float, float, float]]) -> str:
    """Point estimates with intervals on [0, 1]: (label, estimate, low, high)."""
    if not rows:
        return ""
    width, label_w, row_h = 720, 230, 22
    plot_w = width - label_w - 80
    height = row_h * len(rows) + 30
    parts = [
        f'<text x="{label_w}" y="{height - 6}">0%</text>',
        f'<text x="{label_w + plot_w}" y="{height - 6}" text-anchor="end">100%</text>',
    ]
    for i, (label, est, low, high) in enumerate(rows):
        y = 5 + i * row_h + 11
        x = lambda v: label_w + plot_w * min(1.0, max(0.0, v))  # noqa: E731
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 4}" text-anchor="end">{_esc(label)}</text>'
            f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" stroke="{PALETTE[1]}" stroke-width="2"/>'
            f'<circle cx="{x(est):.1f}" cy="{y}" r="4" fill="{PALETTE[1]}"/>'
            f'<text x="{label_w + plot_w + 8}" y="{y + 4}">{est:.0%}</text>'
        )
    return _figure(title, width, height, "".join(parts))


def _figure(title: str, width: int, height: int, body: str) -> str:
    return (
        f"<figure><figcaption>{_esc(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="12" role="img" aria-label="{_esc(title)}">{body}</svg></figure>'
    )


def _columns(run_dir: Path, root: str, wanted: list[str]) -> dict[str, list]:
    path = run_dir / root
    if not path.exists() or not any(path.rglob("*.parquet")):
        return {}
    table = pq.read_table(path)
    return {c: table.column(c).to_pylist() for c in wanted if c in table.column_names}


def _interval(r: dict, suffix: str = "") -> str:
    share = r.get(f"share{suffix}")
    if share is None:
        return "-"
    return f"{share:.1%} [{r[f'share{suffix}_low']:.1%}, {r[f'share{suffix}_high']:.1%}]"


def estimate_table(title: str, key: str, records: list[dict]) -> str:
    """Each estimate with its target, n, reference and method: what the shares are measured against."""
    if not records:
        return ""
    head = (
        f"<tr><th>{_esc(key)}</th><th>target</th><th>n scored</th><th>AI share (95%)</th>"
        "<th>n passing quality rules</th><th>AI share (95%)</th><th>human reference</th><th>reference n</th>"
        "<th>method</th></tr>"
    )
    body = "".join(
        f"<tr><td>{_esc(r.get(key))}</td><td>{_esc(r.get('target'))}</td><td>{r.get('n_target', 0):,}</td>"
        f"<td>{_interval(r)}</td><td>{r.get('n_target_quality', 0):,}</td><td>{_interval(r, '_quality')}</td>"
        f"<td>{_esc(r.get('reference'))}</td><td>{int(r.get('reference_n') or 0):,}</td>"
        f"<td>{_esc(r.get('method'))}</td></tr>"
        for r in records
    )
    return f"<figure><figcaption>{_esc(title)}</figcaption><table>{head}{body}</table></figure>"


def synthetic_sections(stats: dict, run_dir: Path) -> list[str]:
    """The estimated AI share per cohort, per crawl and the highest per domain (domains with an estimate of
    their own: enough scored documents), each against its human reference."""
    sections = []
    for section, column, name in (
        ("synthetic_by_cohort", "cohort", "cohort"),
        ("synthetic_by_crawl", "crawl", "crawl"),
    ):
        records = [{column: key, **r} for key, r in sorted(stats.get(section, {}).items())]
        rows = [
            (f"{r[column]} (n={r['n_target']:,})", r["share"], r["share_low"], r["share_high"])
            for r in records
            if r.get("share") is not None
        ]
        sections.append(interval_chart(f"Estimated AI share, by {name} (95% interval)", rows))
        sections.append(estimate_table(f"AI share by {name}: n, human reference and method", column, records))
    # a run's file, or a backfill's merge of its batches' (the batches' own where there is no merge)
    merged = run_dir / SYNTHETIC_BY_DOMAIN
    files = [merged] if merged.exists() else sorted(run_dir.glob(SYNTHETIC_BY_DOMAIN_FILES))
    if files:
        table = [r for f in files for r in pq.read_table(f).to_pylist() if r.get("share") is not None]
        table.sort(key=lambda r: (-r["share"], -r["n_target"]))
        top = table[:20]
        rows = [
            (f"{r['domain']} (n={r['n_target']:,})", r["share"], r["share_low"], r["share_high"]) for r in top
        ]
        sections.append(
            interval_chart("Highest estimated AI share, by domain with its own estimate (95% interval)", rows)
        )
        sections.append(
            estimate_table("AI share by domain (highest): n, human reference and method", "domain", top)
        )
    return sections


def build_report(run_dir: str | Path) -> str:
    """The run's report: counts, score histograms, duplicate clusters, AI-share estimates, stage timings."""
    run_dir = Path(run_dir)
    stats = json.loads((run_dir / STATS).read_text())
    wanted = [
        "lang",
        "lang_score",
        "quality_score",
        "synthetic_score",
        "dup_cluster_size",
        "cohort",
        "status",
    ]
    kept = _columns(run_dir, CURATED, wanted)
    rejected = _columns(run_dir, REJECTED, wanted)
    sections = [
        *count_sections(stats),
        *score_sections(kept, rejected),
        cluster_section(kept, rejected),
        *synthetic_sections(stats, run_dir),
    ]
    timings = stats.get("stage_seconds", {})
    if timings:
        sections.append(
            bar_chart("Wall time per stage (summed over workers)", _top(timings), PALETTE[5], " s")
        )
    return page(run_dir, stats, "\n".join(s for s in sections if s))


def count_sections(stats: dict) -> list[str]:
    """The funnel (read -> extracted -> kept / rejected / failed) and the counts behind it."""
    warc = stats.get("input_format") == "warc"
    funnel = [("WARC records read", stats.get("records_read_total", 0))] if warc else []
    funnel += [
        (
            "HTML responses" if warc else "documents read",
            stats.get("html_responses", stats["documents_read"]),
        ),
        ("extracted", stats.get("extracted", 0)),
        ("kept", stats["kept"]),
        ("rejected", stats["rejected"]),
        ("failed", stats["failed"]),
    ]
    return [
        bar_chart("Funnel", funnel, colors=STATUS_COLORS),
        bar_chart(
            "Rejected, by first failed rule",
            _top(stats.get("rejected_by_reason", {})),
            STATUS_COLORS["rejected"],
        ),
        bar_chart("Failed, by kind", _top(stats.get("failed_by_reason", {})), STATUS_COLORS["failed"]),
        bar_chart("Records read, by WARC type", _top(stats.get("records_read", {})), PALETTE[2]),
        bar_chart(
            "Kept documents by language", _top(stats.get("kept_by_lang", {}), 15), STATUS_COLORS["kept"]
        ),
    ]


def score_sections(kept: dict, rejected: dict) -> list[str]:
    """Histograms of the language-ID, quality and synthetic scores, kept vs rejected (synthetic: by cohort too)."""
    sections = []
    for column, title in (
        ("lang_score", "Language-ID score (lid.176)"),
        ("quality_score", "Quality score"),
        ("synthetic_score", "Synthetic score"),
    ):
        if column not in kept and column not in rejected:
            continue
        series = {"kept": kept.get(column, []), "rejected": rejected.get(column, [])}
        sections.append(histogram(f"{title}: kept vs rejected", series))
        cohorts = kept.get("cohort", []) + rejected.get("cohort", [])
        if column == "synthetic_score" and any(cohorts):
            values = kept.get(column, []) + rejected.get(column, [])
            by_cohort: dict[str, list[float]] = {}
            for cohort, value in zip(cohorts, values, strict=True):
                by_cohort.setdefault(cohort or "unknown", []).append(value)
            sections.append(histogram(f"{title} by cohort", by_cohort))
    return sections


def cluster_section(kept: dict, rejected: dict) -> str | None:
    """Documents by the size of their duplicate cluster (None when no row has one)."""
    sizes = [s for s in kept.get("dup_cluster_size", []) + rejected.get("dup_cluster_size", []) if s]
    if not sizes:
        return None
    buckets = Counter(_size_bucket(s) for s in sizes)
    order = ["1", "2", "3-5", "6-10", "11-100", "101+"]
    return bar_chart(
        "Documents by duplicate-cluster size", [(b, buckets[b]) for b in order if buckets[b]], PALETTE[4]
    )


def page(run_dir: Path, stats: dict, body: str) -> str:
    """The self-contained HTML page around the sections."""
    identity = "holds" if stats.get("accounting_ok") else "BROKEN"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pristine run report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 2em;color:#222}}
svg{{width:100%;height:auto}}
figure{{margin:1.5em 0}}figcaption{{font-weight:bold;margin-bottom:.4em}}
table{{border-collapse:collapse}}td{{padding:2px 10px;border-bottom:1px solid #ddd}}</style></head>
<body><h1>pristine run report</h1>
<p>{_esc(run_dir)}</p>
<table><tr><td>kept</td><td>{stats["kept"]:,}</td></tr><tr><td>rejected</td><td>{stats["rejected"]:,}</td></tr>
<tr><td>failed</td><td>{stats["failed"]:,}</td></tr>
<tr><td>unreadable input (failed rows)</td><td>{stats.get("unreadable_total", 0):,}</td></tr>
<tr><td>accounting (in = kept + rejected + failed)</td><td>{identity}</td></tr></table>
{_unreadable_list(stats)}
{body}
</body></html>
"""


def _unreadable_list(stats: dict) -> str:
    """Every unreadable file or record stats.json lists: file, offset, reason, detail."""
    items = stats.get("unreadable_inputs") or []
    if not items:
        return ""
    rows = "".join(
        f"<tr><td>{_esc(u['file'])}</td><td>{u['offset']}</td><td>{_esc(u['reason'])}</td>"
        f"<td>{_esc(u['detail'] or '')}</td></tr>"
        for u in items
    )
    more = stats.get("unreadable_total", len(items)) - len(items)
    tail = f"<p>... {more:,} more: the failed/ rows</p>" if more > 0 else ""
    return (
        "<figure><figcaption>Unreadable input (each is a failed row)</figcaption><table>"
        f"<tr><td>file</td><td>offset</td><td>reason</td><td>detail</td></tr>{rows}</table>{tail}</figure>"
    )


def _top(counts: dict, n: int = 25) -> list[tuple[str, float]]:
    return sorted(counts.items(), key=lambda kv: -kv[1])[:n]


def _size_bucket(size: int) -> str:
    if size <= 2:
        return str(size)
    for upper, name in ((5, "3-5"), (10, "6-10"), (100, "11-100")):
        if size <= upper:
            return name
    return "101+"


def write_report(run_dir: str | Path) -> Path:
    path = Path(run_dir) / REPORT
    path.write_text(build_report(run_dir), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: pristine report RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    if not (run_dir / STATS).exists():
        print(
            f"pristine report: error: {run_dir} is not a pristine run directory (no stats.json)",
            file=sys.stderr,
        )
        return 2
    print(f"report: {write_report(run_dir)}")
    return 0
