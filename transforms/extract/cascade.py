"""The cascade: a cheap pass first, trafilatura only for pages that the cheap pass's text does not reject.

trafilatura is most of the pipeline's CPU, and most crawled pages are rejected. The cheap pass is
Resiliparse's text of the *whole page* (``extract_page_text``: every visible text node, no main-content
detection; ~6% of trafilatura's CPU): language ID and the quality signals of that text are computed on the
spot, and a page whose page text fails a thresholds rule *by a margin* is decided there: it keeps the page
text (``extractor = "resiliparse_page"``) and the decide stage rejects it, for the same rule or an earlier
one. Every other page is extracted by trafilatura and carries trafilatura's text, so what is kept is what
trafilatura everywhere would keep, with trafilatura's text.

Why the page text and not Resiliparse's main-content text: trafilatura's text is (nearly) a subset of the
page's visible text, so counts on the page text (words, distinct stop words, sentences) bound trafilatura's
from above. Resiliparse's main-content detection sometimes drops the article (on the shared data it finds
0-3 words on pages trafilatura keeps), so no margin on its counts is safe. Fractions (short lines,
punctuation, duplicated lines) move either way between texts and are never used. Pages the URL rules or a
digest mismatch reject are decided before any extraction (``cheap``).

The rules and margins are in the thresholds config (``[cascade]``): each names a rule of the config with a
``min`` bound and a factor; a page is skipped when resiliparse's value is below factor x bound. Because the
factor is below 1, a skipped page fails the rule itself on the text it keeps: decide rejects it whatever
the dedup stage says. A rule that is disabled in the config is not used by the cascade either.
Margins were measured on the shared data: ``python -m bench.cascade_bench report``.

Pure: no Beam.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.decide import LANGUAGE_SCORE, Thresholds, failed_rules, thresholds_from_config, url_signals
from transforms.extract import KIND_CASCADE, KIND_TRAFILATURA

CASCADE_KEYS = {"enabled", "skip_below", "max_html_chars"}
DEFAULT_MAX_HTML_CHARS = 20_000


@dataclass(frozen=True)
class SkipRule:
    """Skip trafilatura when resiliparse's `column` is below `bound` (= factor x the rule's minimum)."""

    name: str  # the thresholds rule it is a margin of (too_short, language_score, ...)
    column: str
    factor: float
    bound: float


@dataclass(frozen=True)
class Cascade:
    enabled: bool
    rules: tuple[SkipRule, ...]
    # pages with more HTML than this (after script/style removal) go straight to trafilatura
    max_html_chars: int = DEFAULT_MAX_HTML_CHARS

    def to_json(self) -> dict:
        return {
            "enabled": self.enabled,
            "rules": [vars(r) for r in self.rules],
            "max_html_chars": self.max_html_chars,
        }

    @classmethod
    def from_json(cls, data: dict) -> Cascade:
        return cls(
            bool(data["enabled"]),
            tuple(SkipRule(**r) for r in data["rules"]),
            int(data.get("max_html_chars", DEFAULT_MAX_HTML_CHARS)),
        )


def cascade_from_dict(raw: dict, thresholds: Thresholds, source: str = "<dict>") -> Cascade:
    """The [cascade] table of a thresholds config -> Cascade (errors name the config)."""
    table = raw.get("cascade", {})
    unknown = set(table) - CASCADE_KEYS
    if unknown:
        raise ValueError(
            f"{source}: unknown [cascade] key(s) {sorted(unknown)}; known: {sorted(CASCADE_KEYS)}"
        )
    by_name = {rule.name: rule for rule in thresholds.rules}
    rules = []
    for name, factor in table.get("skip_below", {}).items():
        rule = by_name.get(name)
        if rule is None:
            raise ValueError(f"{source}: [cascade] skip_below names {name!r}, which is no rule of the config")
        if not isinstance(factor, int | float) or not 0 <= factor < 1:
            raise ValueError(
                f"{source}: [cascade] skip_below.{name} must be a factor in [0, 1), not {factor!r}"
            )
        if not rule.enabled:
            continue  # a rule that does not reject cannot be decided early either
        if rule.name == LANGUAGE_SCORE:
            # the lowest bound of any language: the trafilatura text may be identified as another one
            minimum = min([thresholds.lang_min_score, *thresholds.lang_min_score_by_lang.values()])
        elif rule.min is not None:
            minimum = rule.min
        else:
            raise ValueError(f"{source}: [cascade] skip_below.{name}: the rule has no min bound to be below")
        rules.append(SkipRule(name, rule.column, float(factor), float(factor) * float(minimum)))
    max_html_chars = table.get("max_html_chars", DEFAULT_MAX_HTML_CHARS)
    if not isinstance(max_html_chars, int) or max_html_chars < 0:
        raise ValueError(
            f"{source}: [cascade] max_html_chars must be a count of characters, not {max_html_chars!r}"
        )
    return Cascade(
        enabled=bool(table.get("enabled", True)) and bool(rules),
        rules=tuple(rules),
        max_html_chars=max_html_chars,
    )


def load_cascade(config: dict) -> Cascade:
    """The cascade of a thresholds config (``transforms.decide.read_thresholds``)."""
    return cascade_from_dict(config, thresholds_from_config(config), config.get("source", "<config>"))


def extractor_kind(extractor: str, cascade: bool, config: dict | None) -> tuple[str, dict | None]:
    """(Extractor kind, options): the cascade for trafilatura with `cascade` when the thresholds config
    has an enabled [cascade] rule, else `extractor` itself."""
    if extractor != KIND_TRAFILATURA or not cascade:
        return extractor, None
    rules = load_cascade(config)
    return (KIND_CASCADE, rules.to_json()) if rules.enabled else (extractor, None)


def skip_reason(signals: dict, cascade: Cascade) -> str | None:
    """The first skip rule resiliparse's signals fall below, or None (trafilatura is needed)."""
    for rule in cascade.rules:
        value = signals.get(rule.column)
        if value is not None and value < rule.bound:
            return rule.name
    return None


# Rules decided from what is known before extraction: the URL's block-list signals and the digest check.
BEFORE_EXTRACTION_COLUMNS = frozenset(
    {
        "url_blocked_domain",
        "url_blocked_url",
        "url_hard_banned_words",
        "url_soft_banned_words",
        "digest_verified",
    }
)


def decided_before_extraction(row: dict, thresholds: Thresholds) -> str | None:
    """The first enabled rule a response row fails on its URL or digest alone (decide will reject it for
    that rule, whatever its text), or None."""
    known = {"url": row.get("url"), "digest_verified": row.get("digest_verified")}
    known.update(url_signals(row.get("url"), thresholds.url_lists))
    columns = {rule.name: rule.column for rule in thresholds.rules}
    for name in failed_rules(known, thresholds):
        if columns[name] in BEFORE_EXTRACTION_COLUMNS:
            return name
    return None


def text_signals(text: str, lid_model, columns: tuple[str, ...] | None = None) -> dict:
    """lang, lang_score and the quality signals of a text, as the score stage computes them.

    With `columns`, only the signal groups that hold them are computed (Gopher quality, C4, or all).
    """
    from transforms.signals import langid, quality

    lang, score = langid.identify(lid_model, [text])[0]
    signals = {"lang": lang, "lang_score": score}
    wanted = {c for c in columns or () if c not in signals}
    if columns is None or wanted - GOPHER_QUALITY_COLUMNS - C4_COLUMNS:
        signals.update(quality.quality_signals(text, lang))
        return signals
    if wanted & GOPHER_QUALITY_COLUMNS:
        signals.update(quality.gopher_quality_signals(text, lang))
    if wanted & C4_COLUMNS:
        signals.update(quality.c4_signals(text, lang))
    return signals


GOPHER_QUALITY_COLUMNS = frozenset(
    {
        "gopher_n_words",
        "gopher_mean_word_length",
        "gopher_symbol_word_ratio",
        "gopher_bullet_lines_frac",
        "gopher_ellipsis_lines_frac",
        "gopher_alpha_words_frac",
        "gopher_stop_words",
    }
)
C4_COLUMNS = frozenset({"c4_n_lines", "c4_lines_kept_frac", "c4_n_sentences", "c4_n_sentences_terminal"})


class CascadeExtraction:
    """(html, url) -> ExtractResult: the page text's when a skip rule decides the page, else trafilatura's.

    Runs where the extractor runs (the time-limited child): the language model is loaded on first use.
    If the cheap pass itself fails on a page, trafilatura decides it as if there were no cascade.
    `cheap(html, url, reason)` is for pages decided before extraction (URL block lists, digest mismatch).
    """

    def __init__(self, cascade: Cascade):
        self.cascade = cascade
        self.columns = tuple(rule.column for rule in cascade.rules)
        self._lid = None

    def __call__(self, html: str, url: str | None = None):
        from transforms.extract import (
            KIND_PAGE_TEXT,
            KIND_TRAFILATURA,
            extract_page_text,
            extract_trafilatura,
        )

        if self.cascade.enabled and len(html) <= self.cascade.max_html_chars:
            try:
                first = extract_page_text(html, url)
                if self._lid is None:
                    from transforms.signals import langid

                    self._lid = langid.load_model()
                why = skip_reason(text_signals(first.text or "", self._lid, self.columns), self.cascade)
            except Exception:  # noqa: BLE001 - the cheap pass failing only means trafilatura decides
                why = None
            if why is not None:
                first.extractor, first.skipped_by = KIND_PAGE_TEXT, why
                return first
        result = extract_trafilatura(html, url)
        result.extractor = KIND_TRAFILATURA
        return result

    def cheap(self, html: str, url: str | None, reason: str):
        from transforms.extract import KIND_PAGE_TEXT, extract_page_text

        result = extract_page_text(html, url)
        result.extractor, result.skipped_by = KIND_PAGE_TEXT, reason
        return result
