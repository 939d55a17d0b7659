"""decide: rules from the thresholds config, in order, one reject_reason, every failed rule listed."""

import pytest

from transforms.decide import decide, failed_rules, load_thresholds, thresholds_from_dict
from transforms.schema import new_row


def scored(**values):
    return new_row(**{"text": "x", "lang": "en", "lang_score": 0.9, "gopher_n_words": 120, **values})


@pytest.fixture(scope="module")
def default():
    return load_thresholds()


def test_default_config_keeps_a_good_row(default):
    row = decide(scored(), default)
    assert row["status"] == "kept"
    assert row["reject_reason"] is None
    assert row["failed_rules"] == []


@pytest.mark.parametrize(
    ("values", "reason", "all_failed"),
    [
        (
            {"text": "", "gopher_n_words": 0, "lang": "unknown", "lang_score": 0.0},
            "empty_text",
            ["empty_text", "too_short", "language_score"],
        ),
        ({"lang_score": 0.5}, "language_score", ["language_score"]),
        ({"gopher_n_words": 49}, "too_short", ["too_short"]),
        ({"gopher_n_words": 10, "lang_score": 0.1}, "too_short", ["too_short", "language_score"]),
    ],
)
def test_default_config_rejects_with_first_failed_rule(default, values, reason, all_failed):
    row = decide(scored(**values), default)
    assert row["status"] == "rejected"
    assert row["reject_reason"] == reason
    assert row["failed_rules"] == all_failed


def test_bounds_are_inclusive(default):
    assert decide(scored(gopher_n_words=50), default)["status"] == "kept"
    assert decide(scored(lang_score=0.65), default)["status"] == "kept"


def test_language_overrides_and_keep_list():
    th = thresholds_from_dict(
        {
            "language": {"min_score": 0.65, "min_score_by_lang": {"hr": 0.4}, "keep": ["en", "hr"]},
            "rules": [
                {"name": "language_score", "column": "lang_score"},
                {"name": "language_not_kept", "column": "lang"},
            ],
        }
    )
    assert failed_rules(scored(lang="hr", lang_score=0.5), th) == []
    assert failed_rules(scored(lang="en", lang_score=0.5), th) == ["language_score"]
    assert failed_rules(scored(lang="de", lang_score=0.99), th) == ["language_not_kept"]


def test_disabled_rule_and_null_column_pass():
    th = thresholds_from_dict(
        {
            "rules": [
                {"name": "too_short", "column": "gopher_n_words", "min": 50, "enabled": False},
                {"name": "no_title", "column": "html_bytes", "max": 10},
            ]
        }
    )
    assert failed_rules(scored(gopher_n_words=1), th) == []
    assert failed_rules(scored(html_bytes=None), th) == []
    assert failed_rules(scored(html_bytes=11), th) == ["no_title"]


def test_failed_rows_pass_through_untouched(default):
    row = scored(status="failed", failure_reason="extract_timeout", text=None)
    assert decide(row, default) == row


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": [{"name": "x", "column": "no_such_column", "min": 1}]}, "unknown column"),
        ({"rules": [{"name": "x", "column": "gopher_n_words", "minimum": 1}]}, "needs name and column"),
        (
            {"rules": [{"name": "x", "column": "gopher_n_words"}, {"name": "x", "column": "lang_score"}]},
            "unique",
        ),
        ({"rules": [{"name": "x", "column": "title", "min": 1}]}, "not a number or boolean"),
    ],
)
def test_bad_config_is_a_clear_error(raw, message):
    with pytest.raises(ValueError, match=message):
        thresholds_from_dict(raw, source="bad.toml")


def test_unreadable_config_file_names_the_file(tmp_path):
    bad = tmp_path / "t.toml"
    bad.write_text("[[rules]\nname=")
    with pytest.raises(ValueError, match="t.toml"):
        load_thresholds(bad)
    with pytest.raises(ValueError, match="missing.toml"):
        load_thresholds(tmp_path / "missing.toml")


def test_float32_signal_at_its_threshold_passes():
    import numpy as np

    th = thresholds_from_dict({"rules": [{"name": "dup", "column": "lang_score", "max": 0.3}]})
    at = float(np.float32(3 / 10))  # what a float32 column holds for 3 of 10 lines: 0.30000001
    assert at > 0.3
    assert failed_rules(scored(lang_score=at), th) == []
    assert failed_rules(scored(lang_score=float(np.float32(0.31))), th) == ["dup"]


def test_values_round_to_float32_as_numpy_rounds_them():
    import math
    import random

    import numpy as np

    from transforms.decide.rules import _float32

    rng = random.Random(0)
    values = [rng.uniform(-1e6, 1e6) for _ in range(2000)] + [rng.random() for _ in range(2000)]
    values += [0.3, 1 / 3, 3e38, 3.5e38, 1e39, -1e39, math.inf, -math.inf, 1e-40, 1e-46, 0.0, -0.0]
    with np.errstate(over="ignore"):
        assert [_float32(v) for v in values] == [float(np.float32(v)) for v in values]
    assert math.isnan(_float32(math.nan))


def test_cohort_from_first_seen_else_fetch_date():
    import datetime as dt

    th = thresholds_from_dict(
        {
            "cohort": {"keep": ["pre_llm"], "post_llm_weight": 0.5},
            "rules": [{"name": "cohort_not_kept", "column": "cohort"}],
        }
    )
    utc = dt.UTC
    old = decide(scored(fetch_date=dt.datetime(2020, 8, 8, tzinfo=utc)), th)
    new = decide(scored(fetch_date=dt.datetime(2024, 5, 20, tzinfo=utc)), th)
    copied = decide(
        {
            **scored(fetch_date=dt.datetime(2024, 5, 20, tzinfo=utc)),
            "first_seen_date": dt.datetime(2019, 1, 2, tzinfo=utc),
        },
        th,
    )
    edge = decide(scored(fetch_date=dt.datetime(2022, 11, 30, 0, 0, 1, tzinfo=utc)), th)
    undated = decide(scored(), th)
    assert [r["cohort"] for r in (old, new, copied, edge, undated)] == [
        "pre_llm",
        "post_llm",
        "pre_llm",
        "post_llm",
        None,
    ]
    assert (old["status"], new["status"], copied["status"]) == ("kept", "rejected", "kept")
    assert (
        new["reject_reason"] == "cohort_not_kept"
        and new["sample_weight"] == 0.5
        and old["sample_weight"] == 1.0
    )
    assert undated["status"] == "rejected"  # keep = [pre_llm] cannot keep a text of unknown age


def test_default_cohort_config_keeps_both():
    import datetime as dt

    th = load_thresholds()
    row = decide(scored(fetch_date=dt.datetime(2024, 5, 20, tzinfo=dt.UTC)), th)
    assert row["cohort"] == "post_llm" and row["status"] == "kept" and row["sample_weight"] == 1.0
    with pytest.raises(ValueError, match="cohort"):
        thresholds_from_dict({"cohort": {"keep": ["ancient"]}})
