"""The one fastText training wrapper: labelled lines in, a supervised classifier out, the same every time."""

from __future__ import annotations

import os
import tempfile


def train_supervised(lines: list[str], seed: int, **params):
    """A fastText supervised model on `lines` ("__label__x text", one document each), trained with one
    thread and `seed`: the same lines and parameters give the same model bytes (fasttext-community).
    `params` are fastText's own (dim, epoch, lr, wordNgrams, minCount, bucket, ...)."""
    import fasttext

    fd, path = tempfile.mkstemp(suffix=".txt", prefix="pristine-fasttext-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(f"{line}\n" for line in lines)
        return fasttext.train_supervised(path, thread=1, seed=seed, verbose=0, **params)
    finally:
        os.unlink(path)
