"""Synthetic-text score: the shipped model, its features, metrics, population estimates and training."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.evaluate import synthetic as evaluate_synthetic
from pipeline.train import synthetic as train_synthetic
from transforms import synthetic as syn

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
L2R = SHARED_DATA / "synthetic-text-l2r" / "l2r.jsonl.gz"

# Floors a little under what training measured (held-out L2R 0.95, see the model card).
IN_DOMAIN_AUROC_FLOOR = 0.93
LOGO_SMALL_AUROC_FLOOR = 0.82  # GPT-4o held out, trained on half of the pairs


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
    inputs = params["combiner"]["inputs"]
    assert inputs[0] == "fasttext_margin" and set(inputs) <= set(syn.INPUTS)
    op = params["operating_point"]
    assert syn.FLAG_THRESHOLD == op["threshold"]
    assert 0 <= syn.FPR < syn.TPR <= 1 and 0 <= syn.FPR_IN_DOMAIN < syn.TPR_IN_DOMAIN <= 1
    assert {"n_pos", "n_neg"} <= set(op["out_of_domain"])
    hist = params["histograms"]
    assert len(hist["edges"]) == 21 and hist["edges"][0] == 0 and hist["edges"][-1] == 1
    for key in ("human_web", "human_l2r", "ai"):
        assert len(hist[key]) == 20 and sum(hist[key]) > 100
    # the AI scores sit higher than the human web scores
    mean = {k: np.dot(hist[k], np.diff(hist["edges"]).cumsum()) / sum(hist[k]) for k in ("human_web", "ai")}
    assert mean["ai"] > mean["human_web"] + 0.3
    card = (d / syn.MODEL_CARD).read_text()
    assert "CC BY 3.0" in card and "| held-out L2R pairs |" in card


def test_scores_are_calibrated_probabilities(scorer, l2r_rows):
    texts = [r["text"] for r in l2r_rows[::37]]
    scores = scorer.score_batch(texts)
    assert len(scores) == len(texts)
    scored = [s for s in scores if s is not None]
    assert len(scored) > len(texts) / 2
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scored)
    assert len({round(s, 4) for s in scored}) > 20  # a ranking, not a constant


def test_held_out_l2r_auroc(scorer, l2r_rows):
    seed = scorer.params["training"]["seed"]
    cuts = tuple(scorer.params["fasttext"]["settings"]["split"])
    test = [r for r in l2r_rows if train_synthetic.split_of(r["pair_id"], seed, cuts) == "test"]
    assert len(test) > 2000
    all_scores = scorer.score_batch([r["text"] for r in test])
    scores = [s for s in all_scores if s is not None]
    labels = [r["label"] == "synthetic" for r, s in zip(test, all_scores, strict=True) if s is not None]
    assert len(scores) > 1500
    assert syn.auroc(labels, scores) >= IN_DOMAIN_AUROC_FLOOR
    assert syn.tpr_at_fpr(labels, scores, 0.01) >= 0.4


def test_chatbot_phrases_raise_the_score(scorer, l2r_rows):
    humans = [r["text"] for r in l2r_rows if r["label"] == "human" and 300 < len(r["text"]) < 1200]
    humans = [t for t in humans if scorer.score(t) is not None][:40]
    plain = scorer.score_batch(humans)
    leaked = scorer.score_batch(
        [f"Sure! Here is a revised version of the text:\n\n{t}\n\nI hope this helps!" for t in humans]
    )
    assert all(b > a for a, b in zip(plain, leaked, strict=True))
    assert syn.count_chatbot_phrases("As an AI language model, I cannot browse the internet.") == 1
    assert syn.count_chatbot_phrases("Of course, it's not just rural pollution.") == 0


PROSE = (
    "The committee met on Tuesday to discuss the budget for next year, and nobody agreed on anything. "
    "Several members argued that the proposed cuts would hurt the library more than the roads. "
    "After three hours the chair adjourned the meeting and promised a vote before the end of the month."
)


def test_abstain_rule_cases(scorer):
    """Nothing to judge -> no score and a reason; prose -> a probability."""
    menu = "\n".join(["Home", "News", "Sports", "Weather", "Contact us", "About", "Privacy policy"] * 12)
    links = "\n".join(f"Cheap flights to city number {i} from only 20 dollars" for i in range(40))
    serp = "\n".join(
        f"Result title {i}\nexample{i}.com/page\nA snippet of the page that ends in the middle of a ..."
        for i in range(15)
    )
    grid = "\n".join(f"Blue cotton shirt, size {i}\n$19.99\nAdd to cart" for i in range(30))
    cases = {
        "": "too_short",
        "Hello": "too_short",
        PROSE[:120]: "too_short",
        menu: "not_prose",
        links: "not_prose",
        serp: "not_prose",
        grid: "not_prose",
        # a little prose under a big menu: under the prose share
        menu + "\n" + menu + "\n" + PROSE: "not_prose",
    }
    for text, reason in cases.items():
        score, why, _ = scorer.score_one(text, "en")
        assert (score, why) == (None, reason), text[:60]
    assert scorer.score_one(PROSE, "de")[:2] == (None, "not_english")
    assert scorer.score_batch(["", "   \n\t", None]) == [None, None, None]
    for text in (PROSE, "Home\nNews\nSports\n" + PROSE + "\nShare this\nTweet"):
        score, why, _ = scorer.score_one(text, "en")
        assert why is None and 0.0 <= score <= 1.0
    # the rule itself, on counts
    assert syn.abstain_reason("en", 49, 49) == "too_short"
    assert syn.abstain_reason("en", 200, 49) == "not_prose"
    assert syn.abstain_reason("en", 200, 59) == "not_prose"  # under 30% prose
    assert syn.abstain_reason("en-US", 200, 60) is None and syn.abstain_reason(None, 50, 50) is None
    assert syn.abstain_reason("zh", 500, 500) == "not_english"


def test_edge_cases(scorer):
    chinese = "人工智能正在改变我们的生活方式。" * 30
    assert scorer.score(chinese, "zh") is None  # not applicable: English-only model
    big = ("The committee met on Tuesday to discuss the budget, and nobody agreed. " * 15_000)[:1_000_000]
    s = scorer.score(big, "en")
    assert s is not None and 0.0 <= s <= 1.0 and not math.isnan(s)
    assert len(scorer.explain(big, "en")["sample"]) <= syn.SAMPLE_CHARS
    quoted = PROSE.replace("budget", "\u201cbudget\u201d \u2014").replace("  ", "\u00a0 ")
    assert scorer.score(quoted, "en-US") is not None


def test_prose_lines_and_sample():
    text = "Menu\nHome | About\n" + "\n".join(
        f"Line {i} has exactly enough words to count as prose." for i in range(100)
    )
    n_words, prose_words, lines = syn.prose_lines(text)
    assert n_words == 4 + 100 * 10 and prose_words == 1000 and len(lines) == 100
    sample = syn.prose_sample(lines, 600)
    picked = sample.split("\n")
    assert len(sample) <= 600 and picked[0] == lines[0]
    assert "Line 9" in picked[-1] or int(picked[-1].split()[1]) > 80  # spread over the whole document
    assert syn.prose_sample(lines[:2], 600) == "\n".join(lines[:2])
    assert syn.prose_lines("A list of eight words with no end")[1] == 0
    assert syn.prose_lines("Eight words that trail off into nothing at all...")[1] == 0
    assert syn.prose_lines("He said \u201cthis line of eight words ends a sentence.\u201d")[1] == 10


def test_explain_contributions_add_up(scorer, l2r_rows):
    text = next(
        r["text"] for r in l2r_rows if r["generator"] == "GPT-4o" and scorer.score(r["text"]) is not None
    )
    e = scorer.explain(text)
    assert e["applicable"] and set(e["contributions"]) == set(scorer.inputs)
    assert math.isclose(sum(e["contributions"].values()) + e["intercept"], e["logit"], abs_tol=1e-9)
    assert math.isclose(e["score"], scorer.score(text), abs_tol=1e-9)
    e_none = scorer.explain("", "en")
    assert e_none["applicable"] is False and e_none["abstain_reason"] == "too_short"


def test_columns_batch(scorer):
    cols = scorer.columns_batch(
        [
            "As an AI language model, I can't do that for you, but here is what I can say. " * 5,
            "Bonjour à tous",
            "",
        ],
        ["en", "fr", "en"],
    )
    assert [set(c) for c in cols] == [set(syn.SYNTHETIC_COLUMN_NAMES)] * 3
    assert "synthetic_abstain_reason" in syn.SYNTHETIC_COLUMN_NAMES
    assert cols[0]["synthetic_phrases"] == 5 and cols[0]["synthetic_abstain_reason"] is None
    assert math.isclose(cols[0]["sample_weight"], 1 - cols[0]["synthetic_score"])
    assert cols[1] == {
        "synthetic_score": None,
        "sample_weight": 1.0,
        "synthetic_phrases": None,
        "synthetic_abstain_reason": "not_english",
    }
    assert cols[2]["synthetic_score"] is None and cols[2]["sample_weight"] == 1.0
    assert cols[2]["synthetic_abstain_reason"] == "too_short"


def test_held_out_web_fpr_is_measured_by_the_evaluation_code(scorer, shared_data):
    """The FPR on held-out human web text, recomputed here with the evaluation code, is what training
    measured and wrote into the model's metrics, and under the 2% target per source."""
    from pipeline.train.web_text import load_web_text

    records = [r for r in load_web_text() if r["lang"] == "en" and r["pre_llm"] and r["split"] == "test"]
    result = evaluate_synthetic.web_fpr(scorer, records)
    pooled = result["by_source"]["pooled"]
    metrics = json.loads((syn.model_dir() / syn.METRICS_FILE).read_text())
    measured = metrics["results"]["web_test_fpr"]
    assert set(result["by_source"]) == set(measured) == {"web-pages-pre2022", "aeb", "warc-samples", "pooled"}
    for source, b in result["by_source"].items():
        assert (b["scored"], b["flagged"]) == (measured[source]["n"], measured[source]["flagged"]), source
        assert b["fpr"] <= 0.02, source
    assert pooled["scored"] > 150 and pooled["abstained"] < 0.5
    # the population estimate's FPR comes from web pages of sources held out of training: also small
    assert syn.FPR <= 0.02 and syn.FPR_N > pooled["scored"]
    # and the threshold does flag AI text
    assert syn.TPR > 0.4


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
def small_docs(l2r_rows, shared_data):
    """Half of the L2R pairs (every 2nd) and the human web text, as training documents."""
    from pipeline.train.web_text import load_web_text

    keep = set(sorted({r["pair_id"] for r in l2r_rows if r["pair_id"]})[::2])
    rows = [r for r in l2r_rows if r["pair_id"] in keep]
    web = [r for r in load_web_text() if r["lang"] == "en" and r["pre_llm"]]
    settings = train_synthetic.Settings()
    return rows, train_synthetic.build_docs(rows, web, 0, settings), settings


def test_training_documents(small_docs):
    rows, docs, _ = small_docs
    assert set(docs.kind) == {"l2r", "wrapped", "web"}
    # every test text of L2R is measured plain and wrapped in page boilerplate; the wrapped form holds it
    test_l2r = np.flatnonzero((docs.kind == "l2r") & (docs.split == "test"))
    test_wrapped = np.flatnonzero((docs.kind == "wrapped") & (docs.split == "test"))
    assert len(test_l2r) == len(test_wrapped) > 0
    for i, j in zip(test_l2r[:50], test_wrapped[:50], strict=True):
        assert docs.texts[i] in docs.texts[j] and len(docs.texts[j]) > len(docs.texts[i])
        assert docs.y[i] == docs.y[j]
    # both classes are wrapped, in training too
    train_wrapped = (docs.kind == "wrapped") & (docs.split == "train")
    assert {0, 1} == set(docs.y[train_wrapped])
    assert set(docs.source[docs.kind == "web"]) == {"web-pages-pre2022", "aeb", "warc-samples"}
    assert docs.scored.mean() > 0.5 and not docs.scored.all()


def test_leave_one_generator_out(small_docs):
    _, docs, settings = small_docs
    held = "GPT-4o"
    keep = docs.generator != held
    train = np.flatnonzero((docs.split == "train") & keep)
    cal = np.flatnonzero((docs.split == "cal") & keep)
    test = np.flatnonzero((docs.split == "test") & np.isin(docs.generator, [held, "human"]) & docs.scored)
    fitted = train_synthetic.fit(docs, train, cal, settings, seed=0, quantize=False)
    scores = train_synthetic.score_docs(fitted, train_synthetic.inputs_of(docs, fitted, test))
    l2r = docs.kind[test] == "l2r"
    assert syn.auroc(docs.y[test][l2r], scores[l2r]) >= LOGO_SMALL_AUROC_FLOOR
    web = docs.kind[test] == "web"
    assert (scores[web] >= fitted.threshold).mean() <= 0.05


def test_training_is_reproducible(small_docs, tmp_path):
    _, docs, settings = small_docs
    idx = np.arange(len(docs.y))[::6]  # a small subset: a few seconds per fit
    train, cal, test = (idx[docs.split[idx] == s] for s in ("train", "cal", "test"))
    test = test[docs.scored[test]]
    settings = dataclasses.replace(settings, bucket=20_000, quantize_cutoff=5_000, epoch=5)
    a = train_synthetic.fit(docs, train, cal, settings, seed=7, quantize=True)
    b = train_synthetic.fit(docs, train, cal, settings, seed=7, quantize=True)
    sa = train_synthetic.score_docs(a, train_synthetic.inputs_of(docs, a, test))
    sb = train_synthetic.score_docs(b, train_synthetic.inputs_of(docs, b, test))
    assert np.array_equal(sa, sb) and a.threshold == b.threshold
    assert np.array_equal(a.coef, b.coef) and np.array_equal(a.knots_y, b.knots_y)
    a.ft.save_model(str(tmp_path / "a.ftz"))
    b.ft.save_model(str(tmp_path / "b.ftz"))
    assert (tmp_path / "a.ftz").read_bytes() == (tmp_path / "b.ftz").read_bytes()
    # the saved model scores as the training code does
    params = a.params(settings)
    params["operating_point"] = {"threshold": a.threshold}
    a.ft.save_model(str(tmp_path / syn.FASTTEXT_FILE))
    (tmp_path / syn.PARAMS_FILE).write_text(json.dumps(params))
    loaded = syn.SyntheticScorer.load(tmp_path)
    assert np.allclose(loaded.score_batch([docs.texts[i] for i in test]), sa, atol=1e-6)


def test_evaluate_cli(tmp_path, l2r_rows, capsys):
    sample = [r for r in l2r_rows if r["domain"] in ("Sports", "Religious")][::5]
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sample))
    out = tmp_path / "metrics.json"
    assert evaluate_synthetic.main(["--input", str(path), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "overall" in table and "domain=Sports" in table and "generator=GPT-4o" in table
    result = json.loads(out.read_text())
    assert result["overall"]["n"] + result["skipped"] == len(sample) and 0.5 < result["overall"]["auroc"] <= 1
    assert result["skipped"] == sum(result["abstained"].values()) > 0
    assert set(result["abstained"]) <= {"too_short", "not_prose"}
    assert {"tpr_at_1pct_fpr", "ece", "estimated_share"} <= set(result["overall"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "robot"}\n')
    assert evaluate_synthetic.main(["--input", str(bad)]) == 2
    # --web: FPR per source on the shared human web text
    web_json = tmp_path / "web.json"
    assert evaluate_synthetic.main(["--web", "--json", str(web_json)]) == 0
    web = json.loads(web_json.read_text())
    assert web["threshold"] == syn.FLAG_THRESHOLD and web["by_source"]["pooled"]["scored"] > 150
