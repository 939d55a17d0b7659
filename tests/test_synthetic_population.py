"""The AI share of a group of documents as the excess over a human reference (mixture of binned scores)."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.synthetic import population as pop

EDGES = tuple(np.linspace(0, 1, 21).tolist())
# a web-like human distribution (most mass low, a long tail up) and an AI one (mass high)
HUMAN = np.array([30, 60, 80, 90, 85, 75, 65, 55, 48, 40, 34, 28, 24, 20, 16, 12, 10, 8, 6, 4], float)
AI = np.array([1, 2, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 120], float)
BINS = pop.ScoreBins(EDGES, tuple(HUMAN * 4), tuple(AI * 4), pop.SHIPPED_HUMAN_WEB, "test-model")


def draw(rng, n, share, f_human=HUMAN, f_ai=AI):
    k = rng.binomial(n, share)
    h = rng.choice(20, n - k, p=f_human / f_human.sum())
    a = rng.choice(20, k, p=f_ai / f_ai.sum())
    return np.bincount(np.concatenate([h, a]).astype(int), minlength=20)


def test_mixture_estimate_error_and_coverage_on_known_mixtures():
    rng = np.random.default_rng(3)
    f_human = pop.smoothed(BINS.human)
    for share in (0.0, 0.05, 0.2, 0.5):
        errors, covered = [], 0
        for _ in range(60):
            est, low, high = pop.mixture_estimate(draw(rng, 600, share), f_human, sum(BINS.human), BINS.ai)
            errors.append(abs(est - share))
            covered += low <= share <= high
            assert low < high
        assert np.mean(errors) < 0.05, share
        assert covered / 60 >= 0.85, (share, covered)


def test_human_text_comes_out_near_zero_with_zero_inside_the_interval():
    rng = np.random.default_rng(4)
    est, low, high = pop.mixture_estimate(draw(rng, 2000, 0.0), pop.smoothed(BINS.human), 4000, BINS.ai)
    assert low == 0.0 and est < 0.05 and high < 0.1


def test_small_and_empty_targets():
    f_human = pop.smoothed(BINS.human)
    one = np.zeros(20)
    one[-1] = 1  # one document in the most AI-like bin: a wide interval, never [1, 1]
    est, low, high = pop.mixture_estimate(one, f_human, 4000, BINS.ai)
    assert high - low > 0.5
    assert pop.mixture_estimate(np.zeros(20), f_human, 4000, BINS.ai) == (None, None, None)


def test_a_small_reference_widens_the_interval():
    rng = np.random.default_rng(5)
    target = draw(rng, 3000, 0.2)
    _, low_big, high_big = pop.mixture_estimate(target, pop.smoothed(HUMAN), 100_000, BINS.ai)
    _, low_small, high_small = pop.mixture_estimate(target, pop.smoothed(HUMAN), 50, BINS.ai)
    assert high_small - low_small > 1.5 * (high_big - low_big)


def test_the_reference_decides_what_counts_as_ai():
    # a domain whose human pages score high (a style the detector mistakes for AI): against the shipped
    # human histogram it looks AI-written, against its own earlier pages it does not
    rng = np.random.default_rng(6)
    odd_human = HUMAN[::-1] * 0.5 + HUMAN * 0.5
    target = draw(rng, 800, 0.0, f_human=odd_human)
    earlier = draw(rng, 800, 0.0, f_human=odd_human)
    shipped, _, _ = pop.mixture_estimate(target, pop.smoothed(BINS.human), sum(BINS.human), BINS.ai)
    f_own, n_own = pop.reference_distribution(earlier, pop.smoothed(BINS.human), sum(BINS.human))
    own, low, _ = pop.mixture_estimate(target, f_own, n_own, BINS.ai)
    assert shipped > 0.2 and own < 0.05 and low == 0.0


def test_reference_shrinkage():
    pool = pop.smoothed(HUMAN)
    few = np.zeros(20)
    few[19] = 3
    f_few, n_few = pop.reference_distribution(few, pool, 10_000)
    assert np.abs(f_few - pool).max() < 0.1 and n_few == 3 + pop.REFERENCE_STRENGTH
    many = np.zeros(20)
    many[19] = 3000
    f_many, _ = pop.reference_distribution(many, pool, 10_000)
    assert f_many[19] > 0.98


def test_bins_from_params():
    hist = {"edges": list(EDGES), "human_web": HUMAN.tolist(), "ai": AI.tolist()}
    bins = pop.bins_from_params({"histograms": hist, "operating_point": {}}, "m")
    assert (
        bins.name == pop.SHIPPED_HUMAN_WEB
        and bins.n_bins == 20
        and bins.bin(1.0) == 19
        and bins.bin(0.0) == 0
    )
    assert bins.bin(0.051) == 1
    op = {"threshold": 0.5, "out_of_domain": {"tpr": 0.8, "fpr": 0.2, "n_pos": 1000, "n_neg": 1000}}
    two = pop.bins_from_params({"operating_point": op}, "m")
    assert two.name == pop.SHIPPED_OPERATING_POINT and two.edges == (0.0, 0.5, 1.0)
    # on two bins the mixture is adjusted classify-and-count: (flag rate - fpr) / (tpr - fpr)
    est, _, _ = pop.mixture_estimate([6000, 4000], pop.smoothed(two.human), 1e9, two.ai)
    assert abs(est - (0.4 - 0.2) / 0.6) < 0.002
    with pytest.raises(ValueError, match="neither score histograms"):
        pop.bins_from_params({"operating_point": {"threshold": 0.5}})
    with pytest.raises(ValueError, match="one count per bin"):
        pop.bins_from_params({"histograms": {**hist, "ai": [1, 2]}})


def vector(hist, quality=None):
    hist = np.asarray(hist, dtype=np.int64)
    return pop.vector_of(hist, hist if quality is None else quality)


def test_domain_estimate_minimum_count_and_parts():
    rng = np.random.default_rng(7)
    big, small = draw(rng, 200, 0.5), draw(rng, 10, 0.5)
    rec_big, parts_big = pop.domain_estimate("C", "big.example", {"post_llm": vector(big)}, BINS)
    rec_small, parts_small = pop.domain_estimate("C", "small.example", {"post_llm": vector(small)}, BINS)
    assert rec_big["share"] is not None and rec_big["method"] == pop.METHOD
    assert rec_big["reference"] == pop.SHIPPED_HUMAN_WEB and rec_big["n_target"] == 200
    assert (
        rec_small["share"] is None
        and rec_small["share_low"] is None
        and "pooled into crawl" in rec_small["method"]
    )
    assert set(rec_big) == set(pop.DOMAIN_ESTIMATE_FIELDS)
    # the small domain still counts in its crawl's estimate: parts add up
    crawl = pop.group_estimate(pop.add_parts([parts_big[0][1], parts_small[0][1]]), BINS)
    assert crawl["n_target"] == 210 and crawl["histogram_target"] == (big + small).tolist()
    assert crawl["share_low"] <= 0.5 <= crawl["share_high"]
    assert set(crawl) >= set(pop.GROUP_ESTIMATE_FIELDS)


def test_domain_estimate_against_own_pre_llm_documents():
    rng = np.random.default_rng(8)
    odd_human = HUMAN[::-1] * 0.5 + HUMAN * 0.5
    pre, post = draw(rng, 300, 0.0, odd_human), draw(rng, 300, 0.3, odd_human)
    pool = {"vector": vector(pre), "label": pop.OWN_PRE_LLM, "kind": pop.REFERENCE_OWN_PRE_LLM}
    cohorts = {"pre_llm": vector(pre), "post_llm": vector(post)}
    rec, parts = pop.domain_estimate("C", "d.example", cohorts, BINS, vector(pre), pool)
    assert rec["target"] == pop.TARGET_NOT_PRE_LLM and rec["n_target"] == 300 and rec["n_scored"] == 600
    assert rec["reference_level"] == "domain" and rec["reference_n"] == 300
    assert rec["share_low"] <= 0.3 <= rec["share_high"] and abs(rec["share"] - 0.3) < 0.1
    by_key = dict(parts)
    assert by_key["cohort", "pre_llm"]["reference"] == pop.SHIPPED_HUMAN_WEB  # never against itself
    assert by_key["cohort", "post_llm"]["reference"] == pop.OWN_PRE_LLM


def test_quality_estimate_uses_only_pages_passing_the_rules():
    rng = np.random.default_rng(9)
    good = draw(rng, 300, 0.0)
    junk = draw(rng, 300, 1.0)  # junk pages that score like AI text
    rec, _ = pop.domain_estimate("C", "d.example", {None: vector(good + junk, good)}, BINS)
    assert rec["n_target"] == 600 and rec["n_target_quality"] == 300
    assert rec["share"] > 0.3 and rec["share_quality_low"] == 0.0


def test_merge_group_records_equals_the_whole():
    rng = np.random.default_rng(10)
    a, b = draw(rng, 100, 0.2), draw(rng, 150, 0.2)
    part_a = pop.domain_estimate("C", "a.example", {"post_llm": vector(a)}, BINS)[1][0][1]
    part_b = pop.domain_estimate("C", "b.example", {"post_llm": vector(b)}, BINS)[1][0][1]
    ra, rb = pop.group_estimate(part_a, BINS), pop.group_estimate(part_b, BINS)
    merged = pop.merge_group_records([ra, rb], BINS)
    whole = pop.group_estimate(pop.add_parts([part_a, part_b]), BINS)
    assert merged == whole and merged["n_target"] == 250
    with pytest.raises(ValueError, match="different synthetic models"):
        pop.merge_group_records([ra, {**rb, "synthetic_model": "other"}], BINS)


def test_merge_domain_records_estimates_a_domain_from_all_its_batches():
    rng = np.random.default_rng(11)
    halves = [draw(rng, 20, 0.4), draw(rng, 25, 0.4)]  # under the minimum in each batch, over it together
    records = [pop.domain_estimate("C", "d.example", {"post_llm": vector(h)}, BINS)[0] for h in halves]
    assert all(r["share"] is None for r in records)
    other = pop.domain_estimate("C", "e.example", {"post_llm": vector(draw(rng, 40, 0.0))}, BINS)[0]
    merged = pop.merge_domain_records([*records, other], BINS)
    assert [(r["crawl"], r["domain"]) for r in merged] == [("C", "d.example"), ("C", "e.example")]
    d, e = merged
    whole = pop.domain_estimate("C", "d.example", {"post_llm": vector(halves[0] + halves[1])}, BINS)[0]
    assert d["n_target"] == 45 and d["histogram_target"] == (halves[0] + halves[1]).tolist()
    assert d["share"] is not None and "2 batches merged" in d["method"]
    assert (d["share"], d["share_low"], d["share_high"]) == pytest.approx(
        (whole["share"], whole["share_low"], whole["share_high"])
    )
    assert e == other  # a domain in one batch only is kept as it was
    # the schema of synthetic_by_domain.parquet holds every field, merged or not
    table = pa.Table.from_pylist(merged, schema=pop.DOMAIN_ESTIMATES_SCHEMA)
    assert table.num_rows == 2 and table.schema.names == list(pop.DOMAIN_ESTIMATE_FIELDS)
    # batches written before reference masses were stored merge their counts, not a share
    old = [{k: v for k, v in r.items() if not k.startswith("reference_mass")} for r in records]
    (m,) = pop.merge_domain_records(old, BINS)
    assert m["n_target"] == 45 and m["share"] is None and "not merged" in m["method"]
    with pytest.raises(ValueError, match="different synthetic models"):
        pop.merge_domain_records([records[0], {**records[1], "synthetic_model": "other"}], BINS)


def scored_rows(crawl, domain, hist, day):
    rows = []
    for b, k in enumerate(hist):
        score = (EDGES[b] + EDGES[b + 1]) / 2
        rows += [
            {"crawl": crawl, "domain": domain, "synthetic_score": score, "status": "kept", "fetch_date": day}
        ] * int(k)
    return rows


def test_estimate_transform_with_a_reference_file(tmp_path):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that

    from transforms.synthetic.beam import EstimateSyntheticShare

    rng = np.random.default_rng(11)
    odd_human = HUMAN[::-1] * 0.5 + HUMAN * 0.5
    later = datetime.datetime(2024, 5, 1)
    earlier_odd, later_odd = draw(rng, 400, 0.0, odd_human), draw(rng, 400, 0.0, odd_human)
    later_farm = draw(rng, 200, 0.8)
    rows = scored_rows("C2", "odd.example", later_odd, later) + scored_rows(
        "C2", "farm.example", later_farm, later
    )
    rows += scored_rows("C2", "tiny.example", [0] * 19 + [2], later)
    rows += [
        {
            "crawl": "C2",
            "domain": "odd.example",
            "synthetic_score": None,
            "status": "kept",
            "fetch_date": later,
        }
    ] * 5
    rows += [{"crawl": "C2", "domain": "odd.example", "synthetic_score": 0.99, "status": "failed"}] * 7
    # the reference: an earlier run's synthetic_by_domain file
    ref_rows = [
        {
            "crawl": "C1",
            "domain": "odd.example",
            "histogram": earlier_odd.tolist(),
            "histogram_quality": earlier_odd.tolist(),
            "synthetic_model": BINS.model,
        },
        {
            "crawl": "C1",
            "domain": "farm.example",
            "histogram": draw(rng, 10, 0.0).tolist(),
            "histogram_quality": [0] * 20,
            "synthetic_model": BINS.model,
        },
    ]
    ref = tmp_path / "synthetic_by_domain.parquet"
    pq.write_table(pa.Table.from_pylist(ref_rows), ref)

    def check_domains(records):
        by = {r["domain"]: r for r in records}
        assert set(by) == {"odd.example", "farm.example", "tiny.example"}
        odd, farm, tiny = by["odd.example"], by["farm.example"], by["tiny.example"]
        assert (odd["n_docs"], odd["n_scored"]) == (405, 400)
        assert odd["reference"] == "C1" and odd["reference_level"] == "domain" and odd["reference_n"] == 400
        assert odd["share_low"] == 0.0 and odd["share"] < 0.1
        assert farm["reference_level"] == "pool" and farm["share_low"] <= 0.8 <= farm["share_high"]
        assert tiny["share"] is None and tiny["histogram"][-1] == 2

    def check_crawls(records):
        (c2,) = records
        assert c2["crawl"] == "C2" and c2["n_target"] == 602 and c2["reference"] == "C1"
        assert c2["share_low"] <= 200 * 0.8 / 602 <= c2["share_high"] + 0.05

    with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as p:
        estimates = p | beam.Create(rows) | EstimateSyntheticShare(reference=[str(ref)], bins=BINS)
        assert_that(estimates["domain"], check_domains, label="domains")
        assert_that(estimates["crawl"], check_crawls, label="crawls")


def test_reference_files(tmp_path):
    from transforms.synthetic.beam import reference_files

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "synthetic_by_domain.parquet").write_bytes(b"")
    assert reference_files([str(tmp_path / "run")]) == [str(tmp_path / "run" / "synthetic_by_domain.parquet")]
    # a backfill: its batches' files, or their merge where it has one (never both: no document twice)
    batches = [tmp_path / "bf" / f"synthetic_by_domain-C-b{i}-x.parquet" for i in (0, 1)]
    (tmp_path / "bf").mkdir()
    for f in batches:
        f.write_bytes(b"")
    assert reference_files([str(tmp_path / "bf")]) == [str(f) for f in batches]
    (tmp_path / "bf" / "synthetic_by_domain.parquet").write_bytes(b"")
    assert reference_files([str(tmp_path / "bf")]) == [str(tmp_path / "bf" / "synthetic_by_domain.parquet")]
    with pytest.raises(ValueError, match="no synthetic_by_domain"):
        reference_files([str(tmp_path)])


def test_sparse_reference_bins_are_merged():
    assert pop.merged_bins([50, 30, 5, 5, 5, 5, 1, 0], 10).tolist() == [0, 1, 2, 4]
    assert pop.merged_bins([3, 3], 10).tolist() == [0]
    assert pop.merged_bins([3, 3, 3], 0).tolist() == [0, 1, 2]
    # a page in a bin the reference never saw does not make the pages AI-written by itself
    rng = np.random.default_rng(12)
    reference = draw(rng, 60, 0.0)
    target = draw(rng, 300, 0.0)
    f, n = pop.pool_distribution(reference, BINS)
    assert pop.mixture_estimate(target, f, n, BINS.ai)[1] == 0.0


def test_a_domain_without_its_own_reference_is_measured_against_the_pool():
    rng = np.random.default_rng(13)
    pool_hist = draw(rng, 400, 0.0)
    pool = {"vector": vector(pool_hist), "label": "C1", "kind": pop.REFERENCE_EXTERNAL}
    target = draw(rng, 45, 0.0)
    rec, _ = pop.domain_estimate("C2", "new.example", {"post_llm": vector(target)}, BINS, None, pool)
    assert rec["reference_level"] == "pool" and rec["reference_n"] == 400
    assert rec["share_low"] == 0.0 and rec["share_high"] < 0.5  # as informative as 45 pages allow


def test_a_small_concentrated_reference_still_separates():
    # 38 reference pages nearly all in the lowest bin, and 36 pages of the same kind: clearly not AI text
    reference = np.zeros(20)
    reference[0], reference[3] = 36, 2
    target = np.zeros(20)
    target[0] = 36
    f, n = pop.reference_distribution(reference, pop.smoothed(HUMAN), 1000, pop.PSEUDOCOUNT * 20)
    est, low, high = pop.mixture_estimate(target, f, n, BINS.ai)
    assert est == 0.0 and low == 0.0 and high < 0.3


def test_the_model_fingerprint_follows_what_scores_not_its_description():
    params = json.loads((pop.model_dir() / pop.PARAMS_FILE).read_text())
    fasttext = (pop.model_dir() / pop.FASTTEXT_FILE).read_bytes()
    shipped = pop.model_fingerprint(fasttext, params)
    assert pop.shipped_bins().model == shipped and len(shipped) == 12
    reworded = {**params, "training": {**params["training"], "web_text": "somewhere else"}}
    assert pop.model_fingerprint(fasttext, reworded) == shipped
    recalibrated = {**params, "calibration": {**params["calibration"], "x": [0.0]}}
    assert pop.model_fingerprint(fasttext, recalibrated) != shipped
    assert pop.model_fingerprint(fasttext + b"\0", params) != shipped


def _rounded(value):
    """Records with floats to 9 places: the Beam composite adds a group's parts in another order."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def test_estimate_reference_equals_the_beam_composite():
    """estimate_shares_reference (the bare loop's estimates) gives the records EstimateSyntheticShare gives
    with this run's own pre_llm reference: per domain, crawl and cohort."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    from transforms.synthetic.beam import EstimateSyntheticShare
    from transforms.synthetic.estimate import estimate_shares_reference

    rng = np.random.default_rng(5)
    before, after = datetime.datetime(2020, 3, 1), datetime.datetime(2024, 5, 1)
    rows = []
    for domain, n_before, n_after, share in (("a.example", 80, 60, 0.0), ("b.example", 3, 50, 0.7)):
        rows += scored_rows("C1", domain, draw(rng, n_before, 0.0), before)
        rows += scored_rows("C2", domain, draw(rng, n_after, share), after)
    rows += scored_rows("C2", "new.example", draw(rng, 25, 0.9), after)  # no pre_llm documents of its own
    rows += scored_rows("C2", "tiny.example", [0] * 19 + [2], after)
    rows += [
        {"crawl": "C2", "domain": "a.example", "synthetic_score": None, "status": "kept", "fetch_date": after}
    ]
    rows += [{"crawl": "C2", "domain": "a.example", "synthetic_score": 0.99, "status": "failed"}] * 4
    expected = estimate_shares_reference(rows, bins=BINS)
    assert {len(expected[k]) for k in ("domain", "crawl", "cohort")} and len(expected["domain"]) == 6
    assert {r["crawl"] for r in expected["crawl"]} == {"C1", "C2"}
    by = {(r["crawl"], r["domain"]): r for r in expected["domain"]}
    assert by[("C2", "a.example")]["n_docs"] == 61  # the failed rows are left out
    assert by[("C2", "b.example")]["share_low"] > 0.2 and by[("C2", "a.example")]["share_low"] == 0.0

    def matches(kind, key):
        def check(records):
            got = sorted((_rounded(r) for r in records), key=key)
            assert got == sorted((_rounded(r) for r in expected[kind]), key=key), kind

        return check

    with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as p:
        estimates = p | beam.Create(rows) | EstimateSyntheticShare(bins=BINS)
        assert_that(
            estimates["domain"], matches("domain", lambda r: (r["crawl"], r["domain"])), label="domain"
        )
        assert_that(estimates["crawl"], matches("crawl", lambda r: r["crawl"]), label="crawl")
        assert_that(estimates["cohort"], matches("cohort", lambda r: r["cohort"]), label="cohort")
        assert_that(estimates["crawl"] | beam.combiners.Count.Globally(), equal_to([2]), label="crawls")
