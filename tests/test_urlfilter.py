"""URL signals from plain-text block lists, and their rules in the default thresholds config."""

import pytest

from transforms.decide import decide, load_thresholds, thresholds_from_dict
from transforms.decide.urlfilter import UrlLists, normalize_url, read_list, url_signals
from transforms.schema import new_row


@pytest.fixture
def lists(tmp_path):
    (tmp_path / "domains.txt").write_text("# comment\nbad.example\n\nWWW.Farm.example  # trailing comment\n")
    (tmp_path / "urls.txt").write_text("https://www.ok.example/spam/page/\n")
    (tmp_path / "hard.txt").write_text("porn\n")
    (tmp_path / "soft.txt").write_text("hot\ngirls\n")
    return UrlLists.from_files(
        domains=tmp_path / "domains.txt",
        urls=tmp_path / "urls.txt",
        hard_words=tmp_path / "hard.txt",
        soft_words=tmp_path / "soft.txt",
    )


def test_list_format(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text("# header\nA.example\n  b.example  # why\n\n#c.example\n")
    assert read_list(p) == {"a.example", "b.example"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://www.Example.com/a/?q=1", "example.com/a?q=1"),
        ("https://example.com", "example.com"),
        ("example.com/x/", "example.com/x"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_domain_matches_itself_and_subdomains_only(lists):
    assert url_signals("http://bad.example/x", lists)["url_blocked_domain"] is True
    assert url_signals("http://a.b.bad.example/x", lists)["url_blocked_domain"] is True
    assert url_signals("http://www.farm.example/", lists)["url_blocked_domain"] is True
    assert url_signals("http://notbad.example/x", lists)["url_blocked_domain"] is False
    assert url_signals("http://bad.example.org/x", lists)["url_blocked_domain"] is False


def test_url_list_and_words(lists):
    s = url_signals("http://ok.example/spam/page", lists)
    assert s["url_blocked_url"] is True and s["url_blocked_domain"] is False
    s = url_signals("https://ok.example/hot-girls/porn_video?id=1", lists)
    assert (s["url_hard_banned_words"], s["url_soft_banned_words"]) == (1, 2)
    # tokens, not substrings: 'hotel' is not 'hot', 'pornography' is not 'porn'
    s = url_signals("https://ok.example/hotel/pornography", lists)
    assert (s["url_hard_banned_words"], s["url_soft_banned_words"]) == (0, 0)


def test_no_url_gives_nulls(lists):
    assert set(url_signals(None, lists).values()) == {None}


def test_default_config_rejects_by_url_first():
    th = load_thresholds()
    row = new_row(
        id="x", url="https://www.xvideos.com/video1", text="t", lang="en", lang_score=0.99, gopher_n_words=500
    )
    out = decide(row, th)
    assert out["status"] == "rejected" and out["reject_reason"] == "url_blocked_domain"
    out = decide({**row, "url": "https://example.org/hot/sexy/page"}, th)
    assert out["reject_reason"] == "url_soft_banned_words" and out["url_soft_banned_words"] == 2
    out = decide({**row, "url": "https://example.org/hot/page"}, th)
    assert out["status"] == "kept" and out["url_soft_banned_words"] == 1


def test_bad_url_filter_config_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        thresholds_from_dict({"url_filter": {"domains": "missing.txt"}}, source="c.toml", base_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown \\[url_filter\\] key"):
        thresholds_from_dict({"url_filter": {"domain": "x"}}, source="c.toml", base_dir=tmp_path)
