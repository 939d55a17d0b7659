"""A fixed glibc mmap threshold for this process and the ones it starts: 32 MB, set once, instead of glibc's
sliding one.

glibc's malloc starts with a 128 KB mmap threshold and raises it (and the trim threshold, to twice as much)
every time a block above it is freed, up to 32 MB; after the first large page, freed memory is kept for
reuse. Setting the threshold fixes both: blocks below it come from the heap, and the trim threshold stays
at glibc's 128 KB, so free memory at the top of the heap is given back.

The value is a trade measured on this machine (CPU seconds / peak MB; interleaved runs, same kept documents):

| threshold | `make bench`'s run (10 files) | the same, two multi_processing workers | `dedup_bench --n 100000` |
|---|---|---|---|
| 128 KB (the value before) | 86.7, 88.4 / 657-662 | 94.9, 98.7 / 1,051-1,181 | 77.6, 78.3 / 428 |
| 4 MB | 85.0, 83.0 / 664-689 | | |
| 32 MB | 82.9, 80.4 / 706-711 | 94.7, 89.7 / 1,250-1,257 | 72.2, 75.3 / 481 |

At 128 KB every page, decoded text and parse buffer of more than 128 KB is a fresh mmap whose pages fault
in on first touch (the worker's thread CPU decoding the same 2,000 payloads of a 4-file run: 0.49 s at
128 KB, 0.26 s at 32 MB); at 32 MB they reuse heap memory, for 5-7% less CPU and 7-12% more peak memory.
The 128 KB value was chosen when rows went through the shuffle and two workers held 2.1 GB (it gave
1.60 GB); the run now peaks at 0.7 GB, under the 1.5 GB it is held to, and CPU is the tighter limit.
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 32 * 1024 * 1024
_ENV = "MALLOC_MMAP_THRESHOLD_"  # read by glibc when a process starts
_M_MMAP_THRESHOLD = -3  # mallopt parameter


def fix_mmap_threshold() -> bool:
    """Fix the threshold in this process (mallopt) and, through the environment, in every process it starts
    from now on (the local runner's workers, extraction children). A value the user set is left alone.
    Returns whether this process's threshold was set; False off Linux/glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        value = int(os.environ.setdefault(_ENV, str(MMAP_THRESHOLD)))
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, value))
    except (OSError, AttributeError, ValueError):  # not glibc (musl has no mallopt), or a value not a number
        return False
