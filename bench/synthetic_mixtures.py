"""Population estimate error: mixtures of held-out human web pages and AI texts at known AI shares.

    .venv/bin/python -m bench.synthetic_mixtures [--n 400] [--reps 50] [--bins N]

Human side: the English pre-LLM pages of ``pipeline.train.web_text`` (the shared web pages and WARC samples
through the pipeline's own extraction); AI side: the L2R AI rewrites (split by pair_id, seed 0). The model
trains on the train splits, calibrates on the calibration splits, and its score histograms are of the test
splits, so mixtures are drawn from the calibration splits. For each true share (0, 5, 20, 50%) it draws
`reps` mixtures of `n` documents (with replacement) and estimates the AI share as the pipeline does
(``mixture_estimate``) against two human references:

- ``shipped``: the model's human histogram (what a run without a reference uses);
- ``same-kind``: each draw splits the held-out pages (calibration and test splits) at random in halves: one
  is the reference pool (``pool_distribution``: what a run with a reference of the same kind of text uses,
  earlier snapshots or --synthetic-reference), the mixture's human pages come from the other.

Then the pre-LLM corpora, per source: the English pre-LLM pages (calibration split, and every split)
against the shipped histogram (target: an interval including 0). ``--bins N`` replaces the model's bins by
N equal-width bins whose human and AI histograms are those of the test splits. Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from pipeline.train.synthetic import Settings, load_labelled, split_of
from pipeline.train.web_text import load_web_text
from transforms import synthetic as syn
from transforms.synthetic import population as pop

L2R = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthetic-text-l2r" / "l2r.jsonl.gz"
SHARES = (0.0, 0.05, 0.2, 0.5)


def histogram(scores, bins: pop.ScoreBins) -> np.ndarray:
    return np.bincount([bins.bin(s) for s in scores], minlength=bins.n_bins)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="documents per mixture")
    parser.add_argument("--reps", type=int, default=50, help="mixtures per share")
    parser.add_argument("--bins", type=int, default=0, help="N equal-width bins from the test splits")
    args = parser.parse_args(argv)

    scorer = syn.shipped_scorer()

    def scored(texts):
        return [s for s in scorer.score_batch(texts) if s is not None and not np.isnan(s)]

    web = [r for r in load_web_text() if r.get("lang") == "en" and r.get("pre_llm")]
    l2r = [r for r in load_labelled(L2R) if r["label"] == "synthetic"]
    l2r_split = [split_of(r.get("pair_id"), 0, Settings.split) for r in l2r]
    human = {s: scored([r["text"] for r in web if r["split"] == s]) for s in ("cal", "test")}
    ai = {
        s: scored([r["text"] for r, sp in zip(l2r, l2r_split, strict=True) if sp == s])
        for s in ("cal", "test")
    }
    bins = pop.shipped_bins()
    if args.bins:
        edges = tuple(np.linspace(0, 1, args.bins + 1).tolist())
        probe = pop.ScoreBins(edges, (0,) * args.bins, (0,) * args.bins, "", "")
        bins = pop.ScoreBins(
            edges,
            tuple(histogram(human["test"], probe).tolist()),
            tuple(histogram(ai["test"], probe).tolist()),
            "web and L2R test splits",
            "bench",
        )
    print(
        f"bins: {bins.n_bins} ({bins.name}); human web pages cal {len(human['cal'])}, test {len(human['test'])}; "
        f"AI texts cal {len(ai['cal'])}; mixtures of {args.n}, {args.reps} per share"
    )
    shipped = pop.smoothed(bins.human), float(sum(bins.human))
    rng = np.random.default_rng(0)
    human_cal, ai_cal = np.array(human["cal"]), np.array(ai["cal"])
    held_out = np.concatenate([human["cal"], human["test"]])
    print(
        "| true share | reference | mean estimate | mean abs error | max abs error | 95% coverage | mean width |"
    )
    print("|---|---|---|---|---|---|---|")
    for share in SHARES:
        runs: dict[str, list] = {"shipped": [], "same-kind": []}
        for _ in range(args.reps):
            k = rng.binomial(args.n, share)
            ai_part = rng.choice(ai_cal, k)
            mix = np.concatenate([ai_part, rng.choice(human_cal, args.n - k)])
            runs["shipped"].append(pop.mixture_estimate(histogram(mix, bins), *shipped, bins.ai))
            # same-kind: a random half of the held-out pages is the reference, the other half the target
            order = rng.permutation(len(held_out))
            reference, pages = held_out[order[: len(order) // 2]], held_out[order[len(order) // 2 :]]
            mix = np.concatenate([ai_part, rng.choice(pages, args.n - k)])
            f_human, n_human = pop.pool_distribution(histogram(reference, bins), bins)
            runs["same-kind"].append(pop.mixture_estimate(histogram(mix, bins), f_human, n_human, bins.ai))
        for name, est in runs.items():
            errors = [abs(e - share) for e, _, _ in est]
            covered = sum(lo <= share <= hi for _, lo, hi in est)
            print(
                f"| {share:.0%} | {name} | {statistics.mean(e for e, _, _ in est):.3f} | {statistics.mean(errors):.3f} "
                f"| {max(errors):.3f} | {covered / args.reps:.0%} | {statistics.mean(hi - lo for _, lo, hi in est):.3f} |"
            )

    print("\npre-LLM pages against the shipped human histogram (target: an interval including 0); the model")
    print("trains on their train split, calibrates on cal, and its human histogram is of their test split")
    print("| source | split | n scored | estimate | 95% interval |")
    print("|---|---|---|---|---|")
    groups = {s: [r for r in web if r["source"] == s] for s in sorted({r["source"] for r in web})}
    groups["all"] = web
    for source, records in groups.items():
        for split in ("cal", "every"):
            texts = [r["text"] for r in records if split == "every" or r["split"] == split]
            h = histogram(scored(texts), bins)
            est, lo, hi = pop.mixture_estimate(h, *shipped, bins.ai)
            print(f"| {source} | {split} | {int(h.sum())} | {est:.3f} | [{lo:.3f}, {hi:.3f}] |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
