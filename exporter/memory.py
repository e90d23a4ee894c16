"""glibc malloc tuning: keep resident memory close to the live data (Linux/glibc only; no-op elsewhere)."""

from __future__ import annotations

import ctypes
import gc

M_MMAP_THRESHOLD = -3


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def tune_malloc() -> None:
    """Serve big blocks (a scrape's family text) from mmap so that they go back to the OS when freed.

    glibc otherwise raises its mmap threshold after the first free of such a block and keeps
    later ones in the heap, so resident memory would hold the largest scrape ever served.
    """
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_MMAP_THRESHOLD, 256 * 1024)


def release_memory() -> None:
    """Collect garbage and return free heap pages (e.g. after the first sync's parsing)."""
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
