"""trafilatura's parser with lxml's C element class lookup: the same output for 3-4% less CPU.

lxml.html's element class lookup is a Python method, called for every element proxy lxml creates (~3,000
per benchmark page, through trafilatura's pruning, copying and text walks). trafilatura's parser gets the
equivalent lookup in C: every element is an ``HtmlElement``; comments, processing instructions and
entities keep their lxml.html classes. The only classes given up are lxml.html's form-handling subclasses
of ``<form>``, ``<input>``, ``<select>``, ``<textarea>`` and ``<label>``, whose methods neither trafilatura
nor htmldate call.

Applied only to the trafilatura version it was checked against (``CHECKED_VERSION``, the pinned one).
tests/test_extract.py extracts the shared pages with and without it and requires identical text, title and
date. Measured on 400 distinct benchmark-corpus pages, in one process, alternating, medians of 3
(``python -m bench.extract_lookup``): -3.6% (9.06 -> 8.73 CPU-s) on an idle machine, -2.6% (6.67 -> 6.49)
beside another job; no page's output differed.
"""

from __future__ import annotations

CHECKED_VERSION = "2.3.1"
ENABLED = True  # False: apply() does nothing (the comparison in tests and the benchmark)
_state: dict = {}


def apply() -> bool:
    """Give trafilatura's parser the C lookup (idempotent); False, changing nothing, for another version."""
    if not ENABLED:
        return False
    if _state.get("applied"):
        return True
    import trafilatura
    import trafilatura.utils
    from lxml import etree
    from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction

    if trafilatura.__version__ != CHECKED_VERSION:
        return False
    trafilatura.utils.HTML_PARSER.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
        )
    )
    _state["applied"] = True
    return True


def undo() -> None:
    """Restore lxml.html's lookup (with ENABLED = False, for the comparison in tests and the benchmark)."""
    import trafilatura.utils
    from lxml.html import HtmlElementClassLookup

    if _state.pop("applied", False):
        trafilatura.utils.HTML_PARSER.set_element_class_lookup(HtmlElementClassLookup())
