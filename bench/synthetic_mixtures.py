"""Population estimate error: mixtures of held-out L2R texts at known synthetic shares.

    .venv/bin/python -m bench.synthetic_mixtures [--n 500] [--reps 20]

Texts come from the held-out test split of the shipped model's training (split by pair_id, seed 0), so the
model never saw them. For each true share (0%, 10%, 30%, 50%) it draws `reps` mixtures of `n` texts,
flags at the model's threshold, and estimates the share by adjusted classify-and-count with (a) the
out-of-domain TPR/FPR the pipeline uses and (b) the in-domain ones. Prints mean estimate, mean absolute
error and the coverage of the 95% interval. Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

from pipeline.train_synthetic import Settings, load_labelled, split_of
from transforms import synthetic as syn

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthetic-text-l2r" / "l2r.jsonl.gz"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args(argv)
    rows = [r for r in load_labelled(DATA) if split_of(r.get("pair_id"), 0, Settings.split) == "test"]
    scorer = syn.shipped_scorer()
    scores = scorer.score_batch([r["text"] for r in rows])
    flagged = {"human": [], "synthetic": []}
    for r, s in zip(rows, scores, strict=True):
        if s is not None:  # texts the scorer abstains on (too short, not prose) count in no estimate
            flagged[r["label"]].append(s >= syn.FLAG_THRESHOLD)
    print(f"held-out test split: {len(flagged['human'])} human, {len(flagged['synthetic'])} synthetic texts")
    rng = random.Random(0)
    n = min(args.n, len(flagged["human"]), len(flagged["synthetic"]))
    print("| true share | rates | mean estimate | mean abs error | 95% interval coverage |")
    print("|---|---|---|---|---|")
    for share in (0.0, 0.1, 0.3, 0.5):
        n_syn = round(n * share)
        for name, tpr, fpr, n_pos, n_neg in (
            ("out-of-domain", syn.TPR, syn.FPR, syn.TPR_N, syn.FPR_N),
            ("in-domain", syn.TPR_IN_DOMAIN, syn.FPR_IN_DOMAIN, None, None),
        ):
            estimates, errors, covered = [], [], 0
            for _ in range(args.reps):
                sample = rng.sample(flagged["synthetic"], n_syn) + rng.sample(flagged["human"], n - n_syn)
                est, low, high = syn.adjusted_share(
                    sum(sample), len(sample), tpr, fpr, n_pos=n_pos, n_neg=n_neg
                )
                estimates.append(est)
                errors.append(abs(est - share))
                covered += low <= share <= high
            print(
                f"| {share:.0%} | {name} | {statistics.mean(estimates):.3f} | {statistics.mean(errors):.3f} "
                f"| {covered / args.reps:.0%} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
