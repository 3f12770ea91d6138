"""Pause the cyclic garbage collector while a scan or a rendering allocates.

A scan of an environment keeps ~100,000 small objects alive (RECORD rows,
metadata) and rendering creates ~15,000 ``SortedSet``s; every generation-2
collection walks all of them, and the allocation rate triggers many. None of
this work creates garbage cycles worth collecting before it ends, so the
collector is paused for its duration (about a third of the CPU time of
``qprov sbom env``, see docs/adr/0011). It is re-enabled afterwards only if it
was enabled before; nesting is harmless.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic GC inside the ``with`` block (reference counting still frees)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
