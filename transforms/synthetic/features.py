"""Synthetic-text detection, the text side: one normal form, style features, prose lines and the abstain
rule (no model)."""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Sequence

from transforms.text import NO_SPACE_LANGS, NO_WORD_LENGTH_LANGS, normalize_lang, words

#: Languages the model was trained on (lid.176 codes). Other languages score None.
SUPPORTED_LANGS = frozenset({"en"})

# --------------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------------

_TRANSLATE = str.maketrans(
    {
        # curly, prime and accent quotes -> straight (CMSs like WordPress "smarten" quotes on their own)
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4\u0060", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        # hyphens and dashes -> '-' (the same CMSs turn '--' into en / em dashes)
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        "\u2026": "...",
        # cp1252 punctuation mis-decoded as C1 controls (a frequent mojibake)
        "\x91": "'",
        "\x92": "'",
        "\x93": '"',
        "\x94": '"',
        "\x96": "-",
        "\x97": "-",
        "\x85": "...",
        # invisible format characters
        **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
    }
)
_SPECIAL_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in _TRANSLATE) + "]")
_REPLACE = {chr(c): v for c, v in _TRANSLATE.items()}
# only the whitespace that changes: runs of 2+, or one tab / NBSP / other space; line breaks with spaces
_HSPACE = re.compile(r"[^\S\n]{2,}|[^\S \n]")
_LINE_BREAKS = re.compile(r" \n\s*|\n\s+")


def normalize_for_detection(text: str | None) -> str:
    """One typographic form for every text, applied before training and before scoring.

    NFC; curly quotes, primes and guillemets -> straight quotes; hyphen/dash variants -> '-'; '…' ->
    '...'; cp1252 quotes and dashes mis-decoded as C1 control characters -> their ASCII forms; zero-width
    characters removed; CR/CRLF -> LF; runs of horizontal whitespace (tabs, NBSP, double spaces) -> one
    space; runs of blank lines -> one line break; no leading/trailing whitespace. Line breaks survive (as
    single '\\n'): Markdown headings need them. In public detection data these differ between the human
    and the AI side (L2R: Gemini outputs end in blank lines and hold double spaces, 27% of human passages
    have double spaces), so a model that saw them would learn the data set, not the author.
    """
    if not text:
        return ""
    t = text if text.isascii() else unicodedata.normalize("NFC", text)
    # one regex pass replacing only the special characters (str.translate costs ~2 ms per 6 KB)
    t = _SPECIAL_CHARS.sub(lambda m: _REPLACE[m.group()], t)
    if "\r" in t:
        t = t.replace("\r\n", "\n").replace("\r", "\n")
    t = _HSPACE.sub(" ", t)
    t = _LINE_BREAKS.sub("\n", t)
    return t.strip()


_FT_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)?|[^\w\s]|_+")


def fasttext_line(text: str, normalized: bool = False) -> str:
    """The fastText input for a text: normalised, lower-cased, words and punctuation as separate tokens,
    digit runs -> '0' (numbers are content, not style), on one line."""
    t = text if normalized else normalize_for_detection(text)
    return " ".join("0" if tok[0].isdigit() else tok for tok in _FT_TOKEN.findall(t.lower()))


# --------------------------------------------------------------------------------------------------
# Style features
# --------------------------------------------------------------------------------------------------

#: Phrases chat assistants leak into text that is pasted into web pages (refusals, preambles of a
#: rewrite, sign-offs). Near-certain evidence when present, rare otherwise. Matched on the lower-cased
#: normalised text; each pattern runs only where its literal key occurs (one regex alternation over a
#: whole page costs ~7 ms per 6 KB).
CHATBOT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("as an ai", r"\bas an ai\b"),
    ("language model", r"\bas a (?:large )?language model\b"),
    ("hope th", r"\b(?:i )?hope (?:this|that) helps\b"),
    ("hope th", r"\bi hope (?:this|the above) (?:information|explanation|answer) (?:is|was) helpful\b"),
    ("sorry", r"\b(?:i'm|i am) sorry,? but (?:i|as an)\b"),
    ("afraid", r"\b(?:i'm|i am) afraid,? but (?:i|as an)\b"),
    ("i ca", r"\bi (?:cannot|can't) (?:fulfill|assist with|help with|comply|provide)\b"),
    ("i am ", r"\bi am (?:unable|not able) to (?:fulfill|assist with|help with|comply|provide)\b"),
    ("as of my", r"\bas of my (?:last|latest) (?:knowledge )?(?:update|training)\b"),
    ("my knowledge", r"\bmy knowledge (?:cutoff|cut-off)\b"),
    ("my training", r"\bmy training (?:cutoff|cut-off|data)\b"),
    ("regenerate", r"\bregenerate response\b"),
    (
        "i don't have",
        r"\bi don't have (?:personal (?:opinions|experiences|feelings)|real-time|access to real-time)\b",
    ),
    ("let me know if you", r"\blet me know if you (?:have|need|would like|want)\b"),
    ("feel free to", r"\bfeel free to (?:ask|let me know|reach out) if you (?:have|need|would like|want)\b"),
    ("would you like me to", r"\bwould you like me to\b"),
    ("in this re", r"\bin this (?:rewritten|revised|reworded) version\b"),
)
_CHATBOT_RES = tuple((key, re.compile(p)) for key, p in CHATBOT_PATTERNS)
#: A reply's opening, on a line of its own start: "Sure! ...", "Certainly! Here is ...", "Here's a
#: revised version of the text:" (the first form only at the very start of the text).
_REPLY_OPENERS = ("sure", "certainly", "absolutely", "of course", "here")
_FIRST_LINE_RE = re.compile(r"(?:sure|certainly|absolutely)(?: thing)?[!:]")
_OPENING_LINE_RE = re.compile(
    r"(?:(?:sure|certainly|absolutely|of course)(?: thing)?[!,.:]? (?:here(?: is|'s| are)|i'd be happy to)\b)"
    r"|(?:(?:(?:sure|certainly|absolutely|of course)[!,.]? )?here(?: is|'s| are) (?:a |an |the |your |my |some )?"
    r"[\w ,'-]{0,60}?(?:version|rewrite|rewording|revision|rephrasing|paraphrase|summary|breakdown|overview|"
    r"text|passage|content|list|draft|response|explanation)\b[^\n]{0,80}?:)"
)
CHATBOT_CAP = 3

#: Markdown that renders in a chat window but not on a web page: **bold**, __bold__, '# ' headings, code
#: fences, table rows. (Plain '- ' / '* ' bullets are not counted: HTML extractors write list items so.)
_MARKDOWN_RES = (
    (
        "**",
        re.compile(r"(?<![\w*])\*\*(?=[^\s*])[^*\n]{1,80}(?<=[^\s*])\*\*(?![\w*])"),
    ),  # not "CCI**", "Ni** My**"
    ("__", re.compile(r"(?<![\w_])__(?=[^\s_])[^_\n]{1,80}(?<=[^\s_])__(?![\w_])")),
    ("#", re.compile(r"(?m:^#{1,6} \S)")),
    ("```", re.compile(r"```")),
    ("|", re.compile(r"(?m:^\|.*\|$)")),
)


def count_markdown(t: str) -> int:
    """Chat Markdown marks in a normalised text (each regex runs only if its key character is there)."""
    return sum(len(rx.findall(t)) for key, rx in _MARKDOWN_RES if key in t)


#: Words over-used by chat LLMs relative to human text of the same period, from the literature (Kobak et
#: al. 2024 "Delving into ChatGPT usage in academic writing through excess vocabulary"; Liang et al. 2024
#: "Mapping the increasing use of LLMs in scientific papers") and widely reported lists. Fixed, not
#: learned from the training data, so it does not memorise its topics.
LLM_WORDS: frozenset[str] = frozenset(
    """
    delve delves delved delving tapestry tapestries intricate intricacies intricately multifaceted pivotal
    crucial crucially comprehensive comprehensively seamless seamlessly showcase showcases showcased
    showcasing underscore underscores underscored underscoring notably foster fosters fostered fostering
    realm realms landscape landscapes navigate navigates navigating navigated testament vibrant embark
    embarks embarking embarked bolster bolsters bolstering meticulous meticulously leverage leverages
    leveraging leveraged robust holistic nuanced nuances paramount profound profoundly enhance enhances
    enhancing enhanced enhancement insights insightful invaluable endeavor endeavors endeavour endeavours
    commendable noteworthy furthermore moreover additionally ultimately elevate elevates elevating resonate
    resonates resonating garner garnered garnering encompass encompasses encompassing utilize utilizes
    utilizing utilization facilitate facilitates facilitating streamline streamlined streamlining myriad
    plethora unwavering bustling captivating captivate enigmatic symphony interplay transformative
    groundbreaking unleash unleashing unlock unlocking harness harnessing empower empowering empowers
    nestled boasts renowned intriguing fascinating remarkable exceptional evident heartfelt immerse immersive
    whimsical beacon labyrinth unparalleled indelible poignant vital essential significant significantly
    various ensure ensures ensuring effectively particularly emphasizing emphasize emphasizes emphasized
    highlighting highlights highlighted valuable exhibited exhibit exhibits innovative dynamic strategically
    thereby consequently overall diverse journey
    """.split()
)

#: English function words (the ~100 most frequent closed-class words).
STOP_WORDS_EN: frozenset[str] = frozenset(
    """a an the and or but if then so of in on at to for from by with about as into through over after before
    is are was were be been being am do does did have has had i you he she it we they me him her us them my
    your his its our their this that these those there here what which who whom whose when where why how not
    no all any some can could will would shall should may might must just also very too than only own same
    such more most other""".split()
)

#: Informal and sloppy tokens humans type and chat models do not (missing apostrophes, chat slang).
INFORMAL_WORDS: frozenset[str] = frozenset(
    """lol lmao omg btw imo imho idk tbh haha hahaha gonna wanna gotta kinda sorta yeah yep nope ok okay u ur
    im dont cant wont didnt doesnt isnt wasnt ive thats whats youre theyre cuz cos coz plz pls thx ya yea
    hey wow ugh hmm""".split()
)

WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_CONTRACTION_RE = re.compile(r"(?<=[^\W\d_])'(?:t|re|ve|ll|m|d)\b", re.IGNORECASE)
_PARTICIPLE_RE = re.compile(r", [^\W\d_]+ing\b")  # ", highlighting ...", ", making it ..."
_SLOPPY_PUNCT_RES = (
    (("!!", "!?", "?!", "??"), re.compile(r"[!?]{2,}")),
    (("..",), re.compile(r"\.{4,}|(?<![.\w])\.\.(?![.\w])")),
    ((":", ";"), re.compile(r"[:;]-?[)(DPp](?!\w)")),
)


def _sloppy_punctuation(t: str) -> int:
    """'!!', '?!', '??', '....', '..', emoticons."""
    return sum(len(rx.findall(t)) for keys, rx in _SLOPPY_PUNCT_RES if any(k in t for k in keys))


_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_SENTENCE_OPENERS = "\"'([{-*# "

#: The style features, in model order. Each is a property of a passage (~100-300 words) that stays
#: meaningful on any genre: the model never sees length, layout or topic words.
FEATURES: tuple[str, ...] = (
    "chatbot_phrases",  # leaked assistant phrases (count in the whole document, capped at 3)
    "markdown_rate",  # chat Markdown per 100 tokens
    "llm_vocab_rate",  # LLM_WORDS per 100 words
    "compression_ratio",  # zlib bytes / UTF-8 bytes (repetitive, predictable text compresses better)
    "sentence_length_cv",  # burstiness: std / mean of sentence lengths (>= 3 sentences)
    "lexical_diversity",  # moving-average type-token ratio over 40-word windows (MATTR)
    "mean_word_length",  # letters per word
    "stop_word_rate",  # function words / words
    "comma_rate",  # commas / words
    "participle_rate",  # ", <verb>ing" clauses per sentence (an LLM habit, Reinhart et al. 2024)
    "contraction_rate",  # n't, 're, 've, 'll, 'm, 'd / words
    "informal_rate",  # chat slang, missing apostrophes, lower-case 'i', '!!', '??', emoticons / words
    "lowercase_start_rate",  # sentences starting with a lower-case letter / sentences
)
#: Features whose combiner input is log(1 + value) (counts and heavy-tailed rates).
LOG_FEATURES: frozenset[str] = frozenset(
    {
        "chatbot_phrases",
        "markdown_rate",
        "llm_vocab_rate",
        "participle_rate",
        "contraction_rate",
        "informal_rate",
    }
)
#: Features that only mean something in English (None for other languages).
ENGLISH_ONLY_FEATURES: frozenset[str] = frozenset(
    {
        "chatbot_phrases",
        "llm_vocab_rate",
        "stop_word_rate",
        "participle_rate",
        "contraction_rate",
        "informal_rate",
    }
)
MATTR_WINDOW = 40
MIN_SENTENCES_FOR_CV = 3


def count_chatbot_phrases(text: str, normalized: bool = False) -> int:
    """Leaked chat-assistant phrases (``CHATBOT_PATTERNS``) in `text`."""
    t = (text if normalized else normalize_for_detection(text)).lower()
    n = sum(len(rx.findall(t)) for key, rx in _CHATBOT_RES if key in t)
    if _FIRST_LINE_RE.match(t):
        n += 1
    elif t.startswith(_REPLY_OPENERS) and _OPENING_LINE_RE.match(t):
        n += 1
    for opener in _REPLY_OPENERS:
        start = t.find("\n" + opener)
        while start >= 0:
            n += bool(_OPENING_LINE_RE.match(t, start + 1))
            start = t.find("\n" + opener, start + 1)
    return n


def _mattr(tokens: Sequence[str], window: int = MATTR_WINDOW) -> float | None:
    """Moving-average type-token ratio (Covington & McFall 2010): TTR of every `window`-token window,
    averaged; plain TTR for shorter texts. Nearly independent of text length, unlike TTR."""
    n = len(tokens)
    if n == 0:
        return None
    if n <= window:
        return len(set(tokens)) / n
    counts: dict[str, int] = {}
    for w in tokens[:window]:
        counts[w] = counts.get(w, 0) + 1
    distinct = len(counts)
    total = distinct
    for i in range(window, n):
        new, old = tokens[i], tokens[i - window]
        c = counts.get(new, 0)
        counts[new] = c + 1
        distinct += c == 0
        c = counts[old] - 1
        counts[old] = c
        distinct -= c == 0
        total += distinct
    return total / (n - window + 1) / window


def _passage_features(t: str, lang: str | None, n_phrases: int | None) -> dict[str, float | None]:
    """FEATURES of one normalised passage (`n_phrases`: chatbot phrases, counted by the caller)."""
    f: dict[str, float | None] = dict.fromkeys(FEATURES)
    english = lang is None or lang in SUPPORTED_LANGS
    tokens = t.split()
    if lang in NO_SPACE_LANGS:
        ws = [w.lower() for w in words(t, lang) if w[0].isalnum()]
    else:
        ws = [w.lower() for w in WORD_RE.findall(t)]
    if english and n_phrases is not None:
        f["chatbot_phrases"] = float(min(CHATBOT_CAP, n_phrases))
    n = len(ws)
    if n == 0:
        return f
    f["markdown_rate"] = 100.0 * count_markdown(t) / len(tokens)
    data = t.encode("utf-8")
    f["compression_ratio"] = len(zlib.compress(data, 6)) / len(data)
    sentences = [s for s in _SENTENCE_SPLIT_RE.split(t) if s.strip()]
    lengths = [len(s.split()) for s in sentences]
    if len(lengths) >= MIN_SENTENCES_FOR_CV:
        mean = sum(lengths) / len(lengths)
        f["sentence_length_cv"] = math.sqrt(sum((x - mean) ** 2 for x in lengths) / len(lengths)) / mean
    f["lexical_diversity"] = _mattr(ws)
    if lang not in NO_WORD_LENGTH_LANGS:
        f["mean_word_length"] = sum(map(len, ws)) / n
    f["comma_rate"] = (t.count(",") + t.count("\uff0c") + t.count("\u3001")) / n
    starts = [s.lstrip(_SENTENCE_OPENERS) for s in sentences]
    starts = [s for s in starts if s and s[0].isalpha() and s[0].lower() != s[0].upper()]
    if starts:
        f["lowercase_start_rate"] = sum(1 for s in starts if s[0].islower()) / len(starts)
    if english:
        f["llm_vocab_rate"] = 100.0 * sum(1 for w in ws if w in LLM_WORDS) / n
        f["stop_word_rate"] = sum(1 for w in ws if w in STOP_WORDS_EN) / n
        f["participle_rate"] = len(_PARTICIPLE_RE.findall(t)) / max(1, len(sentences))
        f["contraction_rate"] = len(_CONTRACTION_RE.findall(t)) / n
        sloppy = sum(1 for w in ws if w in INFORMAL_WORDS) + tokens.count("i") + _sloppy_punctuation(t)
        f["informal_rate"] = sloppy / n
    return f


def style_features(text: str | None, lang: str | None = None) -> dict[str, float | None]:
    """The style features (``FEATURES``) of a whole text, after ``normalize_for_detection``.

    None means not applicable: no words; fewer than 3 sentences for ``sentence_length_cv``; no letter
    opening a sentence; and, for a `lang` other than English, the English-only features
    (``ENGLISH_ONLY_FEATURES``). Without `lang` the text is taken as English. The scorer computes the
    same features on the prose sample of a document (see ``prose_sample``).
    """
    t = normalize_for_detection(text)
    lang = normalize_lang(lang)
    return _passage_features(t, lang, count_chatbot_phrases(t, normalized=True))


# --------------------------------------------------------------------------------------------------
# Prose: what the score judges, and when there is nothing to judge
# --------------------------------------------------------------------------------------------------

#: A prose line has at least MIN_PROSE_LINE_WORDS words and ends at least one sentence (a letter, digit or
#: closing mark followed by '.', '!' or '?', then optional closing quotes / brackets, then a space or the
#: end of the line; '...' does not count). Menus, link lists, product grids, SERP titles, bylines and
#: share buttons are not prose; the score judges only prose lines, so boilerplate cannot decide it.
MIN_PROSE_LINE_WORDS = 8
#: A document is scored only with at least MIN_WORDS words, at least MIN_PROSE_WORDS of them in prose
#: lines, and a prose share (prose words / words) of at least MIN_PROSE_FRACTION; else it abstains
#: (synthetic_score null, ``synthetic_abstain_reason`` says why).
MIN_WORDS = 50
MIN_PROSE_WORDS = 50
MIN_PROSE_FRACTION = 0.3
#: The score reads at most SAMPLE_CHARS characters of prose: whole prose lines picked evenly over the
#: document (so a 1 MB page costs what a 6 KB one does, and its start does not decide alone).
SAMPLE_CHARS = 2000

ABSTAIN_NOT_ENGLISH = "not_english"
ABSTAIN_TOO_SHORT = "too_short"
ABSTAIN_NOT_PROSE = "not_prose"
ABSTAIN_REASONS = (ABSTAIN_NOT_ENGLISH, ABSTAIN_TOO_SHORT, ABSTAIN_NOT_PROSE)

# the end mark first (the regex engine skips quickly to it), then what precedes it
_SENTENCE_END_RE = re.compile(r"[.!?](?<=[^\s.][.!?])[\"'\u201d\u2019\u00bb)\]]*(?=\s|$)")


def prose_lines(text: str | None) -> tuple[int, int, list[str]]:
    """(words, words in prose lines, the prose lines) of a text (see MIN_PROSE_LINE_WORDS)."""
    n_words = prose_words = 0
    lines = []
    for line in (text or "").split("\n"):
        n = len(line.split())
        n_words += n
        if n >= MIN_PROSE_LINE_WORDS and _SENTENCE_END_RE.search(line):
            prose_words += n
            lines.append(line.strip())
    return n_words, prose_words, lines


def abstain_reason(
    lang: str | None,
    n_words: int,
    prose_words: int,
    min_words: int = MIN_WORDS,
    min_prose_words: int = MIN_PROSE_WORDS,
    min_prose_fraction: float = MIN_PROSE_FRACTION,
) -> str | None:
    """Why a document gets no score (None: it is scored). `lang` None is taken as English."""
    lang = normalize_lang(lang)
    if lang is not None and lang not in SUPPORTED_LANGS:
        return ABSTAIN_NOT_ENGLISH
    if n_words < min_words:
        return ABSTAIN_TOO_SHORT
    if prose_words < min_prose_words or prose_words < min_prose_fraction * n_words:
        return ABSTAIN_NOT_PROSE
    return None


def prose_sample(lines: Sequence[str], max_chars: int = SAMPLE_CHARS) -> str:
    """At most ~`max_chars` of `lines`: all of them if they fit, else whole lines spread evenly over the
    document (a single line longer than the cap is cut at a space)."""
    total = sum(len(line) + 1 for line in lines)
    if total <= max_chars + 1:
        return "\n".join(lines)
    n = len(lines)
    k = max(1, min(n, round(max_chars * n / total)))
    picked = [lines[(i * n) // k] for i in range(k)]
    out, size = [], 0
    for line in picked:
        if size + len(line) > max_chars:
            if not out:
                cut = line.rfind(" ", 0, max_chars)
                out.append(line[: cut if cut > 0 else max_chars])
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
