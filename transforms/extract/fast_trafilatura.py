"""trafilatura, faster and with the same output: two changes to how lxml runs it (-17% CPU).

1. **lxml's C element class lookup.** lxml.html's element class lookup is a Python method, called for
   every element proxy lxml creates (~3,000 per benchmark page, through trafilatura's pruning, copying and
   text walks). trafilatura's parser gets the equivalent lookup in C: every element is an ``HtmlElement``;
   comments, processing instructions and entities keep their lxml.html classes. The only classes given up
   are lxml.html's form-handling subclasses of ``<form>``, ``<input>``, ``<select>``, ``<textarea>`` and
   ``<label>``, whose methods neither trafilatura nor htmldate call.
2. **Regular-expression tests only where the attribute exists.** trafilatura's boilerplate XPaths test
   ``@id`` and ``@class`` with EXSLT regular expressions (``re:test(@class, '...')``), which libxml2 hands
   back to lxml's Python for every element, turning the attribute into a Python string on the way. Each
   ``re:test(A, 'p')`` becomes ``((A) and re:test(A, 'p'))``: XPath's ``and`` stops at an empty node set,
   and for an empty node set ``re:test`` tests "", so the two are the same whenever ``p`` does not match the
   empty string (checked per call; a pattern that matches "" is left as it is). The rewritten XPaths also
   pass attribute values as plain strings (``smart_strings=False``), which only changes string results, and
   these XPaths select elements.

Applied only to the trafilatura version it was checked against (``CHECKED_VERSION``, the pinned one).
tests/test_extract.py extracts the shared pages with and without these changes and requires identical
text, title and date. Measured on all 4,536 pages of the shared data and the benchmark corpus, in one
process, with and without alternating per page: 77.7 -> 64.3 CPU-s (-17.2%; the lookup alone was -3.6%),
no page's output differed; ``python -m bench.extract_lookup`` repeats it on a sample of the corpus.
"""

from __future__ import annotations

import re

CHECKED_VERSION = "2.3.1"
ENABLED = True  # False: apply() does nothing (the comparison in tests and the benchmark)
_state: dict = {}

_REGEX_TEST = "re:test("
_ATTRIBUTES = re.compile(r"@[\w.-]+(?:\s*\|\s*@[\w.-]+)*")  # @id, @id|@class: a node set of attributes


def _split_call(path: str, start: int) -> tuple[list[str], int] | None:
    """The arguments of the function call whose "(" ends just before `start`, and the index after its ")";
    None if the parentheses do not close."""
    args, current, depth, quote = [], [], 0, None
    for i in range(start, len(path)):
        ch = path[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                if ch == ")":
                    args.append("".join(current))
                    return args, i + 1
                return None
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(current))
            current = []
            continue
        current.append(ch)
    return None


def _literal(arg: str) -> str | None:
    """The value of an XPath string literal ('...' or "..."), else None."""
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "'\"" and arg[0] not in arg[1:-1]:
        return arg[1:-1]
    return None


def guard_regex_tests(path: str) -> tuple[str, int]:
    """`path` with each ``re:test(A, 'p'[, 'flags'])`` whose pattern cannot match "" (under lxml's flags:
    re.UNICODE, plus re.IGNORECASE for an "i" flag) written as ``((A) and re:test(A, 'p'[, 'flags']))``;
    returns (path, calls guarded). Only calls on attributes (A: ``@id``, ``@id|@class``) with a literal
    pattern and flags are rewritten."""
    out, pos, guarded = [], 0, 0
    while (start := path.find(_REGEX_TEST, pos)) >= 0:
        call = _split_call(path, start + len(_REGEX_TEST))
        if call is None:
            break
        args, end = call
        pattern = _literal(args[1]) if len(args) in (2, 3) else None
        flags = _literal(args[2]) if len(args) == 3 else ""
        out.append(path[pos:start])
        text = path[start:end]
        if _ATTRIBUTES.fullmatch(args[0].strip()) and pattern is not None and flags is not None:
            ignore_case = re.IGNORECASE if "i" in flags else 0
            if re.search(pattern, "", re.UNICODE | ignore_case) is None:
                text = f"(({args[0].strip()}) and {text})"
                guarded += 1
        out.append(text)
        pos = end
    out.append(path[pos:])
    return "".join(out), guarded


def _guarded_xpath(xpath):
    """An XPath like `xpath` with its regular-expression tests guarded, or None when none could be."""
    from lxml.etree import XPath

    path, guarded = guard_regex_tests(xpath.path)
    if not guarded:
        return None
    return XPath(path, namespaces={"re": "http://exslt.org/regular-expressions"}, smart_strings=False)


def _xpath_slots() -> list[tuple[object, object]]:
    """(container, key) of every trafilatura XPath that has regular-expression tests: the items of the XPath
    lists in trafilatura.xpaths, and the baseline's cleaning XPath."""
    import importlib

    import trafilatura.xpaths
    from lxml.etree import XPath

    slots: list[tuple[object, object]] = []
    for value in vars(trafilatura.xpaths).values():
        if isinstance(value, list) and value and all(isinstance(x, XPath) for x in value):
            slots.extend((value, i) for i, x in enumerate(value) if _REGEX_TEST in x.path)
    # the module: trafilatura.baseline is also the name of a function in the package
    slots.append((importlib.import_module("trafilatura.baseline"), "BASIC_CLEAN_XPATH"))
    return slots


def _get(container, key):
    return container[key] if isinstance(container, list) else getattr(container, key)


def _set(container, key, value) -> None:
    if isinstance(container, list):
        container[key] = value
    else:
        setattr(container, key, value)


def apply() -> bool:
    """Apply both changes (idempotent); False, changing nothing, for another trafilatura version."""
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
    replaced = []
    for container, key in _xpath_slots():
        original = _get(container, key)
        faster = _guarded_xpath(original)
        if faster is not None:
            _set(container, key, faster)
            replaced.append((container, key, original))
    _state["xpaths"] = replaced
    _state["applied"] = True
    return True


def undo() -> None:
    """Restore lxml.html's lookup and trafilatura's XPaths (with ENABLED = False, for the comparison in
    tests and the benchmark)."""
    import trafilatura.utils
    from lxml.html import HtmlElementClassLookup

    if _state.pop("applied", False):
        trafilatura.utils.HTML_PARSER.set_element_class_lookup(HtmlElementClassLookup())
        for container, key, original in _state.pop("xpaths", []):
            _set(container, key, original)
