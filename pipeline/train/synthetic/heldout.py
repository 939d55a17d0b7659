"""Held-out measurements of the synthetic-text model, made while training it: the test split per source,
leave-one-generator-out, leave-one-web-source-out, leave-domains-out (each a full retraining) and the
drop-one ablation of each combiner input. They set the shipped operating point and score histograms
(`synthetic.json`) and fill synthetic_metrics.json and the model card."""

from __future__ import annotations

import sys
import time

import numpy as np

from pipeline.train.synthetic.data import GENERATORS, WEB_SOURCES, Docs, Settings
from pipeline.train.synthetic.fitting import fit, fit_head, inputs_of, score_docs
from transforms import synthetic as syn

#: L2R's 20 domains are held out 4 at a time (5 retrainings) for the leave-domains-out evaluation
DOMAIN_FOLDS = 5


def _m(y, s, threshold) -> dict:
    return syn.binary_metrics(y, s, threshold)


def fpr_block(s: np.ndarray, threshold: float) -> dict:
    return {
        "n": int(len(s)),
        "flagged": int((s >= threshold).sum()),
        "fpr": float((s >= threshold).mean()) if len(s) else None,
    }


class Run:
    """One fit and its scores on a set of held-out documents."""

    def __init__(self, name, docs, train, cal, test, settings, seed, quantize=False):
        t0 = time.time()
        self.name = name
        self.settings = settings
        self.fitted = fit(docs, train, cal, settings, seed, quantize)
        test = np.asarray(test)
        self.test = test[docs.scored[test]]
        self.x = inputs_of(docs, self.fitted, self.test)
        self.s = score_docs(self.fitted, self.x)
        self.threshold = self.fitted.threshold
        self.seconds = time.time() - t0
        print(
            f"  {name}: {len(self.test)} scored test documents, {self.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    def subset(self, docs: Docs, **conds):
        m = docs.where(**conds)[self.test]
        return docs.y[self.test][m], self.s[m]

    def ablation_scores(self, docs: Docs, name: str) -> np.ndarray:
        f = self.fitted
        inputs = tuple(i for i in f.inputs if i != name)
        head = fit_head(docs, f.train_idx, f.train_x, f.cal_idx, f.cal_x, inputs, self.settings)
        return score_docs(f, self.x, head, inputs)


def abstain_shares(web_all: list[dict]) -> dict:
    """Share of documents left unscored by the abstain rule, per source and reason (model-independent):
    over all extracted pages, and over the English pre-LLM ones."""
    out = {}
    for source in WEB_SOURCES:
        rs = [r for r in web_all if r["source"] == source]
        reasons = []
        for r in rs:
            t = syn.normalize_for_detection(r["text"])
            n_words, prose_words, _ = syn.prose_lines(t)
            reasons.append((r, syn.abstain_reason(r.get("lang"), n_words, prose_words)))
        en = [x for x in reasons if x[0].get("lang") == "en" and x[0]["pre_llm"]]

        def shares(items):
            n = len(items)
            counts = {k: sum(1 for _, why in items if why == k) for k in syn.ABSTAIN_REASONS}
            return {
                "n": n,
                "abstained": sum(counts.values()) / n if n else None,
                **{k: v / n if n else None for k, v in counts.items()},
            }

        out[source] = {"all_pages": shares(reasons), "english_pre_llm": shares(en)}
    return out


def evaluate(docs: Docs, web_all: list[dict], settings: Settings, seed: int, ood: bool) -> tuple[Run, dict]:
    """The shipped model (trained on the train split, calibrated on cal) and every held-out measurement;
    `ood`: also the held-out retrainings."""
    train, cal, test = (np.flatnonzero(docs.split == s) for s in ("train", "cal", "test"))
    main = Run("shipped model", docs, train, cal, test, settings, seed, quantize=True)
    res = test_split(docs, main)
    res["abstain"] = abstain_shares(web_all)
    runs_logo: list[Run] = []
    if ood:
        res["leave_one_generator_out"], runs_logo = leave_one_generator_out(
            docs, train, cal, test, settings, seed
        )
        res["leave_one_web_source_out"] = leave_one_web_source_out(docs, train, cal, settings, seed)
        loso = res["leave_one_web_source_out"].values()
        n_flagged, n_pages = sum(b["flagged"] for b in loso), sum(b["n"] for b in loso)
        res["loso_pooled_fpr"] = {"fpr": n_flagged / n_pages, "n_neg": n_pages, "flagged": n_flagged}
        res["leave_domains_out"], res["leave_domains_out_pooled"] = leave_domains_out(
            docs, train, cal, settings, seed
        )
        # operating point for population estimates: TPR on AI text of generators each model never saw
        tp = np.concatenate([r.subset(docs, kind="l2r", y=1)[1] >= r.threshold for r in runs_logo])
        res["logo_pooled_tpr"] = {"tpr": float(tp.mean()), "n_pos": int(len(tp))}
    # drop-one ablation of every combiner input but the margin
    res["ablation"] = ablation(docs, main, runs_logo)
    return main, res


def test_split(docs: Docs, main: Run) -> dict:
    """The shipped model on the test split: L2R plain and wrapped (per generator), web FPR per source, web
    pages against wrapped AI text, FPR on the calibration web pages, and the score histograms."""
    th = main.threshold
    res: dict = {"threshold": th}
    y, s = main.subset(docs, kind="l2r")
    res["l2r_test"] = _m(y, s, th)
    res["l2r_test"]["by_generator"] = {
        g: _m(*main.subset(docs, kind="l2r", generator=[g, "human"]), th) for g in GENERATORS
    }
    res["l2r_wrapped_test"] = _m(*main.subset(docs, kind="wrapped"), th)
    res["l2r_test"]["abstained"] = float((~docs.scored[docs.where(kind="l2r", split="test")]).mean())
    res["l2r_wrapped_test"]["abstained"] = float(
        (~docs.scored[docs.where(kind="wrapped", split="test")]).mean()
    )
    web_test = {src: main.subset(docs, kind="web", source=src)[1] for src in WEB_SOURCES}
    res["web_test_fpr"] = {src: fpr_block(v, th) for src, v in web_test.items()}
    pooled_web = np.concatenate(list(web_test.values()))
    res["web_test_fpr"]["pooled"] = fpr_block(pooled_web, th)
    _, ai = main.subset(docs, kind="wrapped", y=1)
    res["web_vs_ai"] = _m(np.r_[np.zeros(len(pooled_web)), np.ones(len(ai))], np.r_[pooled_web, ai], th)
    cal_web = docs.where(kind="web")[main.fitted.cal_idx]
    res["web_cal_fpr"] = fpr_block(score_docs(main.fitted, main.fitted.cal_x)[cal_web], th)
    res["histograms"] = {
        "edges": syn.histogram([])[0],
        "human_web": syn.histogram(pooled_web)[1],
        "human_l2r": syn.histogram(main.subset(docs, kind="l2r", y=0)[1])[1],
        "ai": syn.histogram(main.subset(docs, kind="l2r", y=1)[1])[1],
    }
    return res


def leave_one_generator_out(
    docs: Docs, train, cal, test, settings: Settings, seed: int
) -> tuple[dict, list[Run]]:
    """One retraining per generator, without its texts: its test texts against the human ones."""
    out, runs = {}, []
    for g in GENERATORS:
        keep = docs.generator != g
        r = Run(
            f"without {g}",
            docs,
            train[keep[train]],
            cal[keep[cal]],
            test[np.isin(docs.generator[test], [g, "human"])],
            settings,
            seed,
        )
        y_l, s_l = r.subset(docs, kind="l2r")
        _, ai_g = r.subset(docs, kind="wrapped", y=1)
        web_g = r.subset(docs, kind="web")[1]
        out[g] = {
            **_m(y_l, s_l, r.threshold),
            "threshold": r.threshold,
            "web_vs_ai_auroc": syn.auroc(np.r_[np.zeros(len(web_g)), np.ones(len(ai_g))], np.r_[web_g, ai_g]),
            "web_fpr": fpr_block(web_g, r.threshold)["fpr"],
        }
        runs.append(r)
    return out, runs


def leave_one_web_source_out(docs: Docs, train, cal, settings: Settings, seed: int) -> dict:
    """One retraining per web source, without its pages in any split: FPR on all of them."""
    out = {}
    for src in WEB_SOURCES:
        keep = docs.source != src
        held = np.flatnonzero(docs.where(kind="web", source=src))  # never seen: every split is held out
        r = Run(f"without web source {src}", docs, train[keep[train]], cal[keep[cal]], held, settings, seed)
        out[src] = {**fpr_block(r.s, r.threshold), "threshold": r.threshold}
    return out


def leave_domains_out(docs: Docs, train, cal, settings: Settings, seed: int) -> tuple[dict, dict]:
    """DOMAIN_FOLDS retrainings, each without a fifth of L2R's domains: per fold and pooled."""
    domains = sorted(set(docs.domain[docs.kind != "web"]))
    out = {}
    pooled_y, pooled_s = [], []
    for k in range(DOMAIN_FOLDS):
        held_d = domains[k::DOMAIN_FOLDS]
        keep = ~np.isin(docs.domain, held_d)
        # every text of the held-out domains, once (the test split in its plain form)
        one_form = (docs.kind == "l2r") | ((docs.kind == "wrapped") & (docs.split != "test"))
        held = np.flatnonzero(~keep & one_form)
        r = Run(
            f"without {', '.join(held_d)}", docs, train[keep[train]], cal[keep[cal]], held, settings, seed
        )
        yy, ss = docs.y[r.test], r.s
        out[" + ".join(held_d)] = _m(yy, ss, r.threshold)
        pooled_y.append(yy)
        pooled_s.append(ss)
    return out, _m(np.concatenate(pooled_y), np.concatenate(pooled_s), None)


def _auroc_where(docs: Docs, run: Run, scores: np.ndarray, mask: np.ndarray) -> float | None:
    m = mask[run.test]
    return syn.auroc(docs.y[run.test][m], scores[m])


def ablation(docs: Docs, main: Run, runs_logo: list[Run]) -> dict:
    """AUROC lost when each combiner input but the margin is dropped (combiner and calibrator refitted)."""
    l2r = docs.where(kind="l2r")
    web_or_ai = docs.where(kind="web") | docs.where(kind="wrapped", y=1)
    out = {}
    for name in main.fitted.inputs[1:]:
        s_drop = main.ablation_scores(docs, name)
        logo_d = [
            _auroc_where(docs, r, r.s, l2r) - _auroc_where(docs, r, r.ablation_scores(docs, name), l2r)
            for r in runs_logo
        ]
        out[name] = {
            "coef": float(main.fitted.coef[list(main.fitted.inputs).index(name)]),
            "dauroc_l2r": _auroc_where(docs, main, main.s, l2r) - _auroc_where(docs, main, s_drop, l2r),
            "dauroc_web_vs_ai": _auroc_where(docs, main, main.s, web_or_ai)
            - _auroc_where(docs, main, s_drop, web_or_ai),
            "dauroc_logo_mean": float(np.mean(logo_d)) if logo_d else None,
        }
    return out
