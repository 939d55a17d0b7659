"""Train the synthetic-text model shipped in transforms/models (`make models`, `pristine train synthetic`).

    python -m pipeline.train.synthetic [--data L2R.jsonl.gz] [--output transforms/models] [--seed 0]

Data, all from ``../shared/data``:

- AI and human passages: L2R (``synthetic-text-l2r/l2r.jsonl.gz``, CC BY 3.0: human passages and their
  LLM rewrites by four generators, 20 domains), split by ``pair_id`` (a passage and its rewrites stay
  together): 70% train, 15% calibration, 15% test; unpaired rewrites only train.
- Human web text: the shared pre-LLM web pages as ``pristine run`` extracts them (``pipeline.train.web_text``:
  web-pages-pre2022, the AEB pages, the WARC samples fetched before 2022-11-30; English by lid.176), split
  60 / 20 / 20 by page.
- Page boilerplate around L2R passages: every L2R text is also embedded between real first / last lines
  of extracted web pages of its split (``wrap``), so that both classes carry web leftovers and "looks like
  a web page" is not a label cue. Training and calibration use the wrapped form for half of the texts.

The model (see transforms/synthetic/): every document is normalised, reduced to its prose lines (the
abstain rule leaves documents without enough prose unscored) and read through an evenly spread sample of
at most SAMPLE_CHARS characters of prose:

1. fastText bigram classifier on that sample (human lines repeated to balance the classes; thread=1 + seed:
   deterministic), quantised; scored by its raw margin.
2. A logistic-regression combiner of [fastText margin, a few style features] (``Settings.inputs``), fitted
   on *out-of-fold* margins (2 folds by page / pair, each fold's model also trained without one generator),
   so it learns how far to trust fastText on text it has not seen.
3. Isotonic calibration on the calibration split, the AI class weighing as much as the human class, and
   within the human class L2R passages and web pages weighing half each ("equal priors").
4. The flag threshold: the lowest score whose false-positive rate on the calibration split of the human
   web text is at most ``Settings.target_fpr``.

Measured on held-out data: the test split (L2R plain and wrapped in boilerplate, web text per source),
leave-one-generator-out, leave-one-web-source-out and leave-domains-out (each a full retraining), and the
drop-one ablation of each combiner input. Writes synthetic.ftz, synthetic.json (parameters, operating point,
score histograms), synthetic_metrics.json and the metrics section of SYNTHETIC_MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.train.synthetic.card import metrics_markdown, write_card
from pipeline.train.synthetic.data import Docs, Settings, build_docs, load_labelled, split_of
from pipeline.train.synthetic.fitting import Fitted, fit, inputs_of, score_docs
from pipeline.train.synthetic.heldout import Run, evaluate
from transforms import synthetic as syn

REPO = Path(__file__).resolve().parents[3]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "synthetic-text-l2r" / "l2r.jsonl.gz"
DEFAULT_OUTPUT = REPO / "transforms" / syn.MODEL_DIR

__all__ = ["Settings", "build_docs", "fit", "inputs_of", "load_labelled", "main", "score_docs", "split_of"]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="pristine train synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="labelled JSON lines (L2R layout)")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT), help="model directory (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--ood",
        choices=("full", "none"),
        default="full",
        help="held-out retrainings: leave-one-generator-out, -web-source-out, domains-out (full), or skip",
    )
    p.add_argument("--limit", type=int, default=None, help="use only the first N pairs (quick runs, tests)")
    p.add_argument("--epoch", type=int, default=Settings.epoch)
    p.add_argument(
        "--inputs", default=None, help="comma-separated combiner inputs (default: Settings.inputs)"
    )
    p.add_argument("--no-card", action="store_true", help="do not rewrite the model card's metrics")
    p.add_argument(
        "--card-only",
        action="store_true",
        help="only rewrite the model card's metrics from --output's synthetic_metrics.json (no training)",
    )
    return p.parse_args(argv)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_data(args) -> tuple[list[dict], list[dict], list[dict]]:
    """(L2R rows, English pre-LLM web records, every web record)."""
    from pipeline.train.web_text import load_web_text

    rows = load_labelled(args.data)
    if args.limit:
        keep_pairs = set(sorted({r["pair_id"] for r in rows if r.get("pair_id")})[: args.limit])
        rows = [r for r in rows if r.get("pair_id") in keep_pairs]
    web_all = load_web_text()
    web = [r for r in web_all if r.get("lang") == "en" and r["pre_llm"]]
    return rows, web, web_all


def write_model(out_dir: Path, fitted: Fitted, settings: Settings, results: dict, args, rows) -> dict:
    params = fitted.params(settings)
    lp = results.get("logo_pooled_tpr") or {}
    lf = results.get("loso_pooled_fpr") or {
        "fpr": results["web_test_fpr"]["pooled"]["fpr"],
        "n_neg": results["web_test_fpr"]["pooled"]["n"],
    }
    in_dom = results["l2r_test"]
    params["operating_point"] = {
        "threshold": fitted.threshold,
        "target_fpr": settings.target_fpr,
        "in_domain": {
            "tpr": in_dom["tpr"],
            "fpr": in_dom["fpr"],
            "n_pos": in_dom["n_synthetic"],
            "n_neg": in_dom["n_human"],
        },
        "out_of_domain": {
            "tpr": lp.get("tpr", in_dom["tpr"]),
            "fpr": lf["fpr"],
            "n_pos": lp.get("n_pos", in_dom["n_synthetic"]),
            "n_neg": lf["n_neg"],
            "measured_on": "TPR: L2R AI test texts, each scored by a model trained without its generator; FPR: "
            "pre-LLM English web pages as pristine run extracts them, each source scored by a model trained "
            "and calibrated without it (leave-one-web-source-out, pooled)",
        },
    }
    params["histograms"] = results["histograms"]
    params["training"] = {
        "data": os.path.basename(args.data),
        "data_sha256": _sha256(args.data),
        "web_text": "pipeline/train/web_text.py (shared web-pages-pre2022, AEB, warc-samples before 2022-11-30)",
        "seed": args.seed,
        "licence": "L2R data: CC BY 3.0 (Hao et al., ACL 2025); see SYNTHETIC_MODEL_CARD.md",
    }
    params["version"] = 2
    fitted.ft.save_model(str(out_dir / syn.FASTTEXT_FILE))
    (out_dir / syn.PARAMS_FILE).write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    return params


def check_written_model(out_dir: Path, docs: Docs, main: Run) -> None:
    """The written model must score exactly as the training code did."""
    scorer = syn.SyntheticScorer.load(out_dir)
    idx = main.test[:300]
    check = np.array(scorer.score_batch([docs.texts[i] for i in idx]), dtype=float)
    if not np.allclose(check, main.s[:300], atol=1e-5):
        raise RuntimeError(
            f"shipped scorer disagrees with training: max diff {np.nanmax(np.abs(check - main.s[:300])):.2e}"
        )


def settings_of(args) -> Settings:
    settings = Settings(epoch=args.epoch)
    if args.inputs:
        settings = dataclasses.replace(
            settings,
            inputs=("fasttext_margin", *[i for i in args.inputs.split(",") if i and i != "fasttext_margin"]),
        )
    return settings


def metrics_of(
    docs: Docs, main_run: Run, results: dict, settings: Settings, args, out_dir: Path, t_start: float
):
    """synthetic_metrics.json: data, settings, coefficients, operating point, held-out results, size, time."""
    sizes = {f: (out_dir / f).stat().st_size for f in (syn.FASTTEXT_FILE, syn.PARAMS_FILE)}
    sizes["total"] = sum(sizes.values())

    def counts(kinds):
        m = np.isin(docs.kind, kinds)
        return {s: int((m & (docs.split == s)).sum()) for s in ("train", "cal", "test")}

    params = json.loads((out_dir / syn.PARAMS_FILE).read_text(encoding="utf-8"))
    return {
        "trained": time.strftime("%Y-%m-%d"),
        "seed": args.seed,
        "data": {
            "l2r_file": os.path.basename(args.data),
            "l2r_sha256": params["training"]["data_sha256"],
            "l2r": counts(["l2r", "wrapped"]),
            "web": counts(["web"]),
        },
        "settings": dataclasses.asdict(settings),
        "inputs": list(main_run.fitted.inputs),
        "coef": main_run.fitted.coef.tolist(),
        "operating_point": params["operating_point"],
        "results": results,
        "model_size_bytes": sizes,
        "training_seconds": round(time.time() - t_start, 1),
    }


def rewrite_card(out_dir: Path) -> str:
    """The model card's metrics section from out_dir's synthetic_metrics.json."""
    metrics = json.loads((out_dir / syn.METRICS_FILE).read_text(encoding="utf-8"))
    section = metrics_markdown(metrics)
    write_card(out_dir / syn.MODEL_CARD, section)
    return section


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.output)
    if args.card_only:
        rewrite_card(out_dir)
        return 0
    t_start = time.time()
    settings = settings_of(args)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, web, web_all = load_data(args)
    docs = build_docs(rows, web, args.seed, settings)
    print(
        f"{len(rows)} L2R texts, {len(web)} English pre-LLM web pages; {len(docs.y)} documents",
        file=sys.stderr,
    )
    main_run, results = evaluate(docs, web_all, settings, args.seed, args.ood == "full")
    write_model(out_dir, main_run.fitted, settings, results, args, rows)
    check_written_model(out_dir, docs, main_run)
    metrics = metrics_of(docs, main_run, results, settings, args, out_dir, t_start)
    (out_dir / syn.METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    section = metrics_markdown(metrics)
    if not args.no_card:
        write_card(out_dir / syn.MODEL_CARD, section)
    print(section)
    return 0
