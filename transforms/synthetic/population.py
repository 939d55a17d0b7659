"""Population estimates of the synthetic share.

The pipeline's estimate is the excess of AI-like scores over a human reference of the same kind of text
(``mixture_estimate``, below); adjusted classify-and-count (``adjusted_share``) stays for labelled
evaluation sets, where the rates it needs are those of the set itself.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pyarrow as pa

from transforms.synthetic.model import FASTTEXT_FILE, PARAMS_FILE, model_dir

# --------------------------------------------------------------------------------------------------
# Population estimates: adjusted classify-and-count
# --------------------------------------------------------------------------------------------------

Z95 = NormalDist().inv_cdf(0.975)


# Not scipy.stats.binomtest(k, n).proportion_ci("wilson"): k and n here are fractional pseudo-counts,
# binomtest takes integers only.
def wilson_interval(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n (k, n may be fractional pseudo-counts)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p) / n + z * z / (4 * n * n))) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def adjusted_share(
    n_flagged: float,
    n: float,
    tpr: float,
    fpr: float,
    z: float = Z95,
    n_pos: int | None = None,
    n_neg: int | None = None,
) -> tuple[float | None, float | None, float | None]:
    """Estimated share of synthetic documents among `n`, of which `n_flagged` scored >= the threshold at
    which the classifier has true- and false-positive rates `tpr` and `fpr` (adjusted classify-and-count,
    Forman 2008): share = (flag rate - fpr) / (tpr - fpr), clipped to [0, 1].

    Interval (default 95%): the Wilson interval of the flag rate, mapped through the same (increasing,
    linear) adjustment. When `n_pos` / `n_neg` (the sizes of the held-out sets tpr and fpr were measured
    on) are given, the uncertainty of tpr and fpr is added in quadrature by the delta method:
    var = ((1 - s)^2 fpr (1 - fpr) / n_neg + s^2 tpr (1 - tpr) / n_pos) / (tpr - fpr)^2.
    The bounds are clipped to [0, 1]. Returns (None, None, None) when n == 0.

    The estimate is unbiased only if tpr and fpr hold on the population scored; it is not valid when the
    classifier cannot separate the classes (tpr <= fpr raises).
    """
    if not tpr > fpr:
        raise ValueError(f"adjusted classify-and-count needs tpr > fpr (got tpr={tpr}, fpr={fpr})")
    if n <= 0:
        return None, None, None
    gap = tpr - fpr
    raw = (n_flagged / n - fpr) / gap
    lo_p, hi_p = wilson_interval(n_flagged, n, z)
    lo, hi = (lo_p - fpr) / gap, (hi_p - fpr) / gap
    if n_pos or n_neg:
        s = min(1.0, max(0.0, raw))
        var = 0.0
        if n_neg:
            var += (1 - s) ** 2 * fpr * (1 - fpr) / n_neg
        if n_pos:
            var += s**2 * tpr * (1 - tpr) / n_pos
        extra = z * math.sqrt(var) / gap
        lo = raw - math.hypot(raw - lo, extra)
        hi = raw + math.hypot(hi - raw, extra)

    def clip(v: float) -> float:
        return min(1.0, max(0.0, v))

    return clip(raw), clip(lo), clip(hi)


def is_content_farm(record: dict, max_share: float, min_docs: int = 10, bound: str = "share_low") -> bool:
    """Suggested rule for rejecting a whole domain (reject_reason = synthetic_domain): at least `min_docs`
    scored documents and the `bound` of its estimated share (by default the lower end of the interval:
    reject only when confident) above `max_share`."""
    value = record.get(bound)
    return record.get("n_scored", 0) >= min_docs and value is not None and value > max_share


# --------------------------------------------------------------------------------------------------
# Population estimates: the excess over a human reference (two-component mixture of binned scores)
# --------------------------------------------------------------------------------------------------
#
# A group of scored documents (a domain, a crawl, a cohort) is a histogram of scores over the shipped
# model's bins. Its bins are modelled as a mixture (1 - share) * f_human + share * f_ai: f_ai is the
# shipped histogram of held-out AI texts, f_human the reference's, i.e. human text *of the same kind*
# (the same domain in an earlier snapshot or reference run, else the pool of the reference, else the
# shipped human web histogram). The share is the maximum-likelihood one (Liang et al. 2024 do the same
# with word frequencies); its interval is the profile-likelihood interval, widened by the uncertainty of
# the finite histograms (f_human and f_ai drawn from their Dirichlet posteriors).

#: A domain needs this many scored documents (of the estimate's target) for an estimate of its own;
#: smaller ones are only counted in their crawl's.
MIN_DOCS_FOR_ESTIMATE = 30
#: A domain's reference is its own histogram from this many reference documents on (smoothed with the
#: pool's shape at PSEUDOCOUNT per bin), else its few documents shrunk towards the pool's.
MIN_REFERENCE_DOCS = 30
#: Pseudo-documents of the pool added to the reference histogram of a domain with fewer than
#: MIN_REFERENCE_DOCS reference documents: one with 3 reference pages gets nearly the pool's distribution.
REFERENCE_STRENGTH = 30.0
#: Pseudo-count per bin of a histogram used as a distribution (Jeffreys), so no bin has probability 0.
PSEUDOCOUNT = 0.5
#: Adjacent score bins are merged until the human reference has this many documents in each.
MIN_BIN_REFERENCE = 20.0
#: Draws of (f_human, f_ai) for the reference part of the interval.
REFERENCE_DRAWS = 200
CHI2_95 = 3.841458820694124
GRID = np.linspace(0.0, 1.0, 1001)
DRAW_GRID = np.linspace(0.0, 1.0, 401)

METHOD = "mixture-mle"
SHIPPED_HUMAN_WEB = "human_web"
SHIPPED_OPERATING_POINT = "l2r_operating_point"
OWN_PRE_LLM = "pre_llm cohort of this run"


@dataclass(frozen=True)
class ScoreBins:
    """The shipped model's score bins and held-out histograms (counts) of human web and AI texts.

    `name` says where the human histogram comes from: "human_web" (the model's ``histograms`` block), or
    "l2r_operating_point" for a model without one: two bins split at the flag threshold, with the
    out-of-domain L2R rates as counts (the mixture then is adjusted classify-and-count)."""

    edges: tuple[float, ...]
    human: tuple[float, ...]
    ai: tuple[float, ...]
    name: str
    model: str

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    def bin(self, score: float) -> int:
        """The bin of a score (the last bin is closed on the right; out-of-range scores go to the ends)."""
        return min(self.n_bins - 1, max(0, bisect.bisect_right(self.edges, score) - 1))


def bins_from_params(params: dict, model: str = "") -> ScoreBins:
    """ScoreBins from a synthetic.json dict: its ``histograms`` block, else its operating point."""
    hist = params.get("histograms") or {}
    if all(k in hist for k in ("edges", "human_web", "ai")):
        edges, human, ai = (tuple(float(v) for v in hist[k]) for k in ("edges", "human_web", "ai"))
        if not (len(edges) - 1 == len(human) == len(ai) >= 2) or list(edges) != sorted(edges):
            raise ValueError("synthetic model histograms: need sorted edges and one count per bin")
        return ScoreBins(edges, human, ai, SHIPPED_HUMAN_WEB, model)
    op = params.get("operating_point", {})
    ood = op.get("out_of_domain", {})
    if not all(k in ood for k in ("tpr", "fpr", "n_pos", "n_neg")):
        raise ValueError(
            "synthetic model has neither score histograms nor out-of-domain TPR/FPR: make models"
        )
    t = float(op.get("threshold", 0.5))
    n_pos, n_neg = float(ood["n_pos"]), float(ood["n_neg"])
    human = (n_neg * (1 - ood["fpr"]), n_neg * ood["fpr"])
    ai = (n_pos * (1 - ood["tpr"]), n_pos * ood["tpr"])
    return ScoreBins((0.0, t, 1.0), human, ai, SHIPPED_OPERATING_POINT, model)


@functools.cache
def shipped_bins() -> ScoreBins:
    """The shipped model's ScoreBins; `model` is a fingerprint of what scores (see `model_fingerprint`), so
    that histograms of runs scored by different models are never compared."""
    path = model_dir() / PARAMS_FILE
    try:
        params = json.loads(path.read_bytes())
        fasttext = (model_dir() / FASTTEXT_FILE).read_bytes()
    except OSError as exc:
        raise ValueError(f"no synthetic model at {model_dir()}: make models") from exc
    return bins_from_params(params, model_fingerprint(fasttext, params))


def model_fingerprint(fasttext: bytes, params: dict) -> str:
    """12 hex digits of sha256 over the fastText file and the parameters that score (all of synthetic.json but
    its descriptive ``training`` block): rewording where the training data came from changes nothing."""
    scoring = {k: v for k, v in params.items() if k != "training"}
    h = hashlib.sha256(fasttext)
    h.update(json.dumps(scoring, sort_keys=True).encode())
    return h.hexdigest()[:12]


def smoothed(counts, prior=None, strength: float | None = None) -> np.ndarray:
    """Counts -> a distribution with no empty bin: (counts + strength * prior) / (n + strength); by default
    prior uniform with PSEUDOCOUNT per bin."""
    counts = np.asarray(counts, dtype=float)
    if prior is None:
        prior = np.full(len(counts), 1.0 / len(counts))
        strength = PSEUDOCOUNT * len(counts)
    strength = REFERENCE_STRENGTH if strength is None else strength
    return (counts + strength * np.asarray(prior, dtype=float)) / (counts.sum() + strength)


def log_likelihood(target, f_human, f_ai, grid: np.ndarray = GRID) -> np.ndarray:
    """Multinomial log-likelihood of `target` bin counts under each share of `grid`; f_human / f_ai may be
    stacked draws (D, bins), giving (D, len(grid))."""
    g = grid[:, None]
    mix = (1 - g) * np.asarray(f_human)[..., None, :] + g * np.asarray(f_ai)[..., None, :]
    with np.errstate(divide="ignore"):
        return np.log(mix) @ np.asarray(target, dtype=float)


def mixture_share(target, f_human, f_ai) -> tuple[float, float, float]:
    """Maximum-likelihood share and its 95% profile-likelihood interval (log-likelihood within
    chi2(1)/2 of the maximum; it is concave in the share, so the set is an interval)."""
    ll = log_likelihood(target, f_human, f_ai)
    best = int(np.argmax(ll))
    inside = GRID[ll >= ll[best] - CHI2_95 / 2]
    return float(GRID[best]), float(inside[0]), float(inside[-1])


def merged_bins(expected, min_count: float) -> np.ndarray:
    """Start indices of runs of adjacent bins, each run holding at least `min_count` of `expected` (the
    reference's documents per bin; a last short run joins the one before). A bin the reference has seen a
    handful of times has no usable probability: its documents would all count as AI text."""
    starts, acc = [0], 0.0
    for i, e in enumerate(expected):
        if i and acc >= min_count:
            starts.append(i)
            acc = 0.0
        acc += e
    if acc < min_count and len(starts) > 1:
        starts.pop()
    return np.array(starts)


def mixture_estimate(
    target,
    f_human,
    human_n: float,
    ai_counts,
    draws: int = REFERENCE_DRAWS,
    seed: int = 0,
    min_bin_reference: float | None = None,
) -> tuple[float | None, float | None, float | None]:
    """(share, low, high) of AI text in `target` (bin counts) over the human distribution `f_human`.

    The interval joins two parts in quadrature on each side: the profile-likelihood interval (the
    target's own sampling) and the 2.5-97.5% range of the MLE when f_human ~ Dirichlet(f_human *
    human_n) and f_ai ~ Dirichlet(ai_counts + PSEUDOCOUNT) (the finite reference and AI histograms).
    `human_n` is how many documents f_human stands for; bins are first merged so that each holds at
    least `min_bin_reference` of them (``merged_bins``; halved until there are two bins, for a small
    reference). (None, None, None) for an empty target."""
    min_bin_reference = MIN_BIN_REFERENCE if min_bin_reference is None else min_bin_reference
    target = np.asarray(target, dtype=float)
    if target.sum() <= 0:
        return None, None, None
    f_human = np.asarray(f_human, dtype=float)
    ai_counts = np.asarray(ai_counts, dtype=float)
    starts = merged_bins(f_human * human_n, min_bin_reference)
    while len(starts) < 2 <= len(f_human) and min_bin_reference > 1:  # a small reference: at least two bins
        min_bin_reference /= 2
        starts = merged_bins(f_human * human_n, min_bin_reference)
    target, f_human, ai_counts = (np.add.reduceat(v, starts) for v in (target, f_human, ai_counts))
    f_ai = smoothed(ai_counts)
    share, low, high = mixture_share(target, f_human, f_ai)
    rng = np.random.default_rng(seed)
    fh = rng.dirichlet(np.maximum(f_human * human_n, 1e-3), draws)
    fa = rng.dirichlet(np.asarray(ai_counts, dtype=float) + PSEUDOCOUNT, draws)
    fh, fa = (np.maximum(f, 1e-12) for f in (fh, fa))
    mles = DRAW_GRID[np.argmax(log_likelihood(target, fh, fa, DRAW_GRID), axis=-1)]
    q_low, q_high = np.quantile(mles, [0.025, 0.975])
    low = share - math.hypot(share - low, max(0.0, share - q_low))
    high = share + math.hypot(high - share, max(0.0, q_high - share))
    return share, max(0.0, low), min(1.0, high)


def reference_distribution(counts, towards, towards_n: float, strength: float = REFERENCE_STRENGTH):
    """A reference histogram shrunk towards a broader one -> (distribution, documents it stands for).

    `towards` is a distribution standing for `towards_n` documents; it counts as at most `strength`
    documents here (between-domain differences are why a domain's own reference is wanted)."""
    counts = np.asarray(counts, dtype=float)
    weight = min(strength, towards_n)
    return smoothed(counts, towards, weight), float(counts.sum() + weight)


def pool_distribution(counts, bins: ScoreBins) -> tuple[np.ndarray, float]:
    """The whole reference's histogram -> (distribution, documents it stands for): smoothed with the shipped
    human histogram's shape at PSEUDOCOUNT per bin only, since that one is another kind of text."""
    return reference_distribution(
        counts, smoothed(bins.human), float(sum(bins.human)), PSEUDOCOUNT * bins.n_bins
    )


# --------------------------------------------------------------------------------------------------
# Estimates per domain and per group (crawl, cohort), from bin counts that add up
# --------------------------------------------------------------------------------------------------
#
# One row contributes a count vector [1, one-hot score bin (if scored), the same bin again (if it passes
# the quality rules)]; vectors add up per (crawl, domain, cohort) in one combine. A group's part carries
# its target histograms and the *mass* of its documents' references (each document's reference
# distribution, summed), so parts of a crawl or a cohort (domains, backfill batches) add up too.

REFERENCE_EXTERNAL = "reference runs"
REFERENCE_OWN_PRE_LLM = "own pre_llm"
REFERENCE_SHIPPED = "shipped"
TARGET_ALL = "all"
TARGET_NOT_PRE_LLM = "not pre_llm"

DOMAIN_ESTIMATE_FIELDS = (
    "crawl",
    "domain",
    "n_docs",
    "n_scored",
    "n_quality",
    "target",
    "n_target",
    "share",
    "share_low",
    "share_high",
    "n_target_quality",
    "share_quality",
    "share_quality_low",
    "share_quality_high",
    "reference",
    "reference_level",
    "reference_n",
    "method",
    "histogram",
    "histogram_quality",
    # what merging the estimates of disjoint parts (backfill batches) needs: see merge_domain_records
    "histogram_target",
    "histogram_target_quality",
    "reference_mass",
    "reference_mass_quality",
    "synthetic_model",
)
# the columns of a per-domain estimate that add up over disjoint parts of its documents
MERGED_BY_SUM = (
    "n_docs",
    "n_scored",
    "n_quality",
    "n_target",
    "n_target_quality",
    "histogram",
    "histogram_quality",
    "histogram_target",
    "histogram_target_quality",
    "reference_mass",
    "reference_mass_quality",
)


def _estimate_field(name: str) -> pa.Field:
    if name.startswith("reference_mass"):
        return pa.field(name, pa.list_(pa.float64()))
    if name.startswith("histogram"):
        return pa.field(name, pa.list_(pa.int64()))
    if name.startswith("n_") or name == "reference_n":
        return pa.field(name, pa.int64())
    if name.startswith("share"):
        return pa.field(name, pa.float64())
    return pa.field(name, pa.string())


# synthetic_by_domain.parquet: one row per (crawl, domain)
DOMAIN_ESTIMATES_SCHEMA = pa.schema([_estimate_field(name) for name in DOMAIN_ESTIMATE_FIELDS])

GROUP_ESTIMATE_FIELDS = (
    "n_docs",
    "n_scored",
    "n_quality",
    "target",
    "n_target",
    "share",
    "share_low",
    "share_high",
    "n_target_quality",
    "share_quality",
    "share_quality_low",
    "share_quality_high",
    "reference",
    "reference_n",
    "method",
    "histogram_target",
    "histogram_target_quality",
    "reference_mass",
    "reference_mass_quality",
    "synthetic_model",
)


def row_vector(row: dict, bins: ScoreBins, passes_quality: bool) -> np.ndarray:
    """A row's counts: [1 (document), bins (its score's bin, if scored), bins (again, if it passes the
    quality rules)]."""
    v = np.zeros(1 + 2 * bins.n_bins, dtype=np.int64)
    v[0] = 1
    score = row.get("synthetic_score")
    if score is not None and not math.isnan(score):
        b = bins.bin(score)
        v[1 + b] = 1
        if passes_quality:
            v[1 + bins.n_bins + b] = 1
    return v


def split_vector(v, bins: ScoreBins) -> tuple[np.ndarray, np.ndarray]:
    """count vector -> (histogram of scored documents, histogram of those passing the quality rules)."""
    v = np.asarray(v)
    return v[1 : 1 + bins.n_bins], v[1 + bins.n_bins :]


def vector_of(histogram, histogram_quality) -> np.ndarray:
    """Stored histograms (a synthetic_by_domain row) -> a count vector (documents: the scored ones)."""
    h, q = np.asarray(histogram, dtype=np.int64), np.asarray(histogram_quality, dtype=np.int64)
    return np.concatenate([[h.sum()], h, q])


def _label(values) -> str:
    return ", ".join(sorted({str(v) for v in values if v is not None}))


def domain_estimate(
    crawl, domain, cohorts: dict, bins: ScoreBins, reference=None, pool: dict | None = None
) -> tuple[dict, list[tuple[tuple[str, str], dict]]]:
    """One (crawl, domain): its estimate, and its parts of the crawl's and the cohorts' estimates.

    cohorts: cohort (or None) -> count vector. reference: the domain's count vector in the reference (or
    None). pool: the whole reference, {"vector", "label", "kind"} (kind REFERENCE_EXTERNAL: earlier runs or
    snapshots; REFERENCE_OWN_PRE_LLM: this run's pre_llm documents, whose target is then the rest), or None:
    the shipped human histogram. The domain's human distribution is its own reference histogram when it
    has MIN_REFERENCE_DOCS, else shrunk towards the pool's (``reference_distribution``); a domain
    with fewer than MIN_DOCS_FOR_ESTIMATE target documents gets no share of its own (it still counts in
    its crawl's)."""
    shipped = smoothed(bins.human), float(sum(bins.human))
    kind = pool["kind"] if pool else REFERENCE_SHIPPED
    targets = {c: v for c, v in cohorts.items() if not (kind == REFERENCE_OWN_PRE_LLM and c == "pre_llm")}
    refs, level, ref_n = [], "shipped", float(sum(bins.human))
    for q in (0, 1):
        if pool:
            pool_f, pool_n = pool_distribution(split_vector(pool["vector"], bins)[q], bins)
            own = np.zeros(bins.n_bins) if reference is None else split_vector(reference, bins)[q]
            # enough of its own: the domain's histogram (smoothed only); else mostly the pool's
            if own.sum() >= MIN_REFERENCE_DOCS:
                refs.append(reference_distribution(own, pool_f, pool_n, PSEUDOCOUNT * bins.n_bins))
            else:  # the pool's distribution (as precise as the pool), nudged by the domain's few pages
                f, _ = reference_distribution(own, pool_f, pool_n, REFERENCE_STRENGTH)
                refs.append((f, pool_n + float(own.sum())))
            if q == 0:
                n_own = float(own.sum())
                level = "domain" if n_own >= MIN_REFERENCE_DOCS else "pool"
                ref_n = n_own if level == "domain" else float(split_vector(pool["vector"], bins)[0].sum())
        else:
            refs.append(shipped)
    label = pool["label"] if pool else bins.name

    def part(vectors: list, f_pair, label, ref_n, target) -> dict:
        total = np.sum(vectors, axis=0) if vectors else np.zeros(1 + 2 * bins.n_bins, dtype=np.int64)
        h, hq = split_vector(total, bins)
        return {
            "n_target": int(h.sum()),
            "n_target_quality": int(hq.sum()),
            "histogram_target": h.tolist(),
            "histogram_target_quality": hq.tolist(),
            "reference_mass": (h.sum() * f_pair[0][0]).tolist(),
            "reference_mass_quality": (hq.sum() * f_pair[1][0]).tolist(),
            "reference_n": ref_n,
            "reference": label,
            "target": target,
        }

    all_vectors = list(cohorts.values())
    total = np.sum(all_vectors, axis=0)
    h_all, h_quality = split_vector(total, bins)
    counts = {"n_docs": int(total[0]), "n_scored": int(h_all.sum()), "n_quality": int(h_quality.sum())}
    target = TARGET_NOT_PRE_LLM if kind == REFERENCE_OWN_PRE_LLM else TARGET_ALL
    own_part = part(list(targets.values()), refs, label, ref_n, target)
    shares = {}
    for suffix, q in (("", 0), ("_quality", 1)):
        h = own_part["histogram_target" + suffix]
        if sum(h) >= MIN_DOCS_FOR_ESTIMATE:
            est = mixture_estimate(h, refs[q][0], refs[q][1], bins.ai)
        else:
            est = (None, None, None)
        shares.update(
            dict(zip((f"share{suffix}", f"share{suffix}_low", f"share{suffix}_high"), est, strict=True))
        )
    enough = own_part["n_target"] >= MIN_DOCS_FOR_ESTIMATE
    record = {
        "crawl": crawl,
        "domain": domain,
        **counts,
        "target": target,
        "n_target": own_part["n_target"],
        "n_target_quality": own_part["n_target_quality"],
        **shares,
        "reference": label,
        "reference_level": level,
        "reference_n": int(ref_n),
        "method": METHOD if enough else f"pooled into crawl (fewer than {MIN_DOCS_FOR_ESTIMATE} scored)",
        "histogram": h_all.tolist(),
        "histogram_quality": h_quality.tolist(),
        **{
            key: own_part[key]
            for key in MERGED_BY_SUM
            if key.startswith(("histogram_target", "reference_mass"))
        },
        "synthetic_model": bins.model,
    }
    parts = [(("crawl", crawl), {**counts, **own_part})]
    for cohort, vector in cohorts.items():
        h, hq = split_vector(vector, bins)
        n = {"n_docs": int(vector[0]), "n_scored": int(h.sum()), "n_quality": int(hq.sum())}
        if cohort == "pre_llm" and kind == REFERENCE_OWN_PRE_LLM:  # not against itself: the shipped one
            cohort_part = part([vector], [shipped, shipped], bins.name, shipped[1], TARGET_ALL)
        else:
            cohort_part = part([vector], refs, label, ref_n, TARGET_ALL)
        parts.append((("cohort", cohort or "unknown"), {**n, **cohort_part}))
    return record, parts


def add_parts(parts) -> dict:
    """Parts of one group (domains of a crawl, backfill batches) -> one: counts, histograms and reference
    masses add up; reference_n is the largest (parts share their pool); labels are joined. None for none."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    out = {}
    for key in ("n_docs", "n_scored", "n_quality", "n_target", "n_target_quality"):
        out[key] = sum(p[key] for p in parts)
    for key in ("histogram_target", "histogram_target_quality", "reference_mass", "reference_mass_quality"):
        out[key] = np.sum([p[key] for p in parts], axis=0).tolist()
    out["reference_n"] = max(p["reference_n"] for p in parts)
    for key in ("reference", "target"):
        out[key] = _label(v for p in parts for v in p[key].split(", "))
    return out


def group_estimate(part: dict, bins: ScoreBins) -> dict:
    """A group's part -> its record: the part plus share[_quality][_low|_high], method and model. The
    reference is the mass-weighted mix of its documents' references (each domain's against its own)."""
    record = {**part, "method": METHOD, "synthetic_model": bins.model}
    for suffix in ("", "_quality"):
        mass = np.asarray(part["reference_mass" + suffix], dtype=float)
        h = part["histogram_target" + suffix]
        if mass.sum() > 0:
            f = mass / mass.sum()
            est = mixture_estimate(h, f, max(part["reference_n"], 1.0), bins.ai)
        else:
            est = (None, None, None)
        record.update(zip((f"share{suffix}", f"share{suffix}_low", f"share{suffix}_high"), est, strict=True))
    return record


def merge_group_records(records, bins: ScoreBins | None = None) -> dict:
    """Estimates of disjoint parts of one group (backfill batches) -> the group's estimate, recomputed from
    the summed histograms and reference masses. The parts must come from the same synthetic model."""
    records = list(records)
    bins = bins or shipped_bins()
    models = {r.get("synthetic_model") for r in records}
    if models != {bins.model}:
        raise ValueError(
            f"estimates from different synthetic models cannot be merged: {sorted(map(str, models))}"
        )
    return group_estimate(add_parts(records), bins)


def merge_domain_records(records, bins: ScoreBins | None = None) -> list[dict]:
    """Per-domain estimates of disjoint parts of a run (backfill batches) -> one per (crawl, domain),
    recomputed from the summed target histograms and reference masses (each batch's reference for the
    domain, weighted by its documents), with the same minimum count as a single run: a domain whose
    documents are spread over batches gets its own estimate once they add up to MIN_DOCS_FOR_ESTIMATE.
    Records without reference masses (written before they were stored) are merged without a share."""
    bins = bins or shipped_bins()
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if r.get("synthetic_model") != bins.model:
            raise ValueError(
                f"estimates from different synthetic models cannot be merged: {r.get('synthetic_model')!r}"
            )
        groups.setdefault((r["crawl"], r["domain"]), []).append(r)
    merged = []
    for (crawl, domain), parts in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        if len(parts) == 1:
            merged.append(parts[0])
            continue
        complete = all(p.get("reference_mass") is not None for p in parts)
        out = {"crawl": crawl, "domain": domain, "synthetic_model": bins.model}
        for key in MERGED_BY_SUM:
            values = [p.get(key) for p in parts]
            if any(v is None for v in values):
                out[key] = None
            elif key.startswith(("histogram", "reference_mass")):
                out[key] = np.sum(values, axis=0).tolist()
            else:
                out[key] = int(sum(values))
        out["reference_n"] = max(int(p["reference_n"] or 0) for p in parts)
        for key in ("reference", "target", "reference_level"):
            out[key] = _label(v for p in parts for v in str(p.get(key) or "").split(", ") if v)
        enough = complete and out["n_target"] >= MIN_DOCS_FOR_ESTIMATE
        for suffix in ("", "_quality"):
            h = out.get("histogram_target" + suffix)
            mass = np.asarray(out.get("reference_mass" + suffix) or [], dtype=float)
            est = (None, None, None)
            if complete and h is not None and sum(h) >= MIN_DOCS_FOR_ESTIMATE and mass.sum() > 0:
                est = mixture_estimate(h, mass / mass.sum(), max(out["reference_n"], 1.0), bins.ai)
            out.update(zip((f"share{suffix}", f"share{suffix}_low", f"share{suffix}_high"), est, strict=True))
        if enough:
            out["method"] = f"{METHOD}, {len(parts)} batches merged"
        elif complete:
            out["method"] = f"pooled into crawl (fewer than {MIN_DOCS_FOR_ESTIMATE} scored)"
        else:
            out["method"] = "not merged: batch estimates without reference masses"
        merged.append({k: out.get(k) for k in DOMAIN_ESTIMATE_FIELDS})
    return merged
