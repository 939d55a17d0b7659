"""Synthetic-text score: the shipped model, its features, metrics, population estimates and training."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline import evaluate_synthetic, train_synthetic
from transforms import synthetic as syn

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
L2R = SHARED_DATA / "synthetic-text-l2r" / "l2r.jsonl.gz"

# Floors a little under what training measured (in-domain 0.92, leave-one-generator-out 0.88-0.97).
IN_DOMAIN_AUROC_FLOOR = 0.90
LOGO_SMALL_AUROC_FLOOR = 0.82  # GPT-4o held out, trained on half of the pairs (measured 0.86)


@pytest.fixture(scope="module")
def l2r_rows() -> list[dict]:
    if not L2R.exists():
        pytest.fail(f"shared L2R data not found at {L2R}")
    return train_synthetic.load_labelled(L2R)


@pytest.fixture(scope="module")
def scorer() -> syn.SyntheticScorer:
    return syn.shipped_scorer()


# --------------------------------------------------------------------------------------------------
# The shipped model
# --------------------------------------------------------------------------------------------------


def test_shipped_model_is_package_data_and_small():
    d = syn.model_dir()
    assert (d / syn.FASTTEXT_FILE).is_file() and (d / syn.PARAMS_FILE).is_file()
    assert (d / syn.MODEL_CARD).is_file()
    total = sum((d / f).stat().st_size for f in (syn.FASTTEXT_FILE, syn.PARAMS_FILE))
    assert total < 10_000_000
    params = json.loads((d / syn.PARAMS_FILE).read_text())
    assert params["combiner"]["inputs"] == list(syn.INPUTS)
    op = params["operating_point"]
    assert syn.FLAG_THRESHOLD == op["threshold"]
    assert 0 <= syn.FPR < syn.TPR <= 1 and 0 <= syn.FPR_IN_DOMAIN < syn.TPR_IN_DOMAIN <= 1
    card = (d / syn.MODEL_CARD).read_text()
    assert "CC BY 3.0" in card and "| in-domain (held-out L2R pairs) |" in card


def test_scores_are_calibrated_probabilities(scorer, l2r_rows):
    texts = [r["text"] for r in l2r_rows[::97]]
    scores = scorer.score_batch(texts)
    assert len(scores) == len(texts)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert len({round(s, 4) for s in scores}) > 20  # a ranking, not a constant


def test_held_out_l2r_auroc(scorer, l2r_rows):
    seed = scorer.params["training"]["seed"]
    cuts = tuple(scorer.params["fasttext"]["settings"]["split"])
    test = [r for r in l2r_rows if train_synthetic.split_of(r["pair_id"], seed, cuts) == "test"]
    assert len(test) > 2000
    scores = scorer.score_batch([r["text"] for r in test])
    labels = [r["label"] == "synthetic" for r in test]
    assert syn.auroc(labels, scores) >= IN_DOMAIN_AUROC_FLOOR
    # calibrated for equal priors: the class-balanced ECE is small
    assert syn.ece(labels, scores, balanced=True) < 0.06


def test_chatbot_phrases_raise_the_score(scorer, l2r_rows):
    humans = [r["text"] for r in l2r_rows if r["label"] == "human" and 300 < len(r["text"]) < 1200][:40]
    plain = scorer.score_batch(humans)
    leaked = scorer.score_batch(
        [f"Sure! Here is a revised version of the text:\n\n{t}\n\nI hope this helps!" for t in humans]
    )
    assert all(b > a for a, b in zip(plain, leaked, strict=True))
    assert syn.count_chatbot_phrases("As an AI language model, I cannot browse the internet.") == 1
    assert syn.count_chatbot_phrases("Of course, it's not just rural pollution.") == 0


def test_edge_cases(scorer):
    assert scorer.score_batch(["", "   \n\t", None]) == [None, None, None]
    one = scorer.score("Hello")
    assert one is not None and abs(one - 0.5) <= 0.05  # thin evidence stays near 0.5
    chinese = "人工智能正在改变我们的生活方式。" * 30
    assert scorer.score(chinese, "zh") is None  # not applicable: English-only model
    assert scorer.score("Das ist ein ganz normaler deutscher Satz über das Wetter.", "de") is None
    forced = scorer.score(chinese)  # no language given: scored as English, still a sane number
    assert forced is not None and 0.0 <= forced <= 1.0
    big = ("The committee met on Tuesday to discuss the budget, and nobody agreed. " * 15_000)[:1_000_000]
    t0 = time.perf_counter()
    s = scorer.score(big, "en")
    assert s is not None and 0.0 <= s <= 1.0 and not math.isnan(s)
    assert time.perf_counter() - t0 < 5
    assert scorer.score("Ünïcödé “quotes” — dashes…   spaces", "en-US") is not None


def test_explain_contributions_add_up(scorer, l2r_rows):
    text = next(r["text"] for r in l2r_rows if r["generator"] == "GPT-4o")
    e = scorer.explain(text)
    assert e["applicable"] and set(e["contributions"]) == set(syn.INPUTS)
    assert math.isclose(sum(e["contributions"].values()) + e["intercept"], e["logit"], abs_tol=1e-9)
    assert math.isclose(e["score"], scorer.score(text), abs_tol=1e-9)
    long_text = "\n\n".join(r["text"] for r in l2r_rows[:30])
    e_long = scorer.explain(long_text)
    assert 1 < e_long["passages"] <= syn.MAX_PASSAGES
    assert math.isclose(e_long["score"], scorer.score(long_text), abs_tol=1e-9)
    assert scorer.explain("", "en")["applicable"] is False


def test_columns_batch(scorer):
    cols = scorer.columns_batch(
        ["As an AI language model, I can't do that. " * 5, "Bonjour à tous", ""], ["en", "fr", "en"]
    )
    assert [set(c) for c in cols] == [set(syn.SYNTHETIC_COLUMN_NAMES)] * 3
    assert cols[0]["synthetic_phrases"] == 5 and math.isclose(
        cols[0]["sample_weight"], 1 - cols[0]["synthetic_score"]
    )
    assert cols[1] == {"synthetic_score": None, "sample_weight": 1.0, "synthetic_phrases": None}
    assert cols[2]["synthetic_score"] is None


# --------------------------------------------------------------------------------------------------
# Normalisation and features
# --------------------------------------------------------------------------------------------------


def test_normalize_for_detection():
    raw = "\u201cHello\u201d \u2014 it\u2019s\u00a0\u00a0fine\u2026\r\n\r\n\r\n  next\tline \u200b"
    assert syn.normalize_for_detection(raw) == '"Hello" - it\'s fine...\nnext line'
    assert syn.normalize_for_detection("cp1252 \x93quote\x94 \x96 dash") == 'cp1252 "quote" - dash'
    assert syn.normalize_for_detection(None) == ""
    assert syn.fasttext_line("It\u2019s 2024, OK!") == "it's 0 , ok !"


def test_style_features():
    llm = (
        "Certainly! Here is a revised version:\n\nThis comprehensive guide delves into the intricate tapestry "
        "of modern finance, showcasing pivotal insights. Additionally, it underscores crucial strategies."
    )
    human = "lol i dont know, we went to the shop and it was shut again. gonna try tomorrow i guess!!"
    f_llm, f_human = syn.style_features(llm), syn.style_features(human)
    assert set(f_llm) == set(syn.FEATURES)
    assert f_llm["chatbot_phrases"] == 1 and f_human["chatbot_phrases"] == 0
    assert f_llm["llm_vocab_rate"] > 20 and f_human["llm_vocab_rate"] == 0
    assert f_human["informal_rate"] > f_llm["informal_rate"]
    assert syn.style_features("**Key point:** this\n## Heading")["markdown_rate"] > 0
    assert syn.style_features("- a list item\n- another")["markdown_rate"] == 0
    assert f_llm["sentence_length_cv"] is None or f_llm["sentence_length_cv"] >= 0
    empty = syn.style_features("")
    assert all(v is None for k, v in empty.items() if k != "chatbot_phrases")
    german = syn.style_features("Das ist ein Satz. Noch ein Satz hier. Und ein dritter Satz.", "de")
    assert all(german[k] is None for k in syn.ENGLISH_ONLY_FEATURES)
    assert german["lexical_diversity"] is not None and german["sentence_length_cv"] is not None
    chinese = syn.style_features("我们今天去了公园。天气很好，人很多。", "zh")
    assert chinese["mean_word_length"] is None and chinese["lexical_diversity"] is not None


def test_passages_cover_long_documents():
    t = " ".join(f"Sentence number {i} is here." for i in range(2000))
    parts = syn.passages(t)
    assert len(parts) == syn.MAX_PASSAGES
    assert all(200 < len(p) < 2 * syn.PASSAGE_CHARS for p in parts)
    assert parts[0].startswith("Sentence number 0 ") and parts[-1].endswith("1999 is here.")
    assert syn.passages("short text") == ["short text"] and syn.passages("") == []


# --------------------------------------------------------------------------------------------------
# Metrics (hand-computed cases)
# --------------------------------------------------------------------------------------------------


def test_auroc_hand_cases():
    assert syn.auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert syn.auroc([0, 1], [0.5, 0.5]) == 0.5
    assert syn.auroc([0, 0, 1], [0.2, 0.9, 0.9]) == 0.75  # one win, one tie out of two pairs
    assert syn.auroc([1, 1], [0.1, 0.2]) is None
    assert evaluate_synthetic.auroc is syn.auroc


def test_tpr_at_fpr_hand_cases():
    # 100 negatives scored 0.00 .. 0.99, 4 positives
    y = [0] * 100 + [1] * 4
    s = [i / 100 for i in range(100)] + [0.995, 0.985, 0.5, 0.2]
    # FPR <= 1% allows a threshold above 0.98 (one negative, 0.99, flagged): 2 of 4 positives pass
    assert syn.tpr_at_fpr(y, s, 0.01) == 0.5
    assert syn.tpr_at_fpr(y, s, 0.0) == 0.25  # only 0.995 beats every negative
    assert syn.tpr_at_fpr(y, s, 0.5) == 0.75  # threshold 0.5: 50 negatives, 3 positives
    assert syn.tpr_at_fpr([0, 1], [0.7, 0.7], 0.01) == 0.0  # tied with the negative: nothing passes


def test_ece_hand_cases():
    assert math.isclose(syn.ece([0, 1, 1, 1], [0.2, 0.2, 0.8, 0.8]), 0.25)
    assert syn.ece([0, 1], [0.0, 1.0]) == 0.0
    # balanced: the one negative weighs 1/2, each of the three positives 1/6
    y, p = [0, 1, 1, 1], [0.2, 0.2, 0.8, 0.8]
    # bin 0.2: weights 0.5 (neg) + 1/6 (pos): rate 0.25 vs 0.2 -> 0.05 * 2/3; bin 0.8: rate 1 vs 0.8 -> 0.2 * 1/3
    assert math.isclose(syn.ece(y, p, balanced=True), 0.05 * 2 / 3 + 0.2 / 3)


def test_isotonic_and_logistic():
    kx, ky = syn.fit_isotonic(np.array([1, 2, 3, 4.0]), np.array([0, 1, 0, 1.0]), prior=1.0)
    assert kx.tolist() == [1.0, 2.5, 4.0]
    assert np.allclose(ky, [0.25, 0.5, 0.75])
    assert np.allclose(syn.calibrate(np.array([0.0, 1.75, 9.0]), kx, ky), [0.25, 0.375, 0.75])
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 2))
    y = (z[:, 0] + 0.1 * rng.normal(size=400) > 0).astype(float)
    coef, _ = syn.fit_logistic(z, y)
    assert coef[0] > 2 and abs(coef[1]) < 0.5


# --------------------------------------------------------------------------------------------------
# Population estimates
# --------------------------------------------------------------------------------------------------


def test_adjusted_share_constructed_case():
    # 1000 documents, 30% synthetic, TPR 0.8, FPR 0.1: expected flags 0.3*0.8*1000 + 0.7*0.1*1000 = 310
    share, low, high = syn.adjusted_share(310, 1000, 0.8, 0.1)
    assert math.isclose(share, 0.3)
    assert low < 0.3 < high and high - low < 0.15
    # uncertainty of TPR / FPR widens the interval
    _, low2, high2 = syn.adjusted_share(310, 1000, 0.8, 0.1, n_pos=200, n_neg=200)
    assert low2 < low and high2 > high
    assert syn.adjusted_share(50, 1000, 0.8, 0.1)[0] == 0.0  # below the FPR: clipped
    assert syn.adjusted_share(1000, 1000, 0.8, 0.1)[0] == 1.0
    assert syn.adjusted_share(0, 0, 0.8, 0.1) == (None, None, None)
    with pytest.raises(ValueError):
        syn.adjusted_share(10, 100, 0.3, 0.3)


def test_adjusted_share_interval_coverage():
    rng = np.random.default_rng(1)
    tpr, fpr, n = 0.8, 0.15, 400
    for true_share in (0.1, 0.4):
        p_flag = true_share * tpr + (1 - true_share) * fpr
        hits = 0
        draws = rng.binomial(n, p_flag, size=2000)
        for k in draws:
            _, low, high = syn.adjusted_share(int(k), n, tpr, fpr)
            hits += low <= true_share <= high
        assert 0.93 <= hits / len(draws) <= 0.975


def test_content_farm_rule():
    farm = {"n_scored": 50, "share_low": 0.7}
    assert syn.is_content_farm(farm, 0.5) and not syn.is_content_farm({**farm, "n_scored": 5}, 0.5)
    assert not syn.is_content_farm({"n_scored": 50, "share_low": None}, 0.5)  # no estimate of its own


# --------------------------------------------------------------------------------------------------
# Training: pair split, leave-one-generator-out, reproducibility
# --------------------------------------------------------------------------------------------------


def test_split_keeps_pairs_together(l2r_rows):
    sides: dict[str, set] = {}
    for r in l2r_rows:
        if r["pair_id"]:
            sides.setdefault(r["pair_id"], set()).add(train_synthetic.split_of(r["pair_id"], 0, (0.7, 0.85)))
    assert all(len(s) == 1 for s in sides.values())
    counts = {s: sum(1 for v in sides.values() if s in v) for s in ("train", "cal", "test")}
    assert 0.66 < counts["train"] / len(sides) < 0.74


@pytest.fixture(scope="module")
def small_corpus(l2r_rows):
    """Half of the L2R pairs (every 2nd), with their splits."""
    pairs = sorted({r["pair_id"] for r in l2r_rows if r["pair_id"]})[::2]
    keep = set(pairs)
    rows = [r for r in l2r_rows if r["pair_id"] in keep]
    corpus = train_synthetic.Corpus.build(
        [r["text"] for r in rows], [int(r["label"] == "synthetic") for r in rows]
    )
    splits = np.array([train_synthetic.split_of(r["pair_id"], 0, (0.7, 0.85)) for r in rows])
    domains = np.array([r["domain"] for r in rows])
    generators = np.array([r["generator"] for r in rows])
    return rows, corpus, splits, domains, generators


def test_leave_one_generator_out(small_corpus):
    rows, corpus, splits, domains, generators = small_corpus
    held = "GPT-4o"
    train = np.flatnonzero((splits == "train") & (generators != held))
    cal = np.flatnonzero((splits == "cal") & (generators != held))
    test = np.flatnonzero((splits == "test") & np.isin(generators, [held, "human"]))
    settings = train_synthetic.Settings()
    fitted = train_synthetic.fit(corpus, train, cal, domains, generators, settings, seed=0, quantize=False)
    scores = train_synthetic.score_texts(corpus, fitted, test)
    assert syn.auroc(corpus.y[test], scores) >= LOGO_SMALL_AUROC_FLOOR


def test_training_is_reproducible(small_corpus, tmp_path):
    rows, corpus, splits, domains, generators = small_corpus
    idx = np.arange(len(rows))[::6]  # a small subset: a few seconds per fit
    train, cal, test = (idx[splits[idx] == s] for s in ("train", "cal", "test"))
    settings = train_synthetic.Settings(bucket=20_000, quantize_cutoff=5_000, epoch=5)
    a = train_synthetic.fit(corpus, train, cal, domains, generators, settings, seed=7, quantize=True)
    b = train_synthetic.fit(corpus, train, cal, domains, generators, settings, seed=7, quantize=True)
    sa = train_synthetic.score_texts(corpus, a, test)
    sb = train_synthetic.score_texts(corpus, b, test)
    assert np.array_equal(sa, sb)
    assert np.array_equal(a.coef, b.coef) and np.array_equal(a.knots_y, b.knots_y)
    # the saved model scores as the training code does
    params = a.params(settings)
    params["operating_point"] = {"threshold": 0.5}
    a.ft.save_model(str(tmp_path / syn.FASTTEXT_FILE))
    (tmp_path / syn.PARAMS_FILE).write_text(json.dumps(params))
    loaded = syn.SyntheticScorer.load(tmp_path)
    assert np.allclose(loaded.score_batch([rows[i]["text"] for i in test]), sa, atol=1e-6)


def test_evaluate_cli(tmp_path, l2r_rows, capsys):
    sample = [r for r in l2r_rows if r["domain"] in ("Sports", "Religious")][::5]
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sample))
    out = tmp_path / "metrics.json"
    assert evaluate_synthetic.main(["--input", str(path), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "overall" in table and "domain=Sports" in table and "generator=GPT-4o" in table
    result = json.loads(out.read_text())
    assert result["overall"]["n"] == len(sample) and 0.5 < result["overall"]["auroc"] <= 1
    assert {"tpr_at_1pct_fpr", "ece", "estimated_share"} <= set(result["overall"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "robot"}\n')
    assert evaluate_synthetic.main(["--input", str(bad)]) == 2
