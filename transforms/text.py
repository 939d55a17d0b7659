"""Words: the one tokeniser of the signals (quality rules, synthetic-text features). Pure, no dependencies.

A word is a whitespace-separated token, punctuation attached, as the Gopher paper counts words; in
languages written without spaces every character (or letter with its marks) is one. Dedup tokenises
differently on purpose (``transforms.dedup.minhash.normalize_text``: case-folded, punctuation dropped, a
versioned normalisation its stored indexes depend on).
"""

from __future__ import annotations

import re

#: lid.176 codes of languages written without spaces between words: ``words`` splits them per character.
NO_SPACE_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue", "wuu"})

#: Languages where the Gopher 3..10 mean-word-length range is meaningless: per-character words above,
#: and Korean, whose Hangul blocks are whole syllables (Korean words average ~3 blocks, on the edge).
NO_WORD_LENGTH_LANGS = NO_SPACE_LANGS | {"ko"}

# Character classes of the scripts written without spaces
HAN = "\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
KANA = "\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
# Southeast Asian abugidas: a base letter with the combining marks that follow it is one "word".
THAI = ("\u0e01-\u0e30\u0e32\u0e33\u0e3f-\u0e46\u0e4f-\u0e5b", "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e")
LAO = ("\u0e81-\u0eb0\u0eb2\u0eb3\u0ebd-\u0ec6\u0ed0-\u0edf", "\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ece")
KHMER = ("\u1780-\u17b3\u17d4-\u17dc\u17e0-\u17f9", "\u17b4-\u17d3\u17dd")
MYANMAR = (
    "\u1000-\u102a\u103f-\u1055\u105a-\u105d\u1061\u1065\u1066\u106e-\u1070\u1075-\u1081\u108e\u1090-\u1099"
    "\u109e\u109f",
    "\u102b-\u103e\u1056-\u1059\u105e-\u1060\u1062-\u1064\u1067-\u106d\u1071-\u1074\u1082-\u108d\u108f"
    "\u109a-\u109d",
)
TIBETAN_SYLLABLE = "\u0f40-\u0fbc"  # letters, vowel signs and subjoined letters; the tsheg (U+0F0B) splits
SEGMENTED = "".join(b + m for b, m in (THAI, LAO, KHMER, MYANMAR)) + HAN + KANA + TIBETAN_SYLLABLE
CHAR_WORD_RE = re.compile(
    f"[{HAN}{KANA}]"
    + "".join(f"|[{b}][{m}]*" for b, m in (THAI, LAO, KHMER, MYANMAR))
    + f"|[{TIBETAN_SYLLABLE}]+"
    + rf"|[^\s{SEGMENTED}]+"
    + r"|\S"
)


def normalize_lang(lang: str | None) -> str | None:
    """'zh-Hant' / 'ZH_tw' / 'zh' -> 'zh'; None, '' and 'unknown' -> None."""
    if not lang:
        return None
    code = lang.replace("_", "-").split("-", 1)[0].strip().lower()
    return None if code in ("", "unknown", "und") else code


def words(text: str, lang: str | None = None) -> list[str]:
    """The words every rule counts, for the language `lang` (lid.176 code; None = unknown).

    - Most languages: whitespace-separated tokens (``text.split()``), punctuation attached, as the Gopher
      paper counts words. Korean is one of them: it separates words (eojeol) with spaces.
    - Languages written without spaces (``NO_SPACE_LANGS``: zh, ja, th, lo, km, my, bo, yue, wuu): no
      segmenter is needed or used. Every Han ideograph and every kana is one word; in Thai, Lao, Khmer and
      Myanmar every base letter together with its combining marks is one word; Tibetan splits at the tsheg.
      Runs of anything else (Latin words, digits, punctuation) inside such text stay whole tokens.
      Characters are smaller than words (~1.5 Chinese characters, ~3-5 Thai letters a word), so counts
      are inflated rather than deflated: a page of 50+ characters passes the 50-word minimum, while a
      one-line snippet still fails it. Mean word length is not computed for these languages, and the
      repetition rules read an n-gram as ``n * NGRAM_CHARS_PER_WORD[lang]`` characters (about n words).
    """
    text = text or ""
    if normalize_lang(lang) in NO_SPACE_LANGS:
        return CHAR_WORD_RE.findall(text)
    return text.split()
