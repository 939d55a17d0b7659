"""Synthetic (AI-generated) text: a per-document likelihood, its explanation, and population estimates.

Per-document detectors are brittle outside their training data; population estimates are far more
trustworthy. This module has both, as pure functions (no Beam at import):

- ``normalize_for_detection(text)``: whitespace, quotes, dashes, ellipses, cp1252 mojibake -> one form, so
  that neither the model nor the features learn how a data set was *typeset* instead of who wrote it.
- ``style_features(text, lang)``: cheap, robust style signals (``FEATURES``).
- ``SyntheticScorer``: the shipped model (``transforms/models/``: a small fastText classifier scored by its
  raw margin, a logistic-regression combiner of that margin with the style features, and an isotonic
  calibrator), with ``score_batch`` (calibrated P(synthetic) in [0, 1]) and ``explain`` (per-feature
  contributions in logit units). Trained by ``pipeline/train_synthetic.py``; see
  ``transforms/models/SYNTHETIC_MODEL_CARD.md`` for data, licence, metrics and blind spots.
- ``auroc``, ``tpr_at_fpr``, ``ece``: the metrics every report uses.
- ``adjusted_share``, ``shrink``, ``prior_strength``: adjusted classify-and-count population estimates,
  and ``EstimateSyntheticShare`` (a Beam composite, built on first use) for per-domain and per-crawl shares.

Scores are calibrated to *equal class priors*: 0.5 means "as likely human as synthetic", whatever the
share of synthetic text in the training set (4:1 in L2R) or on the web (unknown, and what the population
estimate is for). Only English is scored (``SUPPORTED_LANGS``): the model and most features are English;
other languages, and texts without a word, get ``None`` (not applicable), like the quality signals do.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pyarrow as pa

from transforms.quality import NO_SPACE_LANGS, NO_WORD_LENGTH_LANGS, normalize_lang, words

# --------------------------------------------------------------------------------------------------
# Model files and the operating point
# --------------------------------------------------------------------------------------------------

MODEL_DIR = "models"  # inside the `transforms` package (package data: Dataflow workers get it)
FASTTEXT_FILE = "synthetic.ftz"
PARAMS_FILE = "synthetic.json"
METRICS_FILE = "synthetic_metrics.json"
MODEL_CARD = "SYNTHETIC_MODEL_CARD.md"

#: Languages the model was trained on (lid.176 codes). Other languages score None.
SUPPORTED_LANGS = frozenset({"en"})

LABEL_SYNTHETIC = "__label__synthetic"
LABEL_HUMAN = "__label__human"


def model_dir() -> Path:
    """The shipped model directory (`transforms/models`, package data)."""
    return Path(str(importlib.resources.files("transforms") / MODEL_DIR))


def _load_params(directory: Path | None = None) -> dict | None:
    path = (directory or model_dir()) / PARAMS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_SHIPPED = _load_params() or {}
_OP = _SHIPPED.get("operating_point", {})

#: Calibrated score at or above which a document counts as flagged in population estimates. 0.5 under
#: equal priors is where the likelihood ratio is 1, i.e. the threshold maximising TPR - FPR (Forman's
#: "Max" method), which keeps the variance of the adjusted estimate smallest.
FLAG_THRESHOLD: float = float(_OP.get("threshold", 0.5))
#: TPR / FPR at FLAG_THRESHOLD used by the population estimate: measured on held-out domains and
#: generators (leave-one-domain-out and leave-one-generator-out on L2R, pooled), the situation the web is
#: in. In-domain (held-out L2R pairs) rates are kept too: they are optimistic for the web.
TPR: float | None = _OP.get("out_of_domain", {}).get("tpr")
FPR: float | None = _OP.get("out_of_domain", {}).get("fpr")
TPR_N: int | None = _OP.get("out_of_domain", {}).get("n_pos")
FPR_N: int | None = _OP.get("out_of_domain", {}).get("n_neg")
TPR_IN_DOMAIN: float | None = _OP.get("in_domain", {}).get("tpr")
FPR_IN_DOMAIN: float | None = _OP.get("in_domain", {}).get("fpr")

#: Columns this stage adds to the document row.
SYNTHETIC_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    (
        "synthetic_score",
        pa.float32(),
        "calibrated P(AI-generated) under equal priors, in [0, 1] (null: not English, or no words)",
    ),
    (
        "sample_weight",
        pa.float32(),
        "training weight for the synthetic 'weight' mode: 1 - synthetic_score (1 when the score is null)",
    ),
    (
        "synthetic_phrases",
        pa.int32(),
        "leaked chatbot phrases found ('As an AI language model', 'Sure! Here is a revised version:' ...)",
    ),
]
SYNTHETIC_COLUMN_NAMES = [name for name, _, _ in SYNTHETIC_COLUMNS]

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
    if _SPECIAL_CHARS.search(t):  # str.translate is slow (~2 ms / 6 KB): only when needed
        t = t.translate(_TRANSLATE)
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

_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
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
        ws = [w.lower() for w in _WORD_RE.findall(t)]
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
    same features per passage of a long document (see ``passages``).
    """
    t = normalize_for_detection(text)
    lang = normalize_lang(lang)
    return _passage_features(t, lang, count_chatbot_phrases(t, normalized=True))


# --------------------------------------------------------------------------------------------------
# Passages: documents are scored as L2R-sized pieces
# --------------------------------------------------------------------------------------------------

#: The training passages are 12-410 words (1-99th percentile), median ~90. A document up to
#: SINGLE_PASSAGE_CHARS is scored whole; a longer one as pieces of ~PASSAGE_CHARS, at most MAX_PASSAGES
#: of them spread evenly over the text (so a 1 MB page costs no more than a 10 KB one).
SINGLE_PASSAGE_CHARS = 2000
PASSAGE_CHARS = 1200
MAX_PASSAGES = 8
#: Below this many words the evidence is thin: the calibrated score is pulled towards 0.5 in proportion.
FULL_EVIDENCE_WORDS = 20


def _snap(t: str, i: int, limit: int = 200) -> int:
    """A position near `i` at a sentence or line boundary (else a space), at most `limit` chars on."""
    if i <= 0 or i >= len(t):
        return max(0, min(i, len(t)))
    window = t[i : i + limit]
    for sep in ("\n", ". ", "? ", "! "):
        j = window.find(sep)
        if j >= 0:
            return i + j + len(sep)
    j = window.find(" ")
    return i + j + 1 if j >= 0 else i


def passages(t: str) -> list[str]:
    """The pieces of a normalised text that are scored (see SINGLE_PASSAGE_CHARS)."""
    if len(t) <= SINGLE_PASSAGE_CHARS:
        return [t] if t else []
    n = min(MAX_PASSAGES, math.ceil(len(t) / PASSAGE_CHARS))
    size = len(t) / n if n < MAX_PASSAGES else PASSAGE_CHARS
    step = (len(t) - size) / (n - 1) if n > 1 else 0
    out = []
    for k in range(n):
        start = _snap(t, int(k * step)) if k else 0
        end = _snap(t, int(k * step + size)) if k < n - 1 else len(t)
        piece = t[start:end].strip()
        if piece:
            out.append(piece)
    return out


# --------------------------------------------------------------------------------------------------
# The combiner and the calibrator (numpy; fitted by pipeline/train_synthetic.py)
# --------------------------------------------------------------------------------------------------

#: Inputs of the combiner, in order: the fastText margin, then the style features.
INPUTS: tuple[str, ...] = ("fasttext_margin", *FEATURES)


def design_matrix(rows: Iterable[dict]) -> np.ndarray:
    """Rows of {input name: value or None} -> float matrix over INPUTS (NaN = missing; LOG_FEATURES
    as log1p)."""
    x = np.array([[np.nan if r.get(k) is None else r[k] for k in INPUTS] for r in rows], dtype=np.float64)
    x = x.reshape(-1, len(INPUTS))
    for j, name in enumerate(INPUTS):
        if name in LOG_FEATURES:
            x[:, j] = np.log1p(x[:, j])
    return x


class Standardizer:
    """Clip each input to the training range, standardise, and put missing values at the mean (0):
    a feature that cannot be measured contributes nothing. Clipping keeps web pages unlike anything in
    training from extrapolating the linear model."""

    def __init__(self, lo, hi, mean, std):
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.mean, self.std = np.asarray(mean, float), np.asarray(std, float)

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        lo = np.nanpercentile(x, 0.5, axis=0)
        hi = np.nanpercentile(x, 99.5, axis=0)
        # rare count features (a chatbot phrase in 2% of texts) keep their full range
        rare = hi <= lo
        hi[rare] = np.nanmax(x, axis=0)[rare]
        clipped = np.clip(x, lo, hi)
        mean = np.nanmean(clipped, axis=0)
        std = np.nanstd(clipped, axis=0)
        std[~(std > 0)] = 1.0
        return cls(lo, hi, mean, std)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (np.clip(x, self.lo, self.hi) - self.mean) / self.std
        return np.where(np.isnan(z), 0.0, z)

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("lo", "hi", "mean", "std")}


def fit_logistic(
    z: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, l2: float = 1.0, max_iter: int = 100
) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (IRLS): (coefficients, intercept).

    `weights` default to balanced classes (each class weighs half). The intercept is not penalised.
    """
    y = np.asarray(y, dtype=np.float64)
    n, d = z.shape
    if weights is None:
        pos = y.mean()
        weights = np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))
    a = np.hstack([z, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    penalty = l2 * np.eye(d + 1)
    penalty[-1, -1] = 0.0
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -35, 35)))
        grad = a.T @ (weights * (p - y)) + penalty @ beta
        hess = (a * (weights * p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta[:-1], float(beta[-1])


def fit_isotonic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, prior: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic (non-decreasing) regression of y on x by pool-adjacent-violators: (knots x, knots y).

    Each block's value is smoothed towards 0.5 by `prior` pseudo-observations (so no score is exactly 0
    or 1), and sits at the weighted mean x of its block; ``calibrate`` interpolates linearly between
    knots and holds the end values beyond them.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    order = np.argsort(x, kind="mergesort")
    x, y, w = x[order], y[order], w[order]
    # tied x values form one initial block
    uniq, start = np.unique(x, return_index=True)
    sw = np.add.reduceat(w, start)
    swy = np.add.reduceat(w * y, start)
    swx = np.add.reduceat(w * x, start)
    blocks: list[list[float]] = []  # [sum w, sum w*y, sum w*x]
    for i in range(len(uniq)):
        blocks.append([sw[i], swy[i], swx[i]])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] >= blocks[-1][1] / blocks[-1][0]:
            b = blocks.pop()
            blocks[-1] = [blocks[-1][0] + b[0], blocks[-1][1] + b[1], blocks[-1][2] + b[2]]
    knots_x = np.array([b[2] / b[0] for b in blocks])
    knots_y = np.array([(b[1] + 0.5 * prior) / (b[0] + prior) for b in blocks])
    return knots_x, knots_y


def calibrate(logits: np.ndarray, knots_x: np.ndarray, knots_y: np.ndarray) -> np.ndarray:
    return np.interp(np.asarray(logits, float), knots_x, knots_y)


def sample_weight(score: float | None) -> float:
    """The synthetic 'weight' mode's training weight: 1 - score (1 when there is no score)."""
    return 1.0 if score is None else float(1.0 - score)


# --------------------------------------------------------------------------------------------------
# The scorer
# --------------------------------------------------------------------------------------------------


class SyntheticScorer:
    """The shipped synthetic-text model: fastText margin + style features -> logistic combiner ->
    isotonic calibration. Load once per worker (``DoFn.setup``); scoring is thread-compatible, not
    thread-safe (fastText's Python binding)."""

    def __init__(self, params: dict, fasttext_model, directory: Path | None = None):
        self.params = params
        self.directory = directory
        self.ft = fasttext_model
        self.direction = np.asarray(params["fasttext"]["direction"], dtype=np.float64)
        c = params["combiner"]
        if list(c["inputs"]) != list(INPUTS):
            raise ValueError(f"model inputs {c['inputs']} do not match this code's {list(INPUTS)}: retrain")
        self.standardizer = Standardizer(**c["standardizer"])
        self.coef = np.asarray(c["coef"], float)
        self.intercept = float(c["intercept"])
        self.knots_x = np.asarray(params["calibration"]["x"], float)
        self.knots_y = np.asarray(params["calibration"]["y"], float)
        self.threshold = float(params.get("operating_point", {}).get("threshold", FLAG_THRESHOLD))

    @classmethod
    def load(cls, directory: str | Path | None = None) -> SyntheticScorer:
        """Load the model from `directory` (default: the shipped ``transforms/models``)."""
        import fasttext

        d = Path(directory) if directory else model_dir()
        params = _load_params(d)
        if params is None:
            raise FileNotFoundError(
                f"synthetic model parameters {d / PARAMS_FILE} missing or unreadable: run `make models` "
                "(python -m pipeline.train_synthetic)"
            )
        path = d / params["fasttext"]["file"]
        try:
            model = fasttext.load_model(str(path))
        except Exception as exc:  # fastText raises ValueError / RuntimeError on bad files
            raise RuntimeError(f"cannot load fastText model {path}: {exc}") from exc
        return cls(params, model, d)

    # -- pieces ---------------------------------------------------------------------------------

    def margin(self, line: str) -> float:
        """Raw fastText margin (synthetic minus human logit) of one fastText input line: the sentence
        vector times the difference of the two label vectors. Unlike predict()'s probabilities it does
        not saturate, so it ranks well at low false-positive rates."""
        if not line:
            return 0.0
        return float(self.ft.get_sentence_vector(line) @ self.direction)

    def _inputs(self, text: str | None, lang: str | None) -> tuple[list[dict], int, int] | None:
        """Combiner inputs of each passage, chatbot-phrase count, word count; None = not applicable."""
        lang = normalize_lang(lang)
        if lang is not None and lang not in SUPPORTED_LANGS:
            return None
        t = normalize_for_detection(text)
        n_words = len(t.split())
        if not _WORD_RE.search(t):
            return None
        n_phrases = count_chatbot_phrases(t, normalized=True)
        rows = []
        for p in passages(t):
            row = _passage_features(p, lang, n_phrases)
            row["fasttext_margin"] = self.margin(fasttext_line(p, normalized=True))
            rows.append(row)
        return rows, n_phrases, n_words

    def _logits(self, rows: list[dict]) -> np.ndarray:
        return self.standardizer(design_matrix(rows)) @ self.coef + self.intercept

    def _finish(self, logit: float, n_words: int) -> float:
        p = float(calibrate(np.array([logit]), self.knots_x, self.knots_y)[0])
        evidence = min(1.0, n_words / FULL_EVIDENCE_WORDS)
        return float(min(1.0, max(0.0, 0.5 + (p - 0.5) * evidence)))

    # -- public API -----------------------------------------------------------------------------

    def _score_one(self, text: str | None, lang: str | None) -> tuple[float | None, int | None]:
        """(score, chatbot phrases) of one text; (None, None) when not applicable."""
        inputs = self._inputs(text, lang)
        if inputs is None:
            return None, None
        rows, n_phrases, n_words = inputs
        return self._finish(float(self._logits(rows).mean()), n_words), n_phrases

    def score_batch(self, texts: Sequence[str | None], langs: Sequence[str | None] | None = None) -> list:
        """Calibrated P(synthetic) in [0, 1] per text (equal priors), or None when not applicable
        (a `lang` other than English, or no word). Without `langs` every text is scored as English.

        A document is scored as passages of training size (``passages``); its logit is the mean of
        theirs, so long pages are neither more nor less confident than a passage.
        """
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        return [self._score_one(text, lang)[0] for text, lang in zip(texts, langs, strict=True)]

    def score(self, text: str | None, lang: str | None = None) -> float | None:
        return self._score_one(text, lang)[0]

    def columns_batch(self, texts: Sequence[str | None], langs: Sequence[str | None] | None = None) -> list:
        """The SYNTHETIC_COLUMNS of each text (dicts ready to update a document row); all None but
        ``sample_weight`` (1.0) where the score is not applicable."""
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        out = []
        for text, lang in zip(texts, langs, strict=True):
            score, phrases = self._score_one(text, lang)
            out.append(
                {
                    "synthetic_score": score,
                    "sample_weight": sample_weight(score),
                    "synthetic_phrases": phrases,
                }
            )
        return out

    def explain(self, text: str | None, lang: str | None = None) -> dict:
        """Why a text scores what it does.

        Returns ``score`` (as score_batch), ``logit`` (combiner output before calibration),
        ``contributions`` ({input: logit contribution}, averaged over passages; with ``intercept`` they
        sum to ``logit``; positive = pushes towards synthetic), ``features`` (raw input values, averaged
        over passages), ``passages`` and ``words``; ``applicable`` is False (and the rest None) for
        other languages and texts without words.
        """
        inputs = self._inputs(text, lang)
        if inputs is None:
            return {
                "applicable": False,
                "score": None,
                "logit": None,
                "intercept": self.intercept,
                "contributions": None,
                "features": None,
                "passages": 0,
                "words": len(normalize_for_detection(text).split()),
            }
        rows, _, n_words = inputs
        z = self.standardizer(design_matrix(rows))
        contrib = (z * self.coef).mean(axis=0)
        logit = float(contrib.sum() + self.intercept)
        raw = {}
        for name in INPUTS:
            vals = [r[name] for r in rows if r.get(name) is not None]
            raw[name] = float(np.mean(vals)) if vals else None
        return {
            "applicable": True,
            "score": self._finish(logit, n_words),
            "logit": logit,
            "intercept": self.intercept,
            "contributions": {name: float(c) for name, c in zip(INPUTS, contrib, strict=True)},
            "features": raw,
            "passages": len(rows),
            "words": n_words,
        }


@functools.cache
def shipped_scorer() -> SyntheticScorer:
    """The shipped model, loaded once per process."""
    return SyntheticScorer.load()


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def _check_binary(y, s) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-d and of equal length")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y, s


def auroc(labels, scores) -> float | None:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties
    counting one half (Mann-Whitney U). None when a class is missing."""
    y, s = _check_binary(labels, scores)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid_ranks = ends - (counts - 1) / 2.0  # average 1-based rank of each distinct value
    rank_sum = mid_ranks[inverse][y].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def tpr_at_fpr(labels, scores, max_fpr: float = 0.01) -> float | None:
    """The highest true-positive rate of a rule "score >= t" whose false-positive rate is <= max_fpr.

    Thresholds are the distinct scores (ties move together). None when a class is missing.
    """
    y, s = _check_binary(labels, scores)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    tp = np.cumsum(y_sorted)[last_of_tie]
    fp = np.cumsum(~y_sorted)[last_of_tie]
    ok = fp <= max_fpr * n_neg + 1e-9
    return float(tp[ok].max() / n_pos) if ok.any() else 0.0


def ece(labels, probabilities, bins: int = 10, balanced: bool = False) -> float | None:
    """Expected calibration error: over `bins` equal-width probability bins, the |observed positive
    rate - mean predicted probability| of each bin, weighted by its share of the documents. None when
    empty.

    `balanced=True` weighs the two classes equally (each document of a class by 0.5 / its class size):
    the ECE the scores would have on a 50/50 set, which is what they are calibrated for. (The plain ECE
    of equal-prior scores on a set with 80% synthetic texts, like L2R, also measures the prior shift.)
    """
    y, p = _check_binary(labels, probabilities)
    if len(y) == 0:
        return None
    w = np.ones(len(y))
    if balanced:
        if y.all() or not y.any():
            return None
        w = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum())
    idx = np.minimum((np.clip(p, 0.0, 1.0) * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            wb = w[m]
            total += wb.sum() * abs(np.average(y[m], weights=wb) - np.average(p[m], weights=wb))
    return float(total / w.sum())


def binary_metrics(labels, scores, threshold: float | None = None) -> dict:
    """n, class counts, AUROC, TPR at 1% FPR, ECE (plain and class-balanced), and (with `threshold`) TPR /
    FPR of the rule score >= threshold."""
    y, s = _check_binary(labels, scores)
    out = {
        "n": int(len(y)),
        "n_synthetic": int(y.sum()),
        "n_human": int((~y).sum()),
        "auroc": auroc(y, s),
        "tpr_at_1pct_fpr": tpr_at_fpr(y, s, 0.01),
        "ece": ece(y, s),
        "ece_balanced": ece(y, s, balanced=True),
    }
    if threshold is not None:
        flagged = s >= threshold
        out["tpr"] = float(flagged[y].mean()) if y.any() else None
        out["fpr"] = float(flagged[~y].mean()) if (~y).any() else None
    return out


# --------------------------------------------------------------------------------------------------
# Population estimates: adjusted classify-and-count
# --------------------------------------------------------------------------------------------------

Z95 = NormalDist().inv_cdf(0.975)


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


#: Prior strength (pseudo-documents) used when there are too few domains to estimate it, and its bounds.
DEFAULT_PRIOR_STRENGTH = 20.0
MIN_PRIOR_STRENGTH = 2.0
MAX_PRIOR_STRENGTH = 1000.0
#: Domains with fewer scored documents than this do not inform the prior strength (they still get shrunk).
MIN_DOCS_FOR_PRIOR = 20
MIN_DOMAINS_FOR_PRIOR = 5


def shrink(n_flagged: float, n: float, prior_rate: float, strength: float) -> tuple[float, float]:
    """Empirical-Bayes shrinkage of a domain's flag count towards the overall flag rate.

    The domain's flag rate gets a Beta(strength * prior_rate, strength * (1 - prior_rate)) prior; the
    posterior mean is (n_flagged + strength * prior_rate) / (n + strength). Returns the posterior
    pseudo-counts (flagged, n), to pass to ``adjusted_share``: a domain of 3 pages lands near the overall
    rate with a wide interval, one of 3,000 keeps its own rate.
    """
    return n_flagged + strength * prior_rate, n + strength


def prior_strength(
    n_domains: int, sum_rate: float, sum_rate_sq: float, sum_inv_n: float, pooled_rate: float
) -> float:
    """Method-of-moments beta-binomial prior strength from per-domain flag rates r_d = k_d / n_d.

    Between-domain variance = observed variance of r_d around the pooled rate minus the mean binomial
    variance pooled_rate (1 - pooled_rate) / n_d; strength = pooled_rate (1 - pooled_rate) / variance - 1,
    clipped to [MIN_PRIOR_STRENGTH, MAX_PRIOR_STRENGTH]. Domains that differ more than chance allows get
    a weak prior (little shrinkage); indistinguishable ones the strongest. DEFAULT_PRIOR_STRENGTH when
    fewer than MIN_DOMAINS_FOR_PRIOR domains are given.
    """
    if n_domains < MIN_DOMAINS_FOR_PRIOR:
        return DEFAULT_PRIOR_STRENGTH
    p = pooled_rate
    binomial = p * (1 - p)
    if binomial <= 0:
        return MAX_PRIOR_STRENGTH
    observed = (sum_rate_sq - 2 * p * sum_rate + n_domains * p * p) / n_domains
    between = observed - binomial * sum_inv_n / n_domains
    if between <= 0:
        return MAX_PRIOR_STRENGTH
    return float(min(MAX_PRIOR_STRENGTH, max(MIN_PRIOR_STRENGTH, binomial / between - 1)))


def share_record(
    counts: dict, tpr: float, fpr: float, n_pos: int | None = None, n_neg: int | None = None
) -> dict:
    """counts {n_docs, n_scored, n_flagged} -> + flag_rate, share, share_low, share_high (no shrinkage)."""
    n, k = counts["n_scored"], counts["n_flagged"]
    share, low, high = adjusted_share(k, n, tpr, fpr, n_pos=n_pos, n_neg=n_neg)
    return {**counts, "flag_rate": k / n if n else None, "share": share, "share_low": low, "share_high": high}


def domain_record(
    crawl,
    domain,
    counts: dict,
    prior: dict,
    tpr: float,
    fpr: float,
    n_pos: int | None = None,
    n_neg: int | None = None,
) -> dict:
    """One per-domain estimate: raw adjusted share and the shrunk one (``share``, with its interval)."""
    n, k = counts["n_scored"], counts["n_flagged"]
    raw, _, _ = adjusted_share(k, n, tpr, fpr)
    if n:
        k_s, n_s = shrink(k, n, prior["flag_rate"] or 0.0, prior["prior_strength"])
        share, low, high = adjusted_share(k_s, n_s, tpr, fpr, n_pos=n_pos, n_neg=n_neg)
    else:  # nothing scored (no English text): no estimate, rather than the prior dressed up as one
        share = low = high = None
    return {
        "crawl": crawl,
        "domain": domain,
        **counts,
        "flag_rate": k / n if n else None,
        "share_unshrunk": raw,
        "share": share,
        "share_low": low,
        "share_high": high,
        "prior_rate": prior["flag_rate"],
        "prior_strength": prior["prior_strength"],
    }


def is_content_farm(record: dict, max_share: float, min_docs: int = 10, bound: str = "share_low") -> bool:
    """Suggested rule for rejecting a whole domain (reject_reason = synthetic_domain): at least `min_docs`
    scored documents and the `bound` of its estimated share (by default the lower end of the interval:
    reject only when confident) above `max_share`."""
    value = record.get(bound)
    return record.get("n_scored", 0) >= min_docs and value is not None and value > max_share


# Estimate records: their keys, for the Parquet writer.
DOMAIN_ESTIMATE_FIELDS = (
    "crawl",
    "domain",
    "n_docs",
    "n_scored",
    "n_flagged",
    "flag_rate",
    "share_unshrunk",
    "share",
    "share_low",
    "share_high",
    "prior_rate",
    "prior_strength",
)
CRAWL_ESTIMATE_FIELDS = (
    "crawl",
    "n_docs",
    "n_scored",
    "n_flagged",
    "n_domains",
    "flag_rate",
    "share",
    "share_low",
    "share_high",
    "prior_strength",
    "threshold",
    "tpr",
    "fpr",
    "n_pos",
    "n_neg",
)


def group_record(counts: dict, threshold: float, tpr: float, fpr: float, n_pos=None, n_neg=None) -> dict:
    """counts of any group of rows (a cohort, a crawl summed over batches) -> its estimate, with the rates
    used, so that records of the same group can be summed and re-estimated later (``merge_group_records``)."""
    rec = share_record(counts, tpr, fpr, n_pos, n_neg)
    return {**rec, "threshold": threshold, "tpr": tpr, "fpr": fpr, "n_pos": n_pos, "n_neg": n_neg}


def merge_group_records(records: Iterable[dict]) -> dict:
    """Estimates of disjoint parts of one group (e.g. backfill batches) -> the group's estimate.

    Counts add up; the share and its interval are recomputed from the sums (not averaged). The parts must
    have been estimated with the same threshold and rates."""
    records = list(records)
    rates = {tuple(r.get(k) for k in ("threshold", "tpr", "fpr", "n_pos", "n_neg")) for r in records}
    if len(rates) != 1:
        raise ValueError(
            f"estimates made with different thresholds or rates cannot be merged: {sorted(rates)}"
        )
    threshold, tpr, fpr, n_pos, n_neg = rates.pop()
    counts = {k: sum(r[k] for r in records) for k in ("n_docs", "n_scored", "n_flagged")}
    return group_record(counts, threshold, tpr, fpr, n_pos, n_neg)


def _sum_counts(counts: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    """(docs, scored, flagged) triples -> their sum (a CombinePerKey function)."""
    return tuple(sum(c) for c in zip(*counts, strict=True)) or (0, 0, 0)


def _row_counts(row: dict, threshold: float) -> tuple[int, int, int]:
    score = row.get("synthetic_score")
    if score is None:
        return 1, 0, 0
    return 1, 1, int(score >= threshold)


def _make_estimate_transform():
    """Build the Beam composite on first use (Beam is not imported with this module)."""
    import apache_beam as beam

    class _CrawlPrior(beam.CombineFn):
        """Per crawl: totals over domains and the moments prior_strength needs."""

        def create_accumulator(self):
            # n_docs, n_scored, n_flagged, n_domains, qualifying domains: count, sum r, sum r^2, sum 1/n
            return [0, 0, 0, 0, 0, 0.0, 0.0, 0.0]

        def add_input(self, acc, counts):
            n_docs, n, k = counts
            acc[0] += n_docs
            acc[1] += n
            acc[2] += k
            acc[3] += 1
            if n >= MIN_DOCS_FOR_PRIOR:
                r = k / n
                acc[4] += 1
                acc[5] += r
                acc[6] += r * r
                acc[7] += 1.0 / n
            return acc

        def merge_accumulators(self, accs):
            out = self.create_accumulator()
            for a in accs:
                out = [x + y for x, y in zip(out, a, strict=True)]
            return out

        def extract_output(self, acc):
            n_docs, n, k, n_domains, q, s1, s2, sinv = acc
            rate = k / n if n else None
            strength = prior_strength(q, s1, s2, sinv, rate) if rate is not None else DEFAULT_PRIOR_STRENGTH
            return {
                "n_docs": n_docs,
                "n_scored": n,
                "n_flagged": k,
                "n_domains": n_domains,
                "flag_rate": rate,
                "prior_strength": strength,
            }

    class EstimateSyntheticShare(beam.PTransform):
        """rows -> {"domain": per-(crawl, domain) estimates, "crawl": per-crawl estimates} (dicts).

        Input rows are document rows (dicts with ``crawl``, ``domain``, ``synthetic_score``, ``status``).
        Failed rows are left out; rows without a score (other languages, no words) are counted in
        ``n_docs`` but not ``n_scored``. A document is flagged when synthetic_score >= `threshold`.
        Shares are adjusted classify-and-count with the held-out `tpr` / `fpr` (module TPR / FPR by
        default); a domain's flag rate is first shrunk towards its crawl's (``shrink``, prior strength
        per crawl by ``prior_strength``). Keys: DOMAIN_ESTIMATE_FIELDS and CRAWL_ESTIMATE_FIELDS.
        """

        def __init__(
            self,
            threshold: float | None = None,
            tpr: float | None = None,
            fpr: float | None = None,
            n_pos: int | None = None,
            n_neg: int | None = None,
            skip_statuses: Iterable[str] = ("failed",),
            label: str | None = None,
        ):
            super().__init__(label)
            self.threshold, self.tpr, self.fpr, self.n_pos, self.n_neg = _operating_point(
                threshold, tpr, fpr, n_pos, n_neg
            )
            self.skip = frozenset(skip_statuses)

        def expand(self, rows):
            threshold, tpr, fpr, n_pos, n_neg = self.threshold, self.tpr, self.fpr, self.n_pos, self.n_neg
            skip = self.skip
            # row -> ((crawl, domain), (docs, scored, flagged))
            domain_counts = (
                rows
                | "skip failed" >> beam.Filter(lambda r: r.get("status") not in skip)
                | "key by crawl and domain"
                >> beam.Map(lambda r: ((r.get("crawl"), r.get("domain")), _row_counts(r, threshold)))
                | "count per domain" >> beam.CombinePerKey(_sum_counts)
            )
            # (crawl, domain) -> crawl: totals and the prior for its domains
            crawl_priors = (
                domain_counts
                | "key by crawl" >> beam.Map(lambda kv: (kv[0][0], kv[1]))
                | "combine per crawl" >> beam.CombinePerKey(_CrawlPrior())
            )

            def to_counts(c):
                return {"n_docs": c[0], "n_scored": c[1], "n_flagged": c[2]}

            def estimate_domain(kv, priors):
                (crawl, domain), c = kv
                return domain_record(crawl, domain, to_counts(c), priors[crawl], tpr, fpr, n_pos, n_neg)

            def estimate_crawl(kv):
                crawl, prior = kv
                counts = {k: prior[k] for k in ("n_docs", "n_scored", "n_flagged")}
                return {
                    "crawl": crawl,
                    **group_record(counts, threshold, tpr, fpr, n_pos, n_neg),
                    "n_domains": prior["n_domains"],
                    "prior_strength": prior["prior_strength"],
                }

            by_domain = domain_counts | "estimate per domain" >> beam.Map(
                estimate_domain, priors=beam.pvalue.AsDict(crawl_priors)
            )
            by_crawl = crawl_priors | "estimate per crawl" >> beam.Map(estimate_crawl)
            return {"domain": by_domain, "crawl": by_crawl}

    class EstimateSyntheticShareBy(beam.PTransform):
        """rows -> one estimate per value of ``column`` (e.g. cohort), as ``group_record`` dicts with the
        value under ``column`` (None -> "unknown"). No shrinkage: groups are large. Failed rows are left out;
        the rates and threshold are those of EstimateSyntheticShare."""

        def __init__(
            self, column: str, threshold=None, tpr=None, fpr=None, n_pos=None, n_neg=None, label=None
        ):
            super().__init__(label)
            self.column = column
            self.point = _operating_point(threshold, tpr, fpr, n_pos, n_neg)

        def expand(self, rows):
            column, point = self.column, self.point
            threshold = point[0]
            return (
                rows
                | "skip failed" >> beam.Filter(lambda r: r.get("status") != "failed")
                | f"key by {column}"
                >> beam.Map(lambda r: (r.get(column) or "unknown", _row_counts(r, threshold)))
                | f"count per {column}" >> beam.CombinePerKey(_sum_counts)
                | f"estimate per {column}"
                >> beam.MapTuple(
                    lambda value, c: {
                        column: value,
                        **group_record({"n_docs": c[0], "n_scored": c[1], "n_flagged": c[2]}, *point),
                    }
                )
            )

    return {
        "EstimateSyntheticShare": EstimateSyntheticShare,
        "EstimateSyntheticShareBy": EstimateSyntheticShareBy,
    }


def _operating_point(threshold, tpr, fpr, n_pos, n_neg) -> tuple:
    """(threshold, tpr, fpr, n_pos, n_neg) with the shipped model's values for what is not given."""
    threshold = FLAG_THRESHOLD if threshold is None else threshold
    if tpr is None and fpr is None:
        n_pos, n_neg = (TPR_N if n_pos is None else n_pos), (FPR_N if n_neg is None else n_neg)
    tpr, fpr = (TPR if tpr is None else tpr), (FPR if fpr is None else fpr)
    if tpr is None or fpr is None:
        raise ValueError("no TPR / FPR: train the synthetic model (make models) or pass them")
    return threshold, tpr, fpr, n_pos, n_neg


def __getattr__(name: str):
    # PEP 562: `from transforms.synthetic import EstimateSyntheticShare` imports Beam only then.
    if name in ("EstimateSyntheticShare", "EstimateSyntheticShareBy"):
        globals().update(_make_estimate_transform())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
