"""Text dedup compares, MinHash signatures bit-identical to datasketch 2.0, LSH banding, verification sketches.

Pure functions (numpy only): the benchmarks and tests call them without Beam.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

SCHEMES = ("affine32", "affine64", "legacy")
NORMALIZATION_VERSION = "2"  # bump when normalize_text or shingles change: old indexes no longer match

# --------------------------------------------------------------------------------------------------
# Text: normalisation, shingles, exact key
# --------------------------------------------------------------------------------------------------

# Scripts written without spaces between words: every character is a token. Not transforms.text.words on
# purpose: dedup case-folds, drops punctuation and splits only Han / kana, and its tokens are part of
# NORMALIZATION_VERSION (changing them would stop every stored index from matching).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def normalize_text(text: str | None) -> str:
    """The text dedup compares: NFKC, case-folded, punctuation and symbols dropped, one space between words.

    Words are runs of letters, digits and marks (``\\w``); a Han / kana character is a word of its own, so
    Chinese and Japanese get character shingles. Digits are kept: pages that differ only in numbers are
    near duplicates, not exact ones.
    """
    if not text:
        return ""
    return " ".join(_TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold()))


def text_hash(normalized: str) -> bytes:
    """Exact-dedup key of a normalised text: 16-byte blake2b (collision-free at web scale)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).digest()


def _shingle_bytes(normalized: str, n: int) -> set[bytes]:
    words = normalized.encode("utf-8").split()
    if len(words) < n:
        return {b" ".join(words)} if words else set()
    return {b" ".join(gram) for gram in zip(*(words[i:] for i in range(n)), strict=False)}


def normalize_lines(text: str | None) -> list[str]:
    """`normalize_text` of each line of ``text``. No word spans a line break, so the non-empty lines joined by
    one space are ``normalize_text(text)``: one pass gives both the exact-duplicate key and `content_text`."""
    return [normalize_text(line) for line in text.splitlines()] if text else []


def joined(lines: list[str]) -> str:
    """``normalize_text(text)`` from ``normalize_lines(text)``."""
    return " ".join(line for line in lines if line)


def content_text(text: str | None, min_line_words: int = 8, min_line_share: float = 0.5) -> str:
    """The normalised text dedup shingles: its lines of at least ``min_line_words`` words, when those hold at
    least ``min_line_share`` of the text's words; else the whole text.

    Short lines are navigation, headings, captions, bylines and timestamps: the part of a page that changes
    between copies of the same content (a news article updated during the day, a template page with a few
    words changed) and repeats between different pages of one site. Pages made mostly of short lines (lists,
    tables, poems) keep all of them. ``min_line_words=0`` shingles the whole text.
    """
    return content_of_lines(normalize_lines(text), min_line_words, min_line_share)


def content_of_lines(lines: list[str], min_line_words: int = 8, min_line_share: float = 0.5) -> str:
    """`content_text` from the text's ``normalize_lines``."""
    if min_line_words <= 0:
        return joined(lines)
    counts = [line.count(" ") + 1 if line else 0 for line in lines]
    kept = [line for line, n in zip(lines, counts, strict=True) if n >= min_line_words]
    kept_words = sum(n for n in counts if n >= min_line_words)
    if kept and kept_words >= min_line_share * sum(counts):
        return " ".join(kept)
    return joined(lines)


def shingles(text: str | None, n: int = 5, normalized: bool = False) -> set[str]:
    """Word n-grams of ``normalize_text(text)``, words joined by one space.

    A text of fewer than n words (but at least one) is one shingle of all its words; an empty text has none.
    """
    norm = (text or "") if normalized else normalize_text(text)
    return {s.decode("utf-8") for s in _shingle_bytes(norm, n)}


# --------------------------------------------------------------------------------------------------
# MinHash, bit-identical to datasketch 2.0
# --------------------------------------------------------------------------------------------------

_FMIX = {
    32: (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16)),
    64: (
        np.uint64(33),
        np.uint64(0xFF51AFD7ED558CCD),
        np.uint64(33),
        np.uint64(0xC4CEB9FE1A85EC53),
        np.uint64(33),
    ),
}
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH32 = np.uint64((1 << 32) - 1)


def _fmix(hv: np.ndarray, width: int) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX[width]
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


def signature_dtype(scheme: str) -> np.dtype:
    return np.dtype(np.uint32) if scheme == "affine32" else np.dtype(np.uint64)


@functools.lru_cache(maxsize=16)
def permutations(
    num_perm: int = 128, seed: int = 1, scheme: str = "affine32"
) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters (a, b) for (num_perm, seed, scheme), as column vectors."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        ab = np.array(
            [
                (
                    gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
                    gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64),
                )
                for _ in range(num_perm)
            ],
            dtype=np.uint64,
        ).T
        a, b = ab[0], ab[1]
    else:
        width = 32 if scheme == "affine32" else 64
        dtype = signature_dtype(scheme).type
        a = gen.randint(0, 1 << (width - 1), num_perm, dtype=dtype) * dtype(2) + dtype(1)
        b = gen.randint(0, 1 << width, num_perm, dtype=dtype)
    a, b = a.reshape(-1, 1), b.reshape(-1, 1)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def _input_hashes(shingle_set: Iterable[bytes], scheme: str) -> np.ndarray:
    """datasketch's default hashfunc: the first 4 (8 for affine64) bytes of SHA1, little-endian."""
    sha1 = hashlib.sha1
    if scheme == "affine64":
        return np.frombuffer(b"".join([sha1(s).digest()[:8] for s in shingle_set]), dtype="<u8")
    return np.frombuffer(b"".join([sha1(s).digest()[:4] for s in shingle_set]), dtype="<u4")


def _permuted_min(
    hashes: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray, scheme: str
) -> np.ndarray:
    """Column-wise minima of the permuted hashes of consecutive documents: (num_perm, docs)."""
    if scheme == "legacy":
        phv = (hashes.astype(np.uint64)[None, :] * a + b) % _MERSENNE_PRIME
        phv &= _MAX_HASH32
    else:
        phv = _fmix(hashes, 32 if scheme == "affine32" else 64)[None, :] * a
        phv += b
    return np.minimum.reduceat(phv, offsets, axis=1)


def minhash_signatures(
    docs: Iterable[str | Iterable[str | bytes]],
    num_perm: int = 128,
    seed: int = 1,
    scheme: str = "affine32",
    ngram: int = 5,
    chunk_shingles: int = 16384,
) -> np.ndarray:
    """MinHash signatures, one row per document: (len(docs), num_perm), uint32 (affine32) or uint64.

    A document is a text (shingled with ``shingles(text, ngram)``) or an iterable of shingles (str, taken as
    UTF-8, or bytes). Row i equals ``datasketch.MinHash(num_perm, seed=seed, scheme=scheme)`` after
    ``update_batch`` with the UTF-8 shingles; an empty document gives all max values, as in datasketch.
    Hashing is SHA1 per shingle (datasketch's default); permuting and taking minima is vectorised over
    chunks of documents.
    """
    sets: list[set[bytes]] = []
    for doc in docs:
        if isinstance(doc, str):
            sets.append(_shingle_bytes(normalize_text(doc), ngram))
        else:
            sets.append({s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in doc})
    return signatures_from_hashes(
        [_input_hashes(s, scheme) for s in sets], num_perm, seed, scheme, chunk_shingles
    )


def signatures_from_hashes(
    hashes: Sequence[np.ndarray], num_perm: int, seed: int, scheme: str, chunk_shingles: int = 16384
) -> np.ndarray:
    """MinHash signatures of documents given as the hashes of their shingles (``_input_hashes``)."""
    a, b = permutations(num_perm, seed, scheme)
    dtype = signature_dtype(scheme)
    out = np.full((len(hashes), num_perm), _empty_value(scheme), dtype=dtype)
    start = 0
    while start < len(hashes):
        # a chunk of documents whose shingles fit chunk_shingles (at least one document)
        end, total = start, 0
        while end < len(hashes) and (end == start or total + len(hashes[end]) <= chunk_shingles):
            total += len(hashes[end])
            end += 1
        nonempty = [i for i in range(start, end) if len(hashes[i])]
        if nonempty:
            sizes = np.array([len(hashes[i]) for i in nonempty])
            offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
            chunk = np.concatenate([hashes[i] for i in nonempty])
            out[nonempty] = _permuted_min(chunk, offsets, a, b, scheme).T
        start = end
    return out


def _empty_value(scheme: str) -> int:
    """The value of every permutation of an empty set (datasketch's initial hash values)."""
    return int(_MAX_HASH32) if scheme != "affine64" else (1 << 64) - 1


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal MinHash values: datasketch's ``MinHash.jaccard``."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


VERIFY_BITS = 6  # bits of each MinHash value a document keeps for verification (b-bit minwise hashing)


def verification_sketch(signature: np.ndarray, bits: int | None = None) -> bytes:
    """The low ``bits`` bits (default VERIFY_BITS) of each MinHash value, packed: what verification compares.

    b-bit minwise hashing (Li and Koenig, WWW 2010): two values agree in their low b bits when they are
    equal, and by chance with probability 2^-b otherwise; `sketch_similarity` removes that chance, so the
    share of agreeing values estimates the Jaccard without bias, with a standard deviation 1.3% above the
    full signature's at Jaccard 0.6 with 6 bits (0.3% with 8). VERIFY_BITS = 6: 96 bytes for 128 values (a
    32-bit signature takes 512); measured against 8 bits, the Webis F1 at 0.6 is the same (0.887; web 0.865
    vs 0.860, news 0.902 vs 0.915, median of 5 seeds) and generated pages' precision by chain 0.961 vs 0.959.
    """
    bits = VERIFY_BITS if bits is None else bits
    low = (np.asarray(signature) & ((1 << bits) - 1)).astype(np.uint8)
    if bits == 8:
        return low.tobytes()
    return np.packbits(np.unpackbits(low[:, None], axis=1)[:, 8 - bits :]).tobytes()


def _sketch_values(sketch: bytes, bits: int) -> np.ndarray:
    if bits == 8:
        return np.frombuffer(sketch, np.uint8)
    unpacked = np.unpackbits(np.frombuffer(sketch, np.uint8))
    n = len(unpacked) // bits
    return np.packbits(unpacked[: n * bits].reshape(n, bits), axis=1).ravel() >> (8 - bits)


def sketch_similarity(a: bytes, b: bytes, bits: int | None = None) -> float:
    """Estimated Jaccard of two ``verification_sketch``es: the share of equal values, less the share that
    agree by chance ((p - 2^-b) / (1 - 2^-b), at least 0)."""
    bits = VERIFY_BITS if bits is None else bits
    x, y = _sketch_values(a, bits), _sketch_values(b, bits)
    agree = float(np.count_nonzero(x == y)) / len(x)
    chance = 2.0**-bits
    return max(0.0, (agree - chance) / (1.0 - chance))


def verification_similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """``sketch_similarity`` of two full signatures."""
    return sketch_similarity(verification_sketch(sig_a), verification_sketch(sig_b))


def hash_set_bytes(hashes: np.ndarray) -> bytes:
    """A document's shingle hashes as a sorted set (little-endian bytes): what exact verification compares."""
    return np.unique(hashes).astype(hashes.dtype.newbyteorder("<"), copy=False).tobytes()


def hash_set_jaccard(a: bytes, b: bytes, dtype: np.dtype) -> float:
    """Exact Jaccard similarity of two ``hash_set_bytes`` sets (1.0 for two empty sets).

    Hashes stand for shingles: 32-bit hashes of two different shingles collide with probability 2^-32, so
    this is the Jaccard of the shingle sets up to ~n^2 / 2^33 spurious matches for n shingles."""
    x, y = np.frombuffer(a, dtype), np.frombuffer(b, dtype)
    if not len(x) and not len(y):
        return 1.0
    common = len(np.intersect1d(x, y, assume_unique=True))
    return common / (len(x) + len(y) - common)


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


# --------------------------------------------------------------------------------------------------
# LSH parameters and band keys
# --------------------------------------------------------------------------------------------------


def _weighted_errors(threshold: float, num_perm: int) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """False positive and false negative areas of every (bands, rows) with bands * rows <= num_perm.

    The integrands 1-(1-s^r)^b and (1-s^r)^b are polynomials of degree b*r <= num_perm, so Gauss-Legendre
    quadrature with num_perm/2+1 nodes is exact (datasketch uses scipy's adaptive quad for the same areas).
    """
    params = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    bands = np.array([p[0] for p in params], dtype=float)[:, None]
    rows = np.array([p[1] for p in params], dtype=float)[:, None]
    lo = (nodes + 1) * threshold / 2  # nodes mapped to [0, threshold]
    hi = threshold + (nodes + 1) * (1 - threshold) / 2  # and to [threshold, 1]
    fp = (1 - (1 - lo[None, :] ** rows) ** bands) @ weights * threshold / 2
    fn = ((1 - hi[None, :] ** rows) ** bands) @ weights * (1 - threshold) / 2
    return params, fp, fn


@functools.lru_cache(maxsize=64)
def lsh_params(
    threshold: float, num_perm: int = 128, weights: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive + false negative areas around ``threshold``.

    The same choice as datasketch's ``MinHashLSH(threshold, num_perm, weights)`` (``_optimal_param``): the
    first (bands, rows) in (bands, rows) order with the smallest error.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    params, fp, fn = _weighted_errors(threshold, num_perm)
    error = fp * weights[0] + fn * weights[1]
    return params[int(np.argmin(error))]  # argmin takes the first of equal minima, as datasketch's "<" does


@functools.lru_cache(maxsize=64)
def banding_for_recall(
    threshold: float, num_perm: int = 128, max_miss: float = 0.04, max_low: float = 1 / 3
) -> tuple[int, int]:
    """(bands, rows) that make a pair at Jaccard ``threshold`` a candidate with probability >= 1 - max_miss
    and a pair at half the threshold at most ``max_low`` of the time, with the fewest bands (bucket entries
    per document: most of the dedup shuffle's bytes); ties go to more rows (fewer candidates).

    Candidates below the threshold only cost a verification; a pair banding misses is lost. (datasketch's
    ``lsh_params`` balances the two areas instead: 14 x 9 at 0.7 makes a pair at 0.7 a candidate 44% of the
    time.) 0.6 -> 14 x 3 (a pair at 0.6 is missed 3.3% of the time, one at 0.3 is a candidate 32%), 0.7 ->
    8 x 3 (3.5%). 14 x 3 instead of 24 x 4 at 0.6: 1,332 -> 1,069 shuffle bytes per unique generated page,
    fewer candidate pairs (15,884 -> 14,794 pair sides) and the same Webis scores
    (``python -m bench.dedup_bench --shuffle-bytes``, ``--webis``).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")

    def fewest_bands(rows: int) -> int | None:
        fits = (b for b in range(1, num_perm // rows + 1) if (1.0 - threshold**rows) ** b <= max_miss)
        return next(fits, None)

    # per number of rows, the fewest bands that keep recall
    options = [(bands, rows) for rows in range(1, num_perm + 1) if (bands := fewest_bands(rows))]
    if not options:
        raise ValueError(f"no banding of {num_perm} values misses at most {max_miss} of pairs at {threshold}")
    low = [(b, r) for b, r in options if match_probability(threshold / 2, b, r) <= max_low]
    if low:
        return min(low, key=lambda option: (option[0], -option[1]))
    return max(options, key=lambda option: option[1])  # nothing keeps low pairs out: the most rows


def match_probability(similarity: float, bands: int, rows: int) -> float:
    """P(two documents of Jaccard ``similarity`` share at least one band): 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One 10-byte bucket key per band: 2-byte band number + 8-byte blake2b of the band's values.

    The values are hashed as little-endian bytes, so keys are stable across machines and processes.
    """
    sig = np.ascontiguousarray(signature, dtype=signature.dtype.newbyteorder("<"))
    if bands * rows > sig.shape[-1]:
        raise ValueError(f"bands * rows = {bands * rows} > num_perm = {sig.shape[-1]}")
    raw = sig.tobytes()
    width = sig.dtype.itemsize * rows
    return [
        band.to_bytes(2, "big")
        + hashlib.blake2b(raw[band * width : (band + 1) * width], digest_size=8).digest()
        for band in range(bands)
    ]


BUCKET_KEY_SIZE = 10


def split_bucket_keys(blob: bytes) -> list[bytes]:
    """The bucket keys of a sketch's blob (see band_keys)."""
    return [blob[i : i + BUCKET_KEY_SIZE] for i in range(0, len(blob), BUCKET_KEY_SIZE)]


def band_hash_int(key: bytes) -> int:
    """The band hash of a bucket key as a signed int64 (as stored in the index)."""
    return int.from_bytes(key[2:], "big", signed=True)


def bucket_id(key: bytes) -> int:
    """A bucket key as a non-negative 63-bit int (what the LSH shuffle carries): the band hash with the band
    number folded into its top bits, so equal band values in different bands are different buckets."""
    return (int.from_bytes(key[2:], "big") >> 1) ^ (int.from_bytes(key[:2], "big") << 55)


def text_id(text_hash_: bytes) -> int:
    """A text hash as a non-negative 63-bit int: the key of a distinct text in the dedup shuffles."""
    return int.from_bytes(text_hash_[:8], "big") >> 1
