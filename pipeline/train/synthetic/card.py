"""The metrics section of the synthetic-text model card (SYNTHETIC_MODEL_CARD.md), from synthetic_metrics.json."""

from __future__ import annotations

from pathlib import Path

CARD_START = "<!-- metrics:start (written by pipeline/train/synthetic) -->"
CARD_END = "<!-- metrics:end -->"


def _f(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def metrics_markdown(m: dict) -> str:
    """The model card's metrics section."""
    r = m["results"]
    lines = _intro(m) + _web_tables(r) + _ai_table(r) + _combiner_table(m)
    return "\n".join(lines)


def _intro(m: dict) -> list[str]:
    """Data, inputs, threshold, and the FPR on held-out human web text per source."""
    r = m["results"]
    th = r["threshold"]
    d = m["data"]
    lines = [
        f"Trained {m['trained']} with seed {m['seed']} from `{d['l2r_file']}` (sha256 `{d['l2r_sha256'][:16]}...`) "
        f"and the pipeline's extraction of the shared pre-LLM web pages (`pipeline/train/web_text.py`). Documents "
        f"(train / calibration / test): L2R {d['l2r']['train']} / {d['l2r']['cal']} / {d['l2r']['test']}; "
        f"web {d['web']['train']} / {d['web']['cal']} / {d['web']['test']}. Combiner inputs: "
        + ", ".join(f"`{i}`" for i in m["inputs"])
        + f". Flag threshold **{th:.3f}** (FPR {_pct(r['web_cal_fpr']['fpr'])} on the {r['web_cal_fpr']['n']} "
        "calibration web pages).",
        "",
        "Held-out human web text (test split, English, pre-LLM, scored), flagged at the threshold:",
        "",
        "| source | scored pages | flagged | FPR |",
        "|---|---|---|---|",
    ]
    for src, b in r["web_test_fpr"].items():
        lines.append(f"| {src} | {b['n']} | {b['flagged']} | {_pct(b['fpr'])} |")
    return lines


def _web_tables(r: dict) -> list[str]:
    """Leave-one-web-source-out and the abstain shares per source."""
    lines = []
    if r.get("leave_one_web_source_out"):
        lines += [
            "",
            "Leave-one-web-source-out (the source's pages in no split of training or calibration; all of its "
            "English pre-LLM scored pages tested, at that model's own threshold):",
            "",
            "| source held out | pages | flagged | FPR | threshold |",
            "|---|---|---|---|---|",
        ]
        for src, b in r["leave_one_web_source_out"].items():
            lines.append(f"| {src} | {b['n']} | {b['flagged']} | {_pct(b['fpr'])} | {b['threshold']:.3f} |")
    lines += [
        "",
        "Abstained (no score) by the rule, share of pages per source (all extracted pages / English pre-LLM):",
        "",
        "| source | pages | abstained | not_english | too_short | not_prose | English pre-LLM pages | abstained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for src, b in r["abstain"].items():
        a, e = b["all_pages"], b["english_pre_llm"]
        lines.append(
            f"| {src} | {a['n']} | {_pct(a['abstained'])} | {_pct(a['not_english'])} | {_pct(a['too_short'])} | "
            f"{_pct(a['not_prose'])} | {e['n']} | {_pct(e['abstained'])} |"
        )
    return lines


def _ai_table(r: dict) -> list[str]:
    """AI text against human text: held-out pairs, per generator, leave-one-generator-out, domains out."""
    lines = [
        "",
        "AI text (L2R rewrites) against human text, test split, scored documents:",
        "",
        "| evaluation | n | abstained | AUROC | TPR @ 1% FPR | ECE, classes balanced | TPR / FPR at the threshold |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(name, b, abstained="-"):
        return (
            f"| {name} | {b['n']} | {abstained} | {_f(b['auroc'])} | {_f(b['tpr_at_1pct_fpr'])} | "
            f"{_f(b.get('ece_balanced'))} | {_f(b.get('tpr'), 2)} / {_f(b.get('fpr'), 2)} |"
        )

    lines.append(row("held-out L2R pairs", r["l2r_test"], _pct(r["l2r_test"]["abstained"])))
    lines.append(
        row(
            "held-out L2R, embedded in page boilerplate",
            r["l2r_wrapped_test"],
            _pct(r["l2r_wrapped_test"]["abstained"]),
        )
    )
    lines.append(row("held-out web pages (human) vs embedded L2R AI", r["web_vs_ai"]))
    for g, b in r["l2r_test"]["by_generator"].items():
        lines.append(row(f"held-out L2R pairs: {g}", b))
    if r.get("leave_one_generator_out"):
        for g, b in r["leave_one_generator_out"].items():
            lines.append(row(f"leave-one-generator-out: {g}", b))
        lines.append(
            f"| leave-domains-out (4 of 20 at a time), pooled | {r['leave_domains_out_pooled']['n']} | - | "
            f"{_f(r['leave_domains_out_pooled']['auroc'])} | {_f(r['leave_domains_out_pooled']['tpr_at_1pct_fpr'])} | "
            f"{_f(r['leave_domains_out_pooled']['ece_balanced'])} | - |"
        )
        worst = min(r["leave_domains_out"].items(), key=lambda kv: kv[1]["auroc"])
        lines.append(f"\nLeave-domains-out worst fold: {worst[0]} (AUROC {_f(worst[1]['auroc'])}).")
        lines.append(
            "Leave-one-generator-out against the held-out web pages (AUROC / web FPR at that model's threshold): "
            + "; ".join(
                f"{g} {_f(b['web_vs_ai_auroc'])} / {_pct(b['web_fpr'])}"
                for g, b in r["leave_one_generator_out"].items()
            )
            + "."
        )
    return lines


def _combiner_table(m: dict) -> list[str]:
    """The operating point, the combiner inputs' coefficients and ablation, the model size."""
    r = m["results"]
    th = r["threshold"]
    op = m["operating_point"]
    lines = [
        "",
        f"Operating point for population estimates (`synthetic.json`): threshold {th:.3f}, TPR "
        f"{_f(op['out_of_domain']['tpr'])} (n={op['out_of_domain']['n_pos']}, AI text of generators held out of "
        f"training), FPR {_f(op['out_of_domain']['fpr'])} (n={op['out_of_domain']['n_neg']}, human web pages of "
        "sources held out of training, pooled).",
        "",
        "Combiner inputs: standardised coefficient and the AUROC lost when the input is dropped (combiner, "
        "calibrator and threshold refitted without it):",
        "",
        "| input | coefficient | dAUROC held-out L2R | dAUROC web vs AI | dAUROC leave-one-generator-out (mean) |",
        "|---|---|---|---|---|",
    ]
    lines.append(f"| `fasttext_margin` | {m['coef'][0]:+.3f} | - | - | - |")
    for name, b in r["ablation"].items():
        lines.append(
            f"| `{name}` | {b['coef']:+.3f} | {_f(b['dauroc_l2r'], 4)} | {_f(b['dauroc_web_vs_ai'], 4)} | "
            f"{_f(b['dauroc_logo_mean'], 4)} |"
        )
    size = m["model_size_bytes"]
    files = ", ".join(f"`{k}` {v / 1e3:,.0f} KB" for k, v in size.items() if k != "total")
    lines += [
        "",
        f"Model size: {size['total'] / 1e6:.2f} MB ({files}). Training took {m['training_seconds']:.0f} s. "
        "Scoring speed: `make bench` (`python -m bench.synthetic_bench`).",
    ]
    return lines


def write_card(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{CARD_START}\n{CARD_END}\n"
    if CARD_START not in text or CARD_END not in text:
        text = text.rstrip("\n") + f"\n\n## Metrics\n\n{CARD_START}\n{CARD_END}\n"
    head, rest = text.split(CARD_START, 1)
    _, tail = rest.split(CARD_END, 1)
    path.write_text(f"{head}{CARD_START}\n{section}\n{CARD_END}{tail}", encoding="utf-8")
