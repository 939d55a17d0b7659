"""Evaluate the synthetic-text model on labelled text (`pristine evaluate synthetic`).

    python -m pipeline.evaluate.synthetic --input LABELLED.jsonl[.gz] [--json OUT.json] [--model DIR]

Input: JSON lines with `text` and `label` in {human, synthetic}; optional `domain`, `generator` (any
other string field can be named with --group-by). Prints, overall and per group: n, AUROC, TPR at 1% FPR,
ECE (plain and class-balanced: scores are calibrated for equal priors), TPR / FPR at the flag threshold,
and the population check: the true synthetic share next to the adjusted classify-and-count estimate the
pipeline would report for that set.

Texts are scored as English unless --lang-id is given (then lid.176 decides). Texts the model abstains
on (other languages, too short, not prose) are counted by reason and left out.

    python -m pipeline.evaluate.synthetic --web [--split test] [--model DIR]

measures the false-positive rate at the flag threshold on the held-out human web text (the pipeline's own
extraction of the shared pre-LLM web pages, ``pipeline.train.web_text``; English, fetched or published before
2022-11-30), per source, with the share of pages the scorer abstains on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

import numpy as np

from pipeline.train.synthetic.data import load_labelled
from transforms import synthetic as syn

# The metric functions live in transforms.synthetic (the training script and the tests use them too).
auroc = syn.auroc
tpr_at_fpr = syn.tpr_at_fpr
ece = syn.ece


def evaluate(
    labels: list[int],
    scores: list[float],
    groups: dict[str, list[str | None]] | None = None,
    threshold: float = syn.FLAG_THRESHOLD,
    tpr: float | None = None,
    fpr: float | None = None,
    min_group: int = 1,
) -> dict:
    """Metrics overall and per value of each grouping field ({field: value per text}).

    A group holding only synthetic texts (e.g. one generator) is measured against all human texts of the
    set (flagged ``against_all_human``), so it still has an AUROC and a TPR at 1% FPR.

    Each block also has the population check: true share, flag rate and the adjusted share with its
    interval (``adjusted_share`` with `tpr` / `fpr`, the shipped model's held-out rates by default).
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    tpr = syn.TPR if tpr is None else tpr
    fpr = syn.FPR if fpr is None else fpr

    def block(m: np.ndarray) -> dict:
        out = syn.binary_metrics(y[m], s[m], threshold)
        out["true_share"] = float(y[m].mean())
        flagged = int((s[m] >= threshold).sum())
        out["flag_rate"] = flagged / int(m.sum())
        if tpr is not None and fpr is not None and tpr > fpr:
            share, low, high = syn.adjusted_share(flagged, int(m.sum()), tpr, fpr)
            out.update(estimated_share=share, estimated_share_low=low, estimated_share_high=high)
        return out

    result = {
        "threshold": threshold,
        "tpr_used": tpr,
        "fpr_used": fpr,
        "overall": block(np.ones(len(y), bool)),
    }
    for field, values in (groups or {}).items():
        values = np.array(["(none)" if v is None else str(v) for v in values])
        result[field] = {}
        for v in sorted(set(values)):
            m = values == v
            if m.sum() < min_group:
                continue
            if y[m].all() and (~y).any():
                # a group of synthetic texts only (a generator): ranked against every human text of the set
                result[field][v] = {**block(m | ~y), "against_all_human": True}
            else:
                result[field][v] = block(m)
    return result


def web_fpr(scorer: syn.SyntheticScorer, records: list[dict], threshold: float | None = None) -> dict:
    """Per source (and pooled): pages, abstained share, scored pages, flagged and FPR at `threshold` (the
    model's by default) over `records` of human web text (``pipeline.train.web_text`` records)."""
    threshold = scorer.threshold if threshold is None else threshold
    out = {}
    sources = sorted({r["source"] for r in records})
    all_scores = []
    for source in [*sources, "pooled"]:
        rs = records if source == "pooled" else [r for r in records if r["source"] == source]
        if source == "pooled":
            scores = all_scores
        else:
            scores = scorer.score_batch([r["text"] for r in rs], [r.get("lang") for r in rs])
            all_scores = all_scores + scores
        scored = [s for s in scores if s is not None]
        flagged = sum(s >= threshold for s in scored)
        out[source] = {
            "pages": len(rs),
            "abstained": (len(rs) - len(scored)) / len(rs) if rs else None,
            "scored": len(scored),
            "flagged": int(flagged),
            "fpr": flagged / len(scored) if scored else None,
        }
    return {"threshold": threshold, "by_source": out}


def main_web(args) -> int:
    from pipeline.train.web_text import load_web_text

    scorer = syn.SyntheticScorer.load(args.model)
    records = [
        r
        for r in load_web_text()
        if r.get("lang") == "en" and r["pre_llm"] and (args.split == "all" or r["split"] == args.split)
    ]
    result = web_fpr(scorer, records, args.threshold)
    print(f"human pre-LLM English web text, split {args.split}, flag threshold {result['threshold']:.3f}")
    print(f"{'source':<20} {'pages':>6} {'abstained':>10} {'scored':>7} {'flagged':>8} {'FPR':>7}")
    for source, b in result["by_source"].items():
        print(
            f"{source:<20} {b['pages']:>6} {100 * (b['abstained'] or 0):>9.1f}% {b['scored']:>7} "
            f"{b['flagged']:>8} {_f(b['fpr'] and 100 * b['fpr'], 1):>6}%"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0


def _f(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def format_table(result: dict) -> str:
    header = (
        f"{'group':<40} {'n':>6} {'human':>6} {'synth':>6} {'AUROC':>6} {'TPR@1%':>7} {'ECE':>6} {'ECEbal':>6} "
        f"{'TPR':>5} {'FPR':>5} {'share':>6} {'estimated [95% CI]':>20}"
    )
    lines = [header, "-" * len(header)]

    def line(name: str, r: dict) -> str:
        est = (
            f"{_f(r.get('estimated_share'), 2)} [{_f(r.get('estimated_share_low'), 2)}, "
            f"{_f(r.get('estimated_share_high'), 2)}]"
            if "estimated_share" in r
            else "-"
        )
        return (
            f"{name[:40]:<40} {r['n']:>6} {r['n_human']:>6} {r['n_synthetic']:>6} {_f(r['auroc']):>6} "
            f"{_f(r['tpr_at_1pct_fpr']):>7} {_f(r['ece']):>6} {_f(r['ece_balanced']):>6} {_f(r['tpr'], 2):>5} "
            f"{_f(r['fpr'], 2):>5} {_f(r['true_share'], 2):>6} {est:>20}"
        )

    lines.append(line("overall", result["overall"]))
    for field, blocks in result.items():
        if field in (
            "overall",
            "threshold",
            "tpr_used",
            "fpr_used",
            "skipped",
            "abstained",
            "model",
            "seconds",
        ):
            continue
        for value, r in blocks.items():
            lines.append(
                line(f"{field}={value}" + (" (+ all human)" if r.get("against_all_human") else ""), r)
            )
    lines.append(
        f"(flag threshold {result['threshold']}; estimate = (flag rate - FPR) / (TPR - FPR) with held-out "
        f"TPR {_f(result['tpr_used'])}, FPR {_f(result['fpr_used'])}; ECEbal weighs both classes equally)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pristine evaluate synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("--input", help="JSON lines (.gz ok): text, label in {human, synthetic}")
    p.add_argument("--web", action="store_true", help="FPR on the shared human web text instead of --input")
    p.add_argument("--split", default="test", choices=("train", "cal", "test", "all"), help="with --web")
    p.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    p.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    p.add_argument(
        "--group-by",
        default=None,
        help="comma-separated fields to break down by (default: domain and generator, where present)",
    )
    p.add_argument("--threshold", type=float, default=None, help="flag threshold (default: the model's)")
    p.add_argument("--lang-id", action="store_true", help="identify languages; score English texts only")
    p.add_argument("--min-group", type=int, default=1, help="leave out groups with fewer texts")
    args = p.parse_args(argv)
    if args.web:
        return main_web(args)
    if not args.input:
        print("error: give --input LABELLED.jsonl or --web", file=sys.stderr)
        return 2
    try:
        rows = load_labelled(args.input)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"error: {args.input} holds no labelled text", file=sys.stderr)
        return 2
    scorer = syn.SyntheticScorer.load(args.model)
    texts = [r["text"] for r in rows]
    langs = None
    if args.lang_id:
        from transforms.signals import langid

        langs = [lang for lang, _ in langid.identify(langid.load_model(), texts)]
    t0 = time.perf_counter()
    langs = langs if langs is not None else [None] * len(texts)
    outcomes = [scorer.score_one(t, lang) for t, lang in zip(texts, langs, strict=True)]
    seconds = time.perf_counter() - t0
    scores = [score for score, _, _ in outcomes]
    abstained = Counter(reason for _, reason, _ in outcomes if reason)
    keep = [i for i, s in enumerate(scores) if s is not None]
    fields = (
        [f.strip() for f in args.group_by.split(",") if f.strip()]
        if args.group_by
        else [f for f in ("domain", "generator") if any(r.get(f) is not None for r in rows)]
    )
    op = scorer.params.get("operating_point", {})
    threshold = args.threshold if args.threshold is not None else op.get("threshold", syn.FLAG_THRESHOLD)
    ood = op.get("out_of_domain", {})
    result = evaluate(
        [int(rows[i]["label"] == "synthetic") for i in keep],
        [scores[i] for i in keep],
        {f: [rows[i].get(f) for i in keep] for f in fields},
        threshold=threshold,
        tpr=ood.get("tpr"),
        fpr=ood.get("fpr"),
        min_group=args.min_group,
    )
    result["skipped"] = len(rows) - len(keep)
    result["abstained"] = dict(sorted(abstained.items()))
    result["model"] = str(scorer.directory)
    result["seconds"] = round(seconds, 2)
    print(format_table(result))
    print(
        f"{len(rows)} texts, {result['skipped']} not scored {result['abstained']}; "
        f"{len(rows) / max(seconds, 1e-9):.0f} texts/s",
        file=sys.stderr,
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
